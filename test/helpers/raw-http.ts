/**
 * Raw HTTP over a plain socket, for requests fetch will not send (NUL bytes,
 * bad encodings, any header) and for answers a server gives before it reads
 * the body. Behaves like curl: never half-closes (Node drops the answer to a
 * client that shut its side early), and waits a moment before sending a large
 * body, because a server that answers on the headers alone (a 413, a 404)
 * closes the connection, and a body sent into it would reset it and lose the
 * answer.
 */
import { connect } from 'node:net';

export interface RawRequest {
  method: string;
  path: string;
  headers: [string, string][];
  body: Buffer;
}

/** Resolves with the answer's status code, or 0 when the connection closed without one. */
export async function sendRaw(url: string, raw: RawRequest): Promise<number> {
  return (await sendRawAnswer(url, raw)).status;
}

/**
 * Resolves with the answer's status (0 when the connection closed without
 * one) and its body as text. A Host header among `raw.headers` replaces the
 * one that names the URL's host.
 */
export function sendRawAnswer(
  url: string,
  raw: RawRequest,
): Promise<{ status: number; body: string }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname);
    let received = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no answer within 15 s to ${raw.method} ${raw.path.slice(0, 80)}`));
    }, 15_000);
    socket.on('data', (chunk) => {
      received += chunk.toString('latin1');
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      const match = /^HTTP\/1\.1 (\d{3})/.exec(received);
      const bodyStart = received.indexOf('\r\n\r\n');
      resolve({
        status: match === null ? 0 : Number(match[1]),
        body: bodyStart === -1 ? '' : received.slice(bodyStart + 4),
      });
    });
    const head = [
      `${raw.method} ${raw.path} HTTP/1.1`,
      ...(raw.headers.some(([name]) => name.toLowerCase() === 'host') ? [] : [`Host: ${hostname}`]),
      'Connection: close',
      ...raw.headers.map(([name, value]) => `${name}: ${value}`),
      `Content-Length: ${raw.body.length}`,
      '',
      '',
    ].join('\r\n');
    socket.write(Buffer.from(head, 'latin1'));
    if (raw.body.length > 64 * 1024) {
      setTimeout(() => {
        if (received === '') socket.write(raw.body);
      }, 200);
    } else {
      socket.write(raw.body);
    }
  });
}
