/**
 * A share of MAX_CONNECTIONS one client address may hold: without it, one
 * machine opening MAX_CONNECTIONS idle connections shuts every other client
 * out until they time out. A connection past MAX_CONNECTIONS_PER_ADDRESS is
 * closed at once, as Node closes those past MAX_CONNECTIONS.
 *
 * Loopback addresses are not limited: the clients on the service's own
 * machine, a reverse proxy there among them, share its whole capacity; nor
 * are the proxies TRUST_PROXY names, which carry many clients each (a
 * connection is counted before any header, so by the peer's address). An
 * address is the whole address: a client with many IPv6 addresses (a /64)
 * is many clients here.
 */
import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import { isLoopback, TrustedProxies } from './client-address.js';
import { OnceASecond } from './once-a-second.js';

export function limitConnectionsPerAddress(
  server: Server,
  maxPerAddress: number,
  /** Told, at most once a second, how many connections were refused. */
  say: (fields: Record<string, number | string>) => void = () => undefined,
  proxies: TrustedProxies = new TrustedProxies([]),
): void {
  const open = new Map<string, number>();
  const refused = new OnceASecond(say);
  server.on('connection', (socket: Socket) => {
    const address = socket.remoteAddress;
    if (address === undefined || isLoopback(address) || proxies.trusts(address)) return;
    const count = open.get(address) ?? 0;
    if (count >= maxPerAddress) {
      socket.destroy();
      refused.note({ address, limit: maxPerAddress });
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
