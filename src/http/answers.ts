/**
 * The error answers of a route's schema, built from the error kinds
 * themselves (the domain's error classes and this layer's in errors.ts), so
 * the document's codes are the ones the service sends: each status lists its
 * codes (an enum on the Error shape) with an example each. `guardRefusals`
 * are the ones every request may get before its route runs (request-guards,
 * the body reader, the bounds on unread answers, a stopping service, Node's
 * own limits), by kind of route.
 */
import { type TSchema, Type } from '@sinclair/typebox';
import {
  ForbiddenError,
  InvalidInputError,
  StoppingError,
  TooBusyError,
  UnsupportedMediaTypeError,
} from '../domain/errors.js';
import {
  BadRequest,
  type ErrorKind,
  ExpectationFailed,
  HeadersTooLarge,
  PayloadTooLarge,
  RequestTimeout,
  Starting,
} from './errors.js';
import { MAX_NESTING } from './json-body.js';
import type { ErrorAnswer } from './schemas.js';

/** One error a route may answer: its kind, and when (the example's message). */
export interface Refusal {
  kind: ErrorKind;
  when: string;
}

export function refusal(kind: ErrorKind, when: string): Refusal {
  return { kind, when };
}

/** A 403 (its code names which refusal it is). */
export function forbidden(code: (typeof ForbiddenError.codes)[number]): ErrorKind {
  return { code, status: ForbiddenError.status };
}

/** The response schemas of these refusals, by status: `{ 404: …, 503: … }`. */
export function errorAnswers(...refusals: readonly Refusal[]): Record<number, TSchema> {
  const byStatus = new Map<number, Refusal[]>();
  for (const one of refusals) {
    const same = byStatus.get(one.kind.status) ?? [];
    if (!same.some((other) => other.kind.code === one.kind.code && other.when === one.when)) {
      same.push(one);
    }
    byStatus.set(one.kind.status, same);
  }
  const answers: Record<number, TSchema> = {};
  for (const [status, same] of [...byStatus].sort(([a], [b]) => a - b)) {
    const codes = [...new Set(same.map((one) => one.kind.code))];
    const description = codes
      .map((code) => {
        const whens = same.filter((one) => one.kind.code === code).map((one) => one.when);
        return `\`${code}\`: ${whens.join('; ')}`;
      })
      .join('. ');
    answers[status] = Type.Unsafe<ErrorAnswer>({
      description,
      allOf: [
        { $ref: 'Error' },
        { type: 'object', properties: { error: { type: 'string', enum: codes } } },
      ],
      examples: same.map((one) => ({ error: one.kind.code, message: one.when })),
    });
  }
  return answers;
}

/** What a route does with a request, for the refusals every request of that kind may get. */
export type RouteKind = 'health' | 'read' | 'write';

/** The refusals any request of this kind may get before (or instead of) its route. */
export function guardRefusals(kind: RouteKind): Refusal[] {
  const refusals = [
    refusal(InvalidInputError, 'no Host header, or one that is not a host name, or two'),
    refusal(BadRequest, 'the request is not valid HTTP'),
    refusal(forbidden('host_not_allowed'), 'the Host is not in ALLOWED_HOSTS'),
    refusal(RequestTimeout, 'the request did not arrive within REQUEST_TIMEOUT_MS'),
    refusal(UnsupportedMediaTypeError, 'a Content-Encoding other than identity'),
    refusal(ExpectationFailed, 'an Expect other than 100-continue'),
    refusal(HeadersTooLarge, 'the headers are over 16 KiB'),
    refusal(StoppingError, 'the service is stopping; retry after Retry-After seconds'),
  ];
  if (kind !== 'health') {
    refusals.push(
      refusal(TooBusyError, 'unread answers fill UNREAD_ANSWERS_MB; retry after Retry-After'),
      refusal(Starting, 'the service is still starting (`progress` says how far); retry'),
    );
  }
  if (kind === 'write') {
    refusals.push(
      refusal(forbidden('cross_site_request'), 'a write a browser sent from another site'),
      refusal(
        InvalidInputError,
        `the body is not JSON, not UTF-8, or nested deeper than ${MAX_NESTING} levels`,
      ),
      refusal(PayloadTooLarge, 'the body is over 1 MiB'),
    );
  }
  return refusals;
}

/** A route's error answers: its own refusals, then those of every request of its kind. */
export function routeErrors(kind: RouteKind, ...own: readonly Refusal[]): Record<number, TSchema> {
  return errorAnswers(...own, ...guardRefusals(kind));
}

/**
 * For the parts of a request the domain validates itself, with its own
 * messages (tests and the README rely on them): the route's schema still
 * declares them, for the document, and Fastify is told not to check them twice.
 */
export const checkedByTheDomain = () => () => true;
