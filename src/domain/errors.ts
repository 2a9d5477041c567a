/**
 * The small set of errors the application knows how to explain. Each carries
 * a stable machine-readable code and the HTTP status it maps to, so the HTTP
 * layer has one place that turns them into `{"error","message"}` bodies.
 */
export class AppError extends Error {
  readonly code: string;
  readonly statusCode: number;

  constructor(code: string, statusCode: number, message: string) {
    // A client error (4xx) is an answer, not a fault: it is never logged, so
    // it is made without a stack, whose capture was a fifth of what a 404
    // cost (45-57 -> 36-44 µs of the event loop a `GET`, docs/design/storage-measurements.md).
    const stackTraceLimit = Error.stackTraceLimit;
    if (statusCode < 500) Error.stackTraceLimit = 0;
    super(message);
    Error.stackTraceLimit = stackTraceLimit;
    this.code = code;
    this.statusCode = statusCode;
    this.name = new.target.name;
  }
}

/**
 * Runs `run` with no stack captured for the errors made in it: for errors
 * that only become a 4xx's message (AppError does the same for its own; a
 * constructor cannot hand `super` to a function).
 */
export function withoutStacks<T>(run: () => T): T {
  const stackTraceLimit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return run();
  } finally {
    Error.stackTraceLimit = stackTraceLimit;
  }
}

export class NotFoundError extends AppError {
  constructor(message: string) {
    super('not_found', 404, message);
  }
}

export class InvalidInputError extends AppError {
  constructor(message: string) {
    super('invalid_input', 400, message);
  }
}

/** The disk is full: nothing of the write was kept; retry once space is freed. */
export class StorageFullError extends AppError {
  constructor(message: string) {
    super('storage_full', 507, message);
  }
}

/** A session larger than the per-session limits allow; the message names the limit. */
export class SessionTooLargeError extends AppError {
  constructor(message: string) {
    super('session_too_large', 413, message);
  }
}

/**
 * The sessions already stored use up the storage budget: nothing new is
 * accepted until some are deleted or shrunk. Reads, deletes and updates that
 * do not grow a session keep working.
 */
export class StorageBudgetError extends AppError {
  constructor(message: string) {
    super('storage_budget_exceeded', 507, message);
  }
}

/** The storage failed for another reason (I/O error, too many open files). */
export class StorageUnavailableError extends AppError {
  constructor(message: string) {
    super('storage_unavailable', 503, message);
  }
}

/** Every event stream the service allows is open; the client should retry later. */
export class StreamLimitError extends AppError {
  constructor(message: string) {
    super('too_many_streams', 503, message);
  }
}

/** The answers clients leave unread fill UNREAD_ANSWERS_MB; the client should retry later. */
export class TooBusyError extends AppError {
  constructor(message: string) {
    super('too_busy', 503, message);
  }
}

/** The service is stopping cleanly: nothing was served or changed; retry. */
export class StoppingError extends AppError {
  constructor() {
    super(
      'stopping',
      503,
      'The service is stopping: this request was not served and changed nothing. Retry in a moment.',
    );
  }
}

/** A request the service will not serve from where it came (another site, an unknown Host). */
export class ForbiddenError extends AppError {
  constructor(code: string, message: string) {
    super(code, 403, message);
  }
}

/** A body in a form the service does not read (a Content-Encoding, say). */
export class UnsupportedMediaTypeError extends AppError {
  constructor(message: string) {
    super('unsupported_media_type', 415, message);
  }
}

export class UnauthorizedError extends AppError {
  constructor(message: string) {
    super('unauthorized', 401, message);
  }
}
