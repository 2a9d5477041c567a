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
import type { FastifyInstance } from 'fastify';

interface Connection {
  active: number;
  waiting: (() => void)[];
  paused: boolean;
}

export function limitPipelining(app: FastifyInstance, maxInProgress: number): void {
  const connections = new WeakMap<Socket, Connection>();
  const finished = new WeakSet<object>();

  const release = (socket: Socket, request: object) => {
    if (finished.has(request)) return;
    finished.add(request);
    const connection = connections.get(socket);
    if (connection === undefined) return;
    const next = connection.waiting.shift();
    if (next !== undefined) {
      next(); // its slot passes on: `active` stays
      return;
    }
    connection.active--;
    if (connection.paused) {
      connection.paused = false;
      socket.resume();
    }
  };

  app.addHook('onRequest', (request, reply, done) => {
    const socket = request.raw.socket;
    let connection = connections.get(socket);
    if (connection === undefined) {
      connection = { active: 0, waiting: [], paused: false };
      connections.set(socket, connection);
    }
    // Hijacked answers (event streams) never reach onResponse.
    reply.raw.once('close', () => release(socket, request));
    if (connection.active < maxInProgress) {
      connection.active++;
      done();
      return;
    }
    if (!connection.paused) {
      connection.paused = true;
      socket.pause();
    }
    connection.waiting.push(() => done());
  });
}
