/**
 * An idempotent flush (an fsync, a rewrite of a file from memory, a
 * checkpoint, a snapshot) shared by its callers, as a group commit is:
 * callers that arrive while a flush runs share the next one, so N
 * concurrent writers cost two flushes, not N. A caller's promise resolves only
 * after a flush that started after the call, so it covers the caller's change.
 * Flushes never overlap: a rewrite can never land an older state last.
 */
export class SharedFlush {
  private running: Promise<void> | null = null;
  private queued: Promise<void> | null = null;

  constructor(private readonly flush: () => Promise<void>) {}

  run(): Promise<void> {
    if (this.running === null) {
      this.running = this.start();
      return this.running;
    }
    if (this.queued === null) {
      const settled = this.running.then(
        () => undefined,
        () => undefined,
      );
      this.queued = settled.then(() => {
        this.queued = null;
        this.running = this.start();
        return this.running;
      });
    }
    return this.queued;
  }

  private async start(): Promise<void> {
    try {
      await this.flush();
    } finally {
      // A queued flush takes over `running` itself; only clear it when idle.
      if (this.queued === null) this.running = null;
    }
  }
}
