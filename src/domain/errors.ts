/**
 * The small set of errors the application knows how to explain. Each carries
 * a stable machine-readable code and the HTTP status it maps to, so the HTTP
 * layer has one place that turns them into `{"error","message"}` bodies.
 */
export class AppError extends Error {
  constructor(
    readonly code: string,
    readonly statusCode: number,
    message: string,
  ) {
    super(message);
    this.name = new.target.name;
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

/** The storage failed for another reason (I/O error, too many open files). */
export class StorageUnavailableError extends AppError {
  constructor(message: string) {
    super('storage_unavailable', 503, message);
  }
}

export class UnauthorizedError extends AppError {
  constructor(message: string) {
    super('unauthorized', 401, message);
  }
}
