/**
 * A share of MAX_CONNECTIONS one client address may hold: without it, one
 * machine opening MAX_CONNECTIONS idle connections shuts every other client
 * out until they time out. A connection past MAX_CONNECTIONS_PER_ADDRESS is
 * closed at once, as Node closes those past MAX_CONNECTIONS.
 *
 * Loopback addresses are not limited: the clients on the service's own
 * machine, a reverse proxy there among them, share its whole capacity (a
 * proxy elsewhere: set MAX_CONNECTIONS_PER_ADDRESS to MAX_CONNECTIONS).
 */
import type { Server } from 'node:http';
import type { Socket } from 'node:net';

function isLoopback(address: string): boolean {
  return address === '::1' || address.startsWith('127.') || address.startsWith('::ffff:127.');
}

export function limitConnectionsPerAddress(
  server: Server,
  maxPerAddress: number,
  /** Told, at most once a second, how many connections were refused. */
  say: (fields: Record<string, number | string>) => void = () => undefined,
): void {
  const open = new Map<string, number>();
  let refusedUnsaid = 0;
  let lastSaid = Number.NEGATIVE_INFINITY;
  server.on('connection', (socket: Socket) => {
    const address = socket.remoteAddress;
    if (address === undefined || isLoopback(address)) return;
    const count = open.get(address) ?? 0;
    if (count >= maxPerAddress) {
      socket.destroy();
      refusedUnsaid++;
      const now = performance.now();
      if (now - lastSaid >= 1000) {
        say({ address, connections: refusedUnsaid, limit: maxPerAddress });
        refusedUnsaid = 0;
        lastSaid = now;
      }
      return;
    }
    open.set(address, count + 1);
    socket.once('close', () => {
      const left = (open.get(address) ?? 1) - 1;
      if (left > 0) open.set(address, left);
      else open.delete(address);
    });
  });
}
