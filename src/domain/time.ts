/**
 * Time as the original implementation wrote it: UTC with one-second resolution
 * (`YYYY-MM-DDTHH:MM:SSZ`) for people, epoch seconds with a fraction for `ts`.
 */

/** Now, in epoch milliseconds: Date.now, or a clock a test moves. */
export type Clock = () => number;

/** The last second formatted, and its text: a write formats the time two or three times. */
let formattedSecond = Number.NaN;
let formattedText = '';

export function utcTimestamp(date: Date = new Date()): string {
  const second = Math.floor(date.getTime() / 1000);
  if (second !== formattedSecond) {
    // An invalid date (NaN) is never cached: toISOString throws for it.
    formattedText = `${date.toISOString().slice(0, 19)}Z`;
    formattedSecond = second;
  }
  return formattedText;
}

export function epochSeconds(date: Date = new Date()): number {
  return date.getTime() / 1000;
}
