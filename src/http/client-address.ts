/**
 * Whose request it is: the address that per-address bounds count
 * (MAX_CONNECTIONS_PER_ADDRESS, UNREAD_ANSWERS_PER_ADDRESS_MB). It is the
 * peer's address, unless the peer is a reverse proxy named in TRUST_PROXY:
 * then it is the address that proxy forwarded (`X-Forwarded-For`, read right
 * to left past every trusted proxy, as Fastify's `request.ip` reads it).
 * Loopback clients are not limited: without TRUST_PROXY, a proxy on the
 * same machine carries every client under one loopback address.
 */
import { BlockList, isIP } from 'node:net';
import type { AddressRange } from '../config.js';

export function isLoopback(address: string): boolean {
  return address === '::1' || address.startsWith('127.') || address.startsWith('::ffff:127.');
}

/** The reverse proxies TRUST_PROXY names. */
export class TrustedProxies {
  private readonly list = new BlockList();
  /** Whether TRUST_PROXY names none (request.ip is then the peer's address, at no cost). */
  readonly none: boolean;

  constructor(ranges: readonly AddressRange[]) {
    this.none = ranges.length === 0;
    for (const range of ranges) this.list.addSubnet(range.address, range.prefix, range.type);
  }

  /** Whether `address` (as a socket gives it: IPv4-mapped IPv6 too) is a trusted proxy. */
  trusts(address: string): boolean {
    if (this.none) return false;
    const unmapped = address.startsWith('::ffff:') ? address.slice(7) : address;
    const family = isIP(unmapped);
    return family !== 0 && this.list.check(unmapped, family === 6 ? 'ipv6' : 'ipv4');
  }
}
