/**
 * Request bodies: JSON whatever the Content-Type says (the original's clients
 * send `curl -d` bodies as form data), valid UTF-8, at most MAX_NESTING deep
 * (so serialising them can never overflow the stack). An empty body is no
 * body. Everything else is a 400 before any handler runs, on a connection
 * that stays open (see RefusedBody).
 */
import { InvalidInputError, withoutStacks } from '../domain/errors.js';

export const MAX_NESTING = 64;

const utf8 = new TextDecoder('utf-8', { fatal: true });

function nestingDepth(text: string): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const char = text.charCodeAt(i);
    if (inString) {
      if (char === 0x5c /* \ */) i++;
      else if (char === 0x22 /* " */) inString = false;
    } else if (char === 0x22) {
      inString = true;
    } else if (char === 0x7b /* { */ || char === 0x5b /* [ */) {
      depth++;
      if (depth > deepest) deepest = depth;
    } else if (char === 0x7d /* } */ || char === 0x5d /* ] */) {
      depth--;
    }
  }
  return deepest;
}

/**
 * A body read whole that the service does not take. Fastify closes the
 * connection when a parser fails (the client may still be sending), which a
 * body read whole does not need: the parser hands this on instead, a
 * preValidation hook refuses it with its error (app.ts), and the client
 * keeps its connection. (Reconnecting made each bad body cost the event
 * loop about three times a 404.)
 */
export class RefusedBody {
  readonly error: InvalidInputError;

  constructor(message: string) {
    this.error = new InvalidInputError(message);
  }
}

/** The body's value, undefined for none, or a RefusedBody saying why it is not taken. */
export function readJsonBody(body: Buffer): unknown {
  if (body.length === 0) return undefined;
  // The decoder's and JSON.parse's errors become a 400's message, never a log line.
  return withoutStacks(() => bodyValue(body));
}

function bodyValue(body: Buffer): unknown {
  let text: string;
  try {
    text = utf8.decode(body);
  } catch {
    return new RefusedBody('The body is not valid UTF-8.');
  }
  if (text.trim() === '') return undefined;
  if (nestingDepth(text) > MAX_NESTING) {
    return new RefusedBody(`The body is nested deeper than ${MAX_NESTING} levels.`);
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    return new RefusedBody(`The body is not valid JSON (${(error as Error).message}).`);
  }
}
