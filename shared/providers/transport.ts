/**
 * Provider-neutral HTTP failure rules shared by the providers and their output downloads: a
 * transport failure classified, and a `Retry-After` header read.
 */
import { ProviderError } from "../errors.ts";
import {
  describeTransportError,
  isConnectFailure,
  ProviderUnreachableError,
} from "./unreachable.ts";

/** A network failure, a timeout or the caller's abort: all worth trying again later. */
export function transportError(
  action: string,
  error: unknown,
  signal: AbortSignal | undefined,
  caller: AbortSignal | undefined,
  timeoutMs: number,
): ProviderError {
  if (caller?.aborted) return new ProviderError(`${action}: aborted`, true);
  const name = error instanceof Error ? error.name : "";
  const timedOut = name === "TimeoutError" ||
    (signal?.aborted === true && signal.reason instanceof DOMException &&
      signal.reason.name === "TimeoutError");
  if (timedOut) return new ProviderError(`${action}: no answer within ${timeoutMs} ms`, true);
  const reason = error instanceof Error ? error.message : String(error);
  // Never sent (refused, no DNS): nothing can have been billed, so a route may move on.
  if (isConnectFailure(error)) {
    return new ProviderUnreachableError(
      `${action}: network error: ${reason} (cannot connect: ${describeTransportError(error)})`,
    );
  }
  return new ProviderError(`${action}: network error: ${reason}`, true);
}

/** `Retry-After` as seconds or an HTTP date → milliseconds from now. */
export function retryAfterHeaderMs(value: string | null): number | undefined {
  if (value === null || value.trim() === "") return undefined;
  const trimmed = value.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.ceil(Number(trimmed) * 1000);
  const at = Date.parse(trimmed);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

/** Longest provider error detail kept in a message. */
const DETAIL_MAX = 500;

/** A provider's error detail on one line, cut at 500 characters. */
export function oneLineDetail(text: string): string {
  const line = text.trim().split(/\s*\n\s*/).join("; ");
  return line.length > DETAIL_MAX ? `${line.slice(0, DETAIL_MAX)}…` : line;
}

/**
 * An HTTP error answer by its status: 408, 429 and 5xx are worth trying again (after
 * `retryAfterMs`, or the answer's `Retry-After`); anything else (400, 402, 409, 422 …) fails the
 * same way again.
 */
export function errorForStatus(
  message: string,
  status: number,
  headers: Headers,
  retryAfterMs?: number,
): ProviderError {
  if (status === 429 || status === 408 || status >= 500) {
    return new ProviderError(
      message,
      true,
      retryAfterMs ?? retryAfterHeaderMs(headers.get("retry-after")),
      status,
    );
  }
  return new ProviderError(message, false, undefined, status);
}
