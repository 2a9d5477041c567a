/**
 * Cleaning up after a failure without losing either failure: the operation's
 * own error is the one thrown (its type decides the answer: 507, 503, …), and
 * whatever the cleanup could not undo is attached to it as
 * `cleanup_failures`, so the log line of that error shows both.
 */
export async function cleanUpAfter(
  failure: unknown,
  ...steps: readonly (() => Promise<unknown>)[]
): Promise<void> {
  const failed: unknown[] = [];
  for (const step of steps) {
    try {
      await step();
    } catch (error) {
      failed.push(error);
    }
  }
  if (failed.length > 0 && typeof failure === 'object' && failure !== null) {
    const holder = failure as { cleanup_failures?: unknown[] };
    holder.cleanup_failures = [...(holder.cleanup_failures ?? []), ...failed];
  }
}
