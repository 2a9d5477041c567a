/**
 * What the client throws: an error answer (ApiError), no answer at all
 * (UnreachableError), or an answer no service of ours gives
 * (UntrustedAnswerError).
 */

/** The service answered with an error status. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    /** The answer's `error` code (`not_found`, `invalid_input`, …), or `http_<status>`. */
    readonly code: string,
    message: string,
    /** The answer's body as it came (parsed when it was JSON). */
    readonly body: unknown,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** An answer this service never gives: too large, of another shape, or pages that go round in circles. */
export class UntrustedAnswerError extends Error {
  constructor(
    readonly url: string,
    reason: string,
  ) {
    super(`The answer from ${url} cannot be from this service: ${reason}.`);
    this.name = 'UntrustedAnswerError';
  }
}

/** No answer at all: nothing listens at the URL, or it took longer than timeoutMs. */
export class UnreachableError extends Error {
  constructor(
    readonly url: string,
    readonly reason: string,
  ) {
    super(`Cannot reach the service at ${url} (${reason}).`);
    this.name = 'UnreachableError';
  }
}
