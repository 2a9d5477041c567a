/** A client for GET /events/stream (server-sent events) over real HTTP. */
export interface StreamMessage {
  id: number;
  event: { event: string; [key: string]: unknown };
}

/** Reads an event stream over real HTTP, message by message. */
export async function openStream(url: string, headers: Record<string, string> = {}) {
  const controller = new AbortController();
  const response = await fetch(url, { headers, signal: controller.signal });
  const reader = (response.body as ReadableStream<Uint8Array>).getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  const next = async (): Promise<StreamMessage | null> => {
    for (;;) {
      const end = buffer.indexOf('\n\n');
      if (end !== -1) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const id = /^id: (\d+)$/m.exec(block);
        const data = /^data: (.*)$/m.exec(block);
        if (id !== null && data !== null) {
          return { id: Number(id[1]), event: JSON.parse(data[1] as string) };
        }
        continue; // retry: and keep-alive comments
      }
      const { value, done } = await reader.read();
      if (done) return null;
      buffer += decoder.decode(value, { stream: true });
    }
  };
  return { response, next, close: () => controller.abort() };
}
