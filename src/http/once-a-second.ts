/**
 * Says how many times something happened at most once a second: a flood of
 * refused connections is one log line a second, not one each. What happens
 * after the last line is said with the next one.
 */
export class OnceASecond {
  private unsaid = 0;
  private lastSaid = Number.NEGATIVE_INFINITY;

  constructor(
    /** Told the latest `fields` and how many `connections` since the last time. */
    private readonly say: (fields: Record<string, number | string>) => void,
    private readonly now: () => number = () => performance.now(),
  ) {}

  note(fields: Record<string, number | string>, connections = 1): void {
    this.unsaid += connections;
    const now = this.now();
    if (now - this.lastSaid < 1000) return;
    this.say({ ...fields, connections: this.unsaid });
    this.unsaid = 0;
    this.lastSaid = now;
  }
}
