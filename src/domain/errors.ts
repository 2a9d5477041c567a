/**
 * The small set of errors the application knows how to explain. Each carries
 * a stable machine-readable code and the HTTP status it maps to, so the HTTP
 * layer has one place that turns them into `{"error","message"}` bodies.
 */
export class AppError extends Error {
  readonly code: string;
  readonly statusCode: number;
  /** Facts the answer carries beside `error` and `message` (none by default). */
  readonly details: Readonly<Record<string, number>> | undefined;

  constructor(
    code: string,
    statusCode: number,
    message: string,
    details?: Readonly<Record<string, number>>,
  ) {
    // A client error (4xx) is an answer, not a fault: it is never logged, so
    // it is made without a stack, whose capture was a fifth of what a 404
    // cost (45-57 -> 36-44 µs of the event loop a `GET`, docs/design/storage-measurements.md).
    const stackTraceLimit = Error.stackTraceLimit;
    if (statusCode < 500) Error.stackTraceLimit = 0;
    super(message);
    Error.stackTraceLimit = stackTraceLimit;
    this.code = code;
    this.statusCode = statusCode;
    this.details = details;
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
  static readonly code = 'not_found';
  static readonly status = 404;

  constructor(message: string) {
    super(NotFoundError.code, NotFoundError.status, message);
  }
}

export class InvalidInputError extends AppError {
  static readonly code = 'invalid_input';
  static readonly status = 400;

  constructor(message: string) {
    super(InvalidInputError.code, InvalidInputError.status, message);
  }
}

/**
 * The events asked for were dropped by the retention policy (EVENTS_RETAIN_*):
 * the answer says the oldest position still kept, to start from there.
 */
export class EventsDroppedError extends AppError {
  static readonly code = 'events_dropped';
  static readonly status = 410;

  constructor(asked: string, oldest: number) {
    super(
      EventsDroppedError.code,
      EventsDroppedError.status,
      `${asked} was dropped by the retention policy; the oldest event kept is at position ${oldest}.`,
      { oldest },
    );
  }
}

/** The disk is full: nothing of the write was kept; retry once space is freed. */
export class StorageFullError extends AppError {
  static readonly code = 'storage_full';
  static readonly status = 507;

  constructor(message: string) {
    super(StorageFullError.code, StorageFullError.status, message);
  }
}

/** A session larger than the per-session limits allow; the message names the limit. */
export class SessionTooLargeError extends AppError {
  static readonly code = 'session_too_large';
  static readonly status = 413;

  constructor(message: string) {
    super(SessionTooLargeError.code, SessionTooLargeError.status, message);
  }
}

/**
 * The sessions already stored use up the storage budget: nothing new is
 * accepted until some are deleted or shrunk. Reads, deletes and updates that
 * do not grow a session keep working.
 */
export class StorageBudgetError extends AppError {
  static readonly code = 'storage_budget_exceeded';
  static readonly status = 507;

  constructor(message: string) {
    super(StorageBudgetError.code, StorageBudgetError.status, message);
  }
}

/** The storage failed for another reason (I/O error, too many open files). */
export class StorageUnavailableError extends AppError {
  static readonly code = 'storage_unavailable';
  static readonly status = 503;

  constructor(message: string) {
    super(StorageUnavailableError.code, StorageUnavailableError.status, message);
  }
}

/** Every event stream the service allows is open; the client should retry later. */
export class StreamLimitError extends AppError {
  static readonly code = 'too_many_streams';
  static readonly status = 503;

  constructor(message: string) {
    super(StreamLimitError.code, StreamLimitError.status, message);
  }
}

/** The answers clients leave unread fill UNREAD_ANSWERS_MB; the client should retry later. */
export class TooBusyError extends AppError {
  static readonly code = 'too_busy';
  static readonly status = 503;

  constructor(message: string) {
    super(TooBusyError.code, TooBusyError.status, message);
  }
}

/** The service is stopping cleanly: nothing was served or changed; retry. */
export class StoppingError extends AppError {
  static readonly code = 'stopping';
  static readonly status = 503;

  constructor() {
    super(
      StoppingError.code,
      StoppingError.status,
      'The service is stopping: this request was not served and changed nothing. Retry in a moment.',
    );
  }
}

/** A request the service will not serve from where it came (another site, an unknown Host). */
export class ForbiddenError extends AppError {
  /** A Host not in ALLOWED_HOSTS; a write from another site. */
  static readonly codes = ['host_not_allowed', 'cross_site_request'] as const;
  static readonly status = 403;

  constructor(code: (typeof ForbiddenError.codes)[number], message: string) {
    super(code, ForbiddenError.status, message);
  }
}

/** A body in a form the service does not read (a Content-Encoding, say). */
export class UnsupportedMediaTypeError extends AppError {
  static readonly code = 'unsupported_media_type';
  static readonly status = 415;

  constructor(message: string) {
    super(UnsupportedMediaTypeError.code, UnsupportedMediaTypeError.status, message);
  }
}

export class UnauthorizedError extends AppError {
  static readonly code = 'unauthorized';
  static readonly status = 401;

  constructor(message: string) {
    super(UnauthorizedError.code, UnauthorizedError.status, message);
  }
}
