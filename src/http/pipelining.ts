/**
 * A bound on HTTP/1.1 pipelining. Node parses every request a client has
 * sent, and the handlers run at once: a client that sends thousands of
 * requests down one socket without reading makes the service build thousands
 * of answers in memory. Here a connection may have at most
 * MAX_PIPELINED_REQUESTS requests in progress; the ones parsed beyond them
 * wait their turn (they are answered in order anyway), and the socket is not
 * read again until the queue is short. What one socket can make the service
 * hold is then a few answers and one read's worth of small requests.
 */
import type { Socket } from 'node:net';
import type { FastifyInstance, FastifyRequest } from 'fastify';

declare module 'fastify' {
  interface FastifyRequest {
    holdsPipelineSlot: boolean;
  }
}

interface Connection {
  active: number;
  waiting: (() => void)[];
  paused: boolean;
}

/**
 * `admit`, for the app's onRequest hook: it calls `done` at once while the
 * connection has a free slot, else once one is released; `release`, for
 * its onResponse hook (one hook for all that a response ends); and `idle`:
 * whether a connection has no request in progress.
 */
export function limitPipelining(
  app: FastifyInstance,
  maxInProgress: number,
): {
  admit: (request: FastifyRequest, done: () => void) => void;
  release: (request: FastifyRequest) => void;
  idle: (socket: Socket) => boolean;
} {
  const connections = new WeakMap<Socket, Connection>();
  // Whether this request holds a slot: one refused before it is admitted (by
  // a request guard, or a URL that cannot be decoded) is answered without one.
  app.decorateRequest('holdsPipelineSlot', false);

  const admit = (request: FastifyRequest, done: () => void): void => {
    request.holdsPipelineSlot = true;
    const socket = request.raw.socket;
    let connection = connections.get(socket);
    if (connection === undefined) {
      connection = { active: 0, waiting: [], paused: false };
      connections.set(socket, connection);
    }
    if (connection.active < maxInProgress) {
      connection.active++;
      done();
      return;
    }
    if (!connection.paused) {
      connection.paused = true;
      socket.pause();
    }
    connection.waiting.push(done);
  };

  // Every answered request passes here. Those that are not (a hijacked event
  // stream, a request whose client went away) end with their connection.
  const release = (request: FastifyRequest): void => {
    if (!request.holdsPipelineSlot) return;
    const socket = request.raw.socket;
    const connection = connections.get(socket);
    if (connection === undefined) return;
    const next = connection.waiting.shift();
    if (next !== undefined) {
      next(); // the slot passes on: `active` stays
      return;
    }
    connection.active--;
    if (connection.paused) {
      connection.paused = false;
      socket.resume();
    }
  };
  // Whether a connection has no request in progress (health-fast-path.ts).
  const idle = (socket: Socket): boolean => (connections.get(socket)?.active ?? 0) === 0;
  return { admit, release, idle };
}
