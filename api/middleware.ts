/** Request id, per-request logger and the access log. */
import type { MiddlewareHandler } from "hono";
import type { Logger } from "../shared/logger.ts";
import type { Metrics } from "../shared/metrics.ts";
import type { AppEnv } from "./app.ts";

const SAFE_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * Sets `requestId` (from X-Request-Id when it is sane), a child logger and, when given, the body
 * deadline (`bodyTimeoutMs`, read by api/body.ts); logs each request.
 */
export function requestContext(
  logger: Logger,
  metrics?: Metrics,
  options: { bodyTimeoutMs?: number } = {},
): MiddlewareHandler<AppEnv> {
  const bodyTimeoutMs = options.bodyTimeoutMs;
  return async (c, next) => {
    const incoming = c.req.header("x-request-id");
    const requestId = incoming && SAFE_ID.test(incoming) ? incoming : crypto.randomUUID();
    const log = logger.child({ requestId });
    c.set("requestId", requestId);
    c.set("logger", log);
    if (bodyTimeoutMs !== undefined) c.set("bodyTimeoutMs", bodyTimeoutMs);
    const started = performance.now();
    // Headers set before the handler ride on its response: every response is built through the
    // context (tested for every kind of answer). Reading c.res.headers afterwards would make Deno
    // copy them out of its native fast path (about a tenth of the time of a small GET).
    c.header("X-Request-Id", requestId);
    await next();
    const status = c.res.status;
    const ms = performance.now() - started;
    // The matched route pattern (not the raw path) keeps the label set small.
    const route = status === 404 && c.req.routePath === "/*" ? "unmatched" : c.req.routePath;
    metrics?.httpRequests.inc({ method: c.req.method, route, status: String(status) });
    metrics?.httpDuration.observe({ method: c.req.method, route }, ms / 1000);
    const fields = { method: c.req.method, path: c.req.path, status, ms: Math.round(ms * 10) / 10 };
    if (status >= 500) log.warn("request", fields);
    else log.debug("request", fields);
  };
}

/** Headers every response carries: no sniffing, no framing, no referrer leaks. */
export function securityHeaders(): MiddlewareHandler {
  const headers: [string, string][] = [
    ["X-Content-Type-Options", "nosniff"],
    ["Referrer-Policy", "no-referrer"],
    ["X-Frame-Options", "DENY"],
    ["Cross-Origin-Opener-Policy", "same-origin"],
  ];
  // Set before the handler, so they ride on every response built through the context (all of
  // them: routes, errors, streams, static files, CORS preflights; tested).
  return async (c, next) => {
    for (const [name, value] of headers) c.header(name, value);
    await next();
  };
}
