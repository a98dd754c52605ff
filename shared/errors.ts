/** Domain errors shared by the API and the worker. The API maps each to one JSON error shape. */

/** Base class for errors that carry an HTTP-ish status and a stable machine code. */
export class AppError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = "AppError";
  }
}

/** The request cannot be read (unreadable or malformed body, a header out of bounds). */
export class BadRequestError extends AppError {
  constructor(message: string) {
    super(400, "bad_request", message);
    this.name = "BadRequestError";
  }
}

/** The caller is not who it must be: no key, a wrong key, a bad signature (`code` says which). */
export class UnauthorizedError extends AppError {
  constructor(message: string, code = "unauthorized") {
    super(401, code, message);
    this.name = "UnauthorizedError";
  }
}

/** The request body is larger than the endpoint takes. */
export class PayloadTooLargeError extends AppError {
  constructor(maxBytes: number) {
    super(413, "payload_too_large", `Request body must be at most ${maxBytes} bytes`);
    this.name = "PayloadTooLargeError";
  }
}

/** The request body or query failed validation (422, as the old stack answered). */
export class ValidationError extends AppError {
  constructor(message: string, details?: unknown) {
    super(422, "validation_error", message, details);
    this.name = "ValidationError";
  }
}

/** A resource that does not exist (or that the caller may not see). */
export class NotFoundError extends AppError {
  constructor(message: string) {
    super(404, "not_found", message);
    this.name = "NotFoundError";
  }
}

/** A dependency (database, queue) cannot take the request right now. */
export class UnavailableError extends AppError {
  constructor(message: string) {
    super(503, "service_unavailable", message);
    this.name = "UnavailableError";
  }
}

/** Thrown by providers: `retryable` says whether trying again later can succeed. */
export class ProviderError extends Error {
  constructor(
    message: string,
    readonly retryable: boolean,
    /** How long to wait before trying again, when the provider said so (429 reset hint). */
    readonly retryAfterMs?: number,
    /** HTTP status from the provider, when there was one. */
    readonly status?: number,
  ) {
    super(message);
    this.name = "ProviderError";
  }
}

/** A provider prediction the provider does not know (expired, or lost with a local worker). */
export class PredictionNotFoundError extends ProviderError {
  constructor(id: string) {
    super(`Prediction ${id} was not found at the provider`, false, undefined, 404);
    this.name = "PredictionNotFoundError";
  }
}

/** Turns any thrown value into an Error (the project never throws non-Error values). */
export function toError(value: unknown): Error {
  return value instanceof Error ? value : new Error(String(value));
}

/** Downloading or storing an output failed; `retryable` says whether fetching again can help. */
export class DownloadError extends Error {
  constructor(message: string, readonly retryable: boolean) {
    super(message);
    this.name = "DownloadError";
  }
}
