/**
 * Time as the original implementation wrote it: UTC with one-second resolution
 * (`YYYY-MM-DDTHH:MM:SSZ`) for people, epoch seconds with a fraction for `ts`.
 */
export function utcTimestamp(date: Date = new Date()): string {
  return `${date.toISOString().slice(0, 19)}Z`;
}

export function epochSeconds(date: Date = new Date()): number {
  return date.getTime() / 1000;
}
