/**
 * The one place errors become HTTP answers: `{"error":"<code>","message":"…"}`
 * with the status the error carries. Fastify's own client errors (body too
 * large, bad headers) keep their status with a readable code; anything
 * unexpected is logged and answered 500 without internals.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { FastifyError, FastifyInstance } from 'fastify';
import FindMyWay, { type HTTPMethod } from 'find-my-way';
import {
  AppError,
  InvalidInputError,
  NotFoundError,
  UnsupportedMediaTypeError,
} from '../domain/errors.js';

/** An error answer's status and code (the domain's error classes have both as statics). */
export interface ErrorKind {
  readonly code: string;
  readonly status: number;
}

// The error answers this layer gives itself, beside the domain's errors.
export const BadRequest = { code: 'bad_request', status: 400 } as const;
export const PayloadTooLarge = { code: 'payload_too_large', status: 413 } as const;
export const MethodNotAllowed = { code: 'method_not_allowed', status: 405 } as const;
export const RequestTimeout = { code: 'request_timeout', status: 408 } as const;
export const HeadersTooLarge = { code: 'headers_too_large', status: 431 } as const;
export const ExpectationFailed = { code: 'expectation_failed', status: 417 } as const;
/** What every request but GET /health and GET / gets while the service starts (starting.ts). */
export const Starting = { code: 'starting', status: 503 } as const;

/** The longest path parameter the router takes (a longer id is a 404, not a 414). */
export const MAX_PARAM_LENGTH = 16 * 1024;

const FASTIFY_CODES: Record<string, string> = {
  FST_ERR_CTP_BODY_TOO_LARGE: PayloadTooLarge.code,
  FST_ERR_CTP_INVALID_MEDIA_TYPE: UnsupportedMediaTypeError.code,
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: InvalidInputError.code,
  FST_ERR_CTP_EMPTY_JSON_BODY: InvalidInputError.code,
  FST_ERR_CTP_INVALID_JSON_BODY: InvalidInputError.code,
};

/** 503s that refuse work under load or while stopping: said once by what refuses them, not logged each. */
const LOAD_REFUSALS = new Set(['too_busy', 'too_many_streams', 'stopping']);

export function registerErrorHandlers(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError, request, reply) => {
    if (error instanceof AppError) {
      if (error.statusCode >= 500 && !LOAD_REFUSALS.has(error.code)) {
        request.log.warn({ err: error }, 'storage error');
      }
      return reply
        .code(error.statusCode)
        .send({ error: error.code, message: error.message, ...error.details });
    }
    if (error.validation !== undefined) {
      return reply
        .code(InvalidInputError.status)
        .send({ error: InvalidInputError.code, message: error.message });
    }
    const status = error.statusCode ?? 500;
    if (status >= 400 && status < 500) {
      const code = FASTIFY_CODES[error.code] ?? BadRequest.code;
      const message =
        code === PayloadTooLarge.code ? 'The body is larger than 1 MiB.' : error.message;
      return reply.code(status).send({ error: code, message });
    }
    request.log.error({ err: error }, 'unexpected error');
    return reply
      .code(500)
      .send({ error: 'internal_error', message: 'An unexpected error occurred; it was logged.' });
  });

  // The paths the app serves, to tell a method a path lacks (405) from a path it lacks (404).
  const paths = FindMyWay({ maxParamLength: MAX_PARAM_LENGTH });
  const methods = new Set<HTTPMethod>();
  app.addHook('onRoute', (route) => {
    for (const method of [route.method].flat() as HTTPMethod[]) {
      if (paths.hasRoute(method, route.url)) continue;
      paths.on(method, route.url, () => undefined);
      methods.add(method);
    }
  });
  app.setNotFoundHandler((request, reply) => {
    const target = request.url.split('?')[0] ?? '';
    const path = target.slice(0, 200);
    const allowed = [...methods].filter((method) => paths.find(method, target) !== null).sort();
    // A route that takes the method and found nothing under the path (a
    // static file that is not there) calls this too: that is a 404.
    const takes =
      allowed.includes(request.method as HTTPMethod) ||
      (request.method === 'HEAD' && allowed.includes('GET'));
    if (allowed.length > 0 && !takes) {
      reply
        .code(MethodNotAllowed.status)
        .header('allow', allowed.join(', '))
        .send({
          error: MethodNotAllowed.code,
          message: `${request.method.slice(0, 20)} is not served at ${path}: it takes ${allowed.join(', ')}.`,
        });
      return;
    }
    reply.code(NotFoundError.status).send({
      error: NotFoundError.code,
      message: `No route for ${request.method} ${path}.`,
    });
  });
}

const CLIENT_ERRORS: Record<string, [number, string, string, string]> = {
  HPE_HEADER_OVERFLOW: [
    HeadersTooLarge.status,
    'Request Header Fields Too Large',
    HeadersTooLarge.code,
    'The request headers are larger than 16 KiB.',
  ],
  ERR_HTTP_REQUEST_TIMEOUT: [
    RequestTimeout.status,
    'Request Timeout',
    RequestTimeout.code,
    'The request did not arrive in time.',
  ],
};

function answerOnSocket(
  socket: Duplex,
  status: number,
  reason: string,
  code: string,
  message: string,
): void {
  const body = JSON.stringify({ error: code, message });
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Type: application/json\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
}

/** CONNECT never reaches Fastify: Node would close the socket without a word. */
export function refuseConnect(_request: IncomingMessage, socket: Duplex): void {
  // A client that resets the connection before the answer: nothing to tell anyone.
  socket.on('error', () => undefined);
  answerOnSocket(
    socket,
    MethodNotAllowed.status,
    'Method Not Allowed',
    MethodNotAllowed.code,
    'This service is not a proxy: CONNECT is not served.',
  );
}

/**
 * Errors Node's HTTP parser raises before Fastify sees a request (malformed
 * requests, oversized headers, timeouts): answered on the raw socket in the
 * same JSON shape as every other error.
 */
export function clientErrorHandler(error: Error & { code?: string }, socket: Duplex): void {
  if (error.code === 'ECONNRESET' || !socket.writable) return;
  const [status, reason, code, message] = CLIENT_ERRORS[error.code ?? ''] ?? [
    BadRequest.status,
    'Bad Request',
    BadRequest.code,
    'The request is not valid HTTP.',
  ];
  answerOnSocket(socket, status, reason, code, message);
}

/**
 * An `Expect` other than `100-continue`: Node answers a bare 417 unless the
 * server listens for it; this gives it the JSON body every other error has.
 */
export function answerUnmetExpectation(_request: IncomingMessage, response: ServerResponse): void {
  const body = JSON.stringify({
    error: ExpectationFailed.code,
    message: 'The only Expect this service meets is "100-continue".',
  });
  response.writeHead(ExpectationFailed.status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    connection: 'close',
  });
  response.end(body);
}
