/**
 * The port while the service starts: bound before the store is opened (a
 * boot after a kill replays the journal, a takeover reads every file), it
 * answers every request 503 with what the boot is doing, so a client, a
 * health check or the dashboard can tell "starting" from "nobody there".
 * `GET /health` answers `{"status":"starting",…}`; anything else
 * `{"error":"starting","message":…}`; a browser asking for `/` gets a page
 * that reloads itself. It changes nothing and reads nothing from clients;
 * once the service is ready the app listens on its socket (`handle()`) and
 * it stops answering (`release()`): the port is never free in between.
 */
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CONTENT_SECURITY_POLICY } from './dashboard.js';
import { Starting } from './errors.js';

/** What the boot last said it was doing (the store's "starting" report). */
export type StartingProgress = () => Record<string, unknown>;

export interface StartingServer {
  /** The port bound (PORT=0 picks one: the app listens on the same). */
  port: number;
  /** The address bound (HOST resolved). */
  address: string;
  /** Stops answering and frees the port (its connections are closed). */
  close(): Promise<void>;
  /**
   * The listening socket, for the app to listen on (`listen({ handle })`),
   * so the port is never free between the two: after the app has taken it,
   * `release()` stops this server's answers without closing the socket.
   */
  handle(): object;
  release(): Promise<void>;
}

/** A server's listening socket: Node's `listen(handle)` takes it, as a cluster worker's does. */
interface WithHandle {
  _handle: object | null;
}

const PAGE = `<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta http-equiv="refresh" content="1"><title>Stateful service: starting</title></head>
<body><p>The service is starting (reading its data); this page reloads by itself.</p></body></html>
`;

function answer(response: ServerResponse, type: string, body: string): void {
  response.writeHead(Starting.status, {
    'content-type': type,
    'cache-control': 'no-store',
    'retry-after': '1',
    'content-security-policy': CONTENT_SECURITY_POLICY,
    'x-content-type-options': 'nosniff',
    connection: 'close',
  });
  response.end(body);
}

export async function answerWhileStarting(
  host: string,
  port: number,
  progress: StartingProgress,
): Promise<StartingServer> {
  const started = performance.now();
  const server: Server = createServer((request, response) => {
    request.resume(); // a body is never read
    const seconds = Math.round((performance.now() - started) / 100) / 10;
    const detail: Record<string, unknown> = { ...progress(), seconds };
    const path = (request.url ?? '/').split('?')[0];
    if (path === '/health') {
      answer(
        response,
        'application/json; charset=utf-8',
        JSON.stringify({ status: 'starting', ...detail }),
      );
    } else if (path === '/' && request.method === 'GET') {
      answer(response, 'text/html; charset=utf-8', PAGE);
    } else {
      const phase = typeof detail.phase === 'string' ? `: ${detail.phase}` : '';
      answer(
        response,
        'application/json; charset=utf-8',
        JSON.stringify({
          error: Starting.code,
          message: `The service is starting (${seconds} s${phase}); retry in a moment.`,
          progress: detail,
        }),
      );
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const bound = server.address() as AddressInfo;
  const close = () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  return {
    port: bound.port,
    address: bound.address,
    close,
    handle() {
      const handle = (server as unknown as WithHandle)._handle;
      if (handle === null) throw new Error('the starting answer is no longer listening');
      return handle;
    },
    release() {
      // The socket is the app's now: closing this server must not close it.
      (server as unknown as WithHandle)._handle = null;
      return close();
    },
  };
}
