/** A command given wrongly (an unknown flag, a missing id, flags that contradict): exit 2, the message and the usage. */
export class UsageError extends Error {}

/** A flag's whole number, at least `min` and at most `max` (a usage error, before any request). */
export function wholeNumber(
  flag: string,
  value: string | undefined,
  min = 0,
  max = Number.MAX_SAFE_INTEGER,
): number | undefined {
  if (value === undefined) return undefined;
  const number = /^\d{1,15}$/.test(value) ? Number(value) : Number.NaN;
  if (!(number >= min && number <= max)) {
    let range = `a whole number from ${min} to ${max}`;
    if (max === Number.MAX_SAFE_INTEGER)
      range = min > 0 ? `a whole number, ${min} or more` : 'a whole number';
    throw new UsageError(`--${flag} must be ${range}.`);
  }
  return number;
}
