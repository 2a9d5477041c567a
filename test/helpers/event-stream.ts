/** A client for GET /events/stream (server-sent events) over real HTTP. */
export interface StreamMessage {
  id: number;
  event: { event: string; [key: string]: unknown };
}

/** Reads an event stream over real HTTP, message by message: events, and `state` messages apart. */
export async function openStream(url: string, headers: Record<string, string> = {}) {
  const controller = new AbortController();
  const response = await fetch(url, { headers, signal: controller.signal });
  const reader = (response.body as ReadableStream<Uint8Array>).getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  const events: StreamMessage[] = [];
  const states: Record<string, unknown>[] = [];
  /** Reads one more message into its queue; false at the end of the stream. */
  const readOne = async (): Promise<boolean> => {
    for (;;) {
      const end = buffer.indexOf('\n\n');
      if (end !== -1) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const id = /^id: (\d+)$/m.exec(block);
        const data = /^data: (.*)$/m.exec(block);
        if (data === null) continue; // retry: and keep-alive comments
        if (/^event: state$/m.test(block)) states.push(JSON.parse(data[1] as string));
        else if (id !== null)
          events.push({ id: Number(id[1]), event: JSON.parse(data[1] as string) });
        return true;
      }
      const { value, done } = await reader.read();
      if (done) return false;
      buffer += decoder.decode(value, { stream: true });
    }
  };
  /** The next event (state messages are kept for nextState). */
  const next = async (): Promise<StreamMessage | null> => {
    while (events.length === 0) if (!(await readOne())) return null;
    return events.shift() ?? null;
  };
  /** The next `state` message (events are kept for next). */
  const nextState = async (): Promise<Record<string, unknown> | null> => {
    while (states.length === 0) if (!(await readOne())) return null;
    return states.shift() ?? null;
  };
  return { response, next, nextState, states, close: () => controller.abort() };
}
