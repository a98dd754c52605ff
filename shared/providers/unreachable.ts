/**
 * Requests that never reached the provider: the connection was refused or the name did not
 * resolve, so no byte of the request was sent and nothing can have been billed. A route may move
 * such a job to its next target (shared/providers/routes.ts); a timeout or a connection cut
 * mid-request may have been accepted, and is not one of these.
 */
import { ProviderError } from "../errors.ts";

/** The provider could not be reached at all (connection refused, DNS failure). */
export class ProviderUnreachableError extends ProviderError {
  constructor(message: string) {
    super(message, true);
    this.name = "ProviderUnreachableError";
  }
}

/**
 * What Deno's fetch throws before sending anything: `TypeError: fetch failed` caused by
 * `client error (Connect): tcp connect error: Connection refused` or `... dns error: ...`.
 */
const CONNECT_FAILURE =
  /client error \(Connect\)|connection refused|dns error|failed to lookup address|name or service not known/i;

/** True when `error` (or an error it wraps) says the connection was never made. */
export function isConnectFailure(error: unknown): boolean {
  for (let e: unknown = error, depth = 0; e instanceof Error && depth < 5; depth++) {
    if (CONNECT_FAILURE.test(e.message)) return true;
    e = e.cause;
  }
  return false;
}

/** The message of `error` and of the errors it wraps, on one line (fetch hides the reason in `cause`). */
export function describeTransportError(error: unknown): string {
  const parts: string[] = [];
  for (let e: unknown = error, depth = 0; e !== undefined && depth < 5; depth++) {
    if (e instanceof Error) {
      if (e.message && !parts.includes(e.message)) parts.push(e.message);
      e = e.cause;
    } else {
      parts.push(String(e));
      break;
    }
  }
  return parts.join(": ") || "unknown error";
}
