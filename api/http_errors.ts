/** The API's one error shape, and the mapping from thrown errors to it. */
import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import { AppError } from "../shared/errors.ts";
import type { Logger } from "../shared/logger.ts";
import { isConnectionLoss } from "../shared/redis.ts";
import type { AppEnv } from "./app.ts";

export interface ErrorBody {
  error: { code: string; message: string; details?: unknown };
}

/** Builds the JSON error body. */
export function errorBody(code: string, message: string, details?: unknown): ErrorBody {
  return { error: details === undefined ? { code, message } : { code, message, details } };
}

const CONNECTION_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EPIPE",
  "CONNECT_TIMEOUT",
  "CONNECTION_CLOSED",
  "CONNECTION_ENDED",
  "CONNECTION_DESTROYED",
  "57P01", // admin_shutdown
  "57P02",
  "57P03", // cannot_connect_now
  "53300", // too_many_connections
  "QUERY_TIMEOUT", // shared/db.ts query deadline
]);

/** True when an error means a dependency (database, Redis) is unreachable right now. */
export function isUnavailable(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const code = (err as { code?: unknown }).code;
  if (typeof code === "string" && CONNECTION_CODES.has(code)) return true;
  if (isConnectionLoss(err)) return true; // ioredis while Redis is away
  return err instanceof Deno.errors.ConnectionRefused || err instanceof Deno.errors.ConnectionReset;
}

const STATUS_CODES: Record<number, string> = {
  400: "bad_request",
  401: "unauthorized",
  403: "forbidden",
  404: "not_found",
  405: "method_not_allowed",
  408: "request_timeout",
  409: "conflict",
  413: "payload_too_large",
  415: "unsupported_media_type",
  422: "validation_error",
  429: "rate_limited",
  503: "service_unavailable",
};

/** Seconds a client is asked to wait after a 503 (a backing service is away; it reconnects). */
export const RETRY_AFTER_UNAVAILABLE_S = 2;

/** Tells the client when to try again, unless the route already did. */
function retryLater(c: Context<AppEnv>): void {
  if (!c.res.headers.has("Retry-After")) c.header("Retry-After", String(RETRY_AFTER_UNAVAILABLE_S));
}

/** app.onError handler: known errors keep their status; the rest are logged and answered 500. */
export function handleError(err: Error, c: Context<AppEnv>, logger: Logger): Response {
  // Unset when the error comes before requestContext ran.
  const requestId = c.get("requestId") as string | undefined;
  if (err instanceof AppError) {
    if (err.status === 503) retryLater(c);
    return c.json(errorBody(err.code, err.message, err.details), err.status as 400);
  }
  if (err instanceof HTTPException) {
    const status = err.status;
    const code = STATUS_CODES[status] ?? "http_error";
    const message = status === 400 && /JSON/i.test(err.message)
      ? "Malformed JSON in request body"
      : err.message || code.replaceAll("_", " ");
    return c.json(errorBody(code, message), status);
  }
  if (isUnavailable(err)) {
    logger.warn("dependency unavailable", { requestId, err });
    retryLater(c);
    return c.json(
      errorBody("service_unavailable", "A backing service is unavailable; try again shortly"),
      503,
    );
  }
  logger.error("unhandled error", { requestId, err, stack: err.stack });
  return c.json(
    errorBody("internal_error", "Internal server error", { request_id: requestId }),
    500,
  );
}
