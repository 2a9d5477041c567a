/**
 * The checks every request passes before a route sees it: where it comes from and
 * what its body is wrapped in. They keep pages on other sites from driving
 * the service through a visitor's browser, which sends such requests without
 * asking (a form POST, a `no-cors` fetch), and they keep a DNS name an
 * attacker controls from being pointed at it (DNS rebinding).
 *
 * - Host: the name a request was sent to must be in ALLOWED_HOSTS (any port).
 *   HTTP/1.1 requires a Host (a JSON 400 without one); an HTTP/1.0 request
 *   with none (a load balancer's health probe) passes. A Host that is not an
 *   authority (`a@b`, `a b`, a port over 65535), sent twice, or that
 *   disagrees with an absolute-form target (`GET http://other/ HTTP/1.1`,
 *   whose authority is the one that counts, RFC 9112 §3.2.2) is a JSON 400:
 *   which name was meant cannot be told.
 * - Cross-site writes: POST, PUT, PATCH and DELETE are refused when the
 *   browser says they come from another site (`Sec-Fetch-Site: cross-site`
 *   or `same-site`) or their `Origin` is not the service's own. Clients that
 *   send neither header (curl, the CLI, other services) are not browsers
 *   acting for someone else, and pass.
 * - Content-Encoding: bodies are read as they come; a compressed one is a
 *   415, not a confusing "not valid UTF-8".
 */
import type { IncomingMessage } from 'node:http';
import type { FastifyRequest } from 'fastify';
import { ForbiddenError, InvalidInputError, UnsupportedMediaTypeError } from '../domain/errors.js';

const WRITES = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** The host name of a Host header or an origin's authority: lower case, no port, no brackets. */
function hostName(authority: string): string {
  const lower = authority.trim().toLowerCase();
  if (lower.startsWith('[')) return lower.slice(1, lower.indexOf(']'));
  const colon = lower.lastIndexOf(':');
  return colon === -1 ? lower : lower.slice(0, colon);
}

/** A URL, or null for what is none ("null": a sandboxed page, a file; garbage). */
function parseUrl(url: string): URL | null {
  try {
    return new URL(url);
  } catch {
    return null;
  }
}

/** `host:port` of a URL as the URL parser writes it (no default port), or null if it is none. */
function authority(url: string): string | null {
  return parseUrl(url)?.host || null;
}

/** Host headers one guard remembers as allowed (clients send the same few): no parsing for them. */
const MAX_KNOWN_GOOD = 64;

/** `host[:port]` as RFC 3986 writes an authority without userinfo: a name, IPv4, or [IPv6]. */
const AUTHORITY = /^(?:\[[0-9a-f:.]+\]|[a-z0-9\-._~%!$&'()*+,;=]+)(?::(\d{0,5}))?$/i;

function isAuthority(host: string): boolean {
  const match = AUTHORITY.exec(host);
  return match !== null && (match[1] === undefined || match[1] === '' || Number(match[1]) <= 65535);
}

/** How many Host header lines the request had (Node keeps the first of several). */
function hostLines(rawHeaders: readonly string[]): number {
  let count = 0;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i] as string;
    if (name.length === 4 && name.toLowerCase() === 'host') count++;
  }
  return count;
}

/** Whether a request target is in absolute form (`http://host:port/path`), not `/path` or `*`. */
function isAbsoluteForm(target: string): boolean {
  return target.charCodeAt(0) !== 0x2f && target !== '*';
}

/** The Host check for one ALLOWED_HOSTS list (null: any host), of a request as Node parsed it. */
export function hostGuard(
  allowedHosts: readonly string[] | null,
): (request: IncomingMessage) => void {
  const knownGood = new Set<string>();
  return (request) => {
    if (hostLines(request.rawHeaders) > 1) {
      throw new InvalidInputError('The request has more than one Host header.');
    }
    let host = request.headers.host;
    const target = request.url ?? '/';
    if (isAbsoluteForm(target)) {
      // The target's authority is the one that counts; a Host must agree with it.
      const named = parseUrl(target);
      const header = host === undefined || host === '' ? null : host;
      if (
        named === null ||
        (header !== null && authority(`${named.protocol}//${header}`) !== named.host)
      ) {
        throw new InvalidInputError(
          'The request target names another host than its Host header (or none it can be read as).',
        );
      }
      host = header ?? named.host;
    }
    if (host !== undefined && knownGood.has(host)) return;
    if (host === undefined || host === '') {
      if (request.httpVersion === '1.0') return;
      throw new InvalidInputError('An HTTP/1.1 request needs a Host header.');
    }
    if (!isAuthority(host)) {
      throw new InvalidInputError(
        `The Host header "${host.slice(0, 100)}" is not a host name with an optional port.`,
      );
    }
    if (allowedHosts === null) {
      if (knownGood.size < MAX_KNOWN_GOOD) knownGood.add(host);
      return;
    }
    if (!allowedHosts.includes(hostName(host))) {
      throw new ForbiddenError(
        'host_not_allowed',
        `This service does not answer to the host "${host.slice(0, 100)}"; ` +
          'add it to ALLOWED_HOSTS if it should.',
      );
    }
    if (knownGood.size < MAX_KNOWN_GOOD) knownGood.add(host);
  };
}

export function checkCrossSite(request: FastifyRequest): void {
  if (!WRITES.has(request.method)) return;
  const site = request.headers['sec-fetch-site'];
  const origin = request.headers.origin;
  let foreign = site === 'cross-site' || site === 'same-site';
  if (!foreign && origin !== undefined) {
    foreign =
      authority(origin) === null ||
      authority(origin) !== authority(`http://${request.headers.host}`);
  }
  if (foreign) {
    throw new ForbiddenError(
      'cross_site_request',
      `${request.method} requests from another site are refused: ` +
        'send them from the dashboard, the CLI or a client that is not a browser.',
    );
  }
}

/**
 * Every body is read as JSON whatever its Content-Type; the one type refused
 * is a JSON Patch (RFC 6902) sent to PATCH, which takes a JSON Merge Patch:
 * read as a merge patch, its array would mean something else.
 */
export function checkPatchMediaType(request: FastifyRequest): void {
  if (request.method !== 'PATCH') return;
  if (/json-patch\+json/i.test(request.headers['content-type'] ?? '')) {
    throw new UnsupportedMediaTypeError(
      'PATCH takes a JSON Merge Patch (RFC 7396, application/merge-patch+json), not a JSON Patch (RFC 6902).',
    );
  }
}

export function checkContentEncoding(request: FastifyRequest): void {
  const encoding = request.headers['content-encoding'];
  if (encoding === undefined) return;
  if (encoding.trim().toLowerCase() !== 'identity') {
    throw new UnsupportedMediaTypeError(
      `Content-Encoding "${encoding.slice(0, 40)}" is not supported: send the body uncompressed.`,
    );
  }
}
