/**
 * Keeps a process up when a library leaves a dropped connection's error unhandled.
 *
 * postgres.js starts a query of its own on every new connection (the array types, `fetch_types`)
 * from a socket handler and never handles its promise: when Postgres goes away while that query
 * runs, the rejection is unhandled, and an unhandled rejection ends a Deno process. The library
 * reconnects on the next query by itself, so only such connection errors are caught (and logged);
 * any other unhandled rejection still ends the process, as it should.
 */
import type { Logger } from "../logger.ts";

/** Codes of a connection that dropped or could not be made (Node's and postgres.js's). */
const CONNECTION_ERRORS = new Set([
  "ECONNRESET",
  "ECONNREFUSED",
  "ECONNABORTED",
  "EPIPE",
  "ETIMEDOUT",
  "CONNECTION_CLOSED",
  "CONNECTION_DESTROYED",
  "CONNECTION_ENDED",
  "CONNECT_TIMEOUT",
]);

/** True for an error that says a connection dropped or could not be made. */
export function isConnectionError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null | undefined)?.code;
  return typeof code === "string" && CONNECTION_ERRORS.has(code);
}

/** Installs the guard for this process (call once, from a main module). */
export function survivesConnectionDrops(logger: Logger): void {
  globalThis.addEventListener("unhandledrejection", (event) => {
    if (!isConnectionError(event.reason)) return;
    event.preventDefault();
    logger.warn("a library left a dropped connection's error unhandled; it reconnects", {
      err: event.reason,
    });
  });
}
