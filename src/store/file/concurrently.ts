/** Runs `task` over `items` with at most `limit` running at a time; rejects with the first failure. */
export async function forEachConcurrently<T>(
  items: Iterable<T>,
  limit: number,
  task: (item: T) => Promise<void>,
): Promise<void> {
  const queue = Array.from(items);
  let next = 0;
  const worker = async () => {
    while (next < queue.length) await task(queue[next++] as T);
  };
  await Promise.all(Array.from({ length: Math.min(limit, queue.length) }, worker));
}
