/**
 * Per-key limits on reads and live streams (submits: `enforceRate` in auth.ts). The subject is
 * the key, or the client address when the API is open or no key was sent.
 */
import type { Context, MiddlewareHandler } from "hono";
import { createPrecountLimiter } from "../shared/auth/rate_limit.ts";
import { AppError } from "../shared/errors.ts";
import type { Logger } from "../shared/logger.ts";
import type { Security } from "./app.ts";
import { clientAddress, enforceRate, principalOf } from "./auth.ts";

/** A stream's slot is held this long unless renewed at a heartbeat (so a crash frees it). */
export const STREAM_SLOT_TTL_S = 45;

/** Who a limit counts against. */
export function limitSubject(c: Context): string {
  const principal = principalOf(c);
  return principal.subject === "anonymous" ? `ip:${clientAddress(c)}` : principal.subject;
}

/**
 * Middleware counting GET and HEAD under the API prefix against `readsPerMinute`; health,
 * readiness and the documentation are not counted (probes and browsers fetch them freely). Each
 * read is decided in-process and the counts reach the shared limiter in batches.
 */
export function limitReads(
  security: Security,
  options: { prefix: string; logger: Logger },
): MiddlewareHandler {
  const perMinute = security.readsPerMinute;
  const counter = createPrecountLimiter(security.limiter, {
    onError: (err) =>
      options.logger.warn("the rate limiter is unavailable; reads are counted per process", {
        err,
      }),
  });
  const free = new Set(
    ["/health", "/ready", "/openapi.json", "/docs"].map((p) => options.prefix + p),
  );
  const docs = `${options.prefix}/docs/`;
  return async (c, next) => {
    const method = c.req.method;
    if ((method === "GET" || method === "HEAD") && perMinute > 0) {
      const path = c.req.path;
      if (!free.has(path) && !path.startsWith(docs)) {
        await enforceRate(c, counter, limitSubject(c), perMinute, "read");
      }
    }
    await next();
  };
}

/** A held stream slot. */
export interface StreamSlot {
  /** Holds the slot for another STREAM_SLOT_TTL_S (call at each heartbeat). */
  renew(): Promise<void>;
  release(): Promise<void>;
}

const NO_SLOT: StreamSlot = { renew: () => Promise.resolve(), release: () => Promise.resolve() };

/**
 * Takes one of the subject's `maxStreamsPerKey` stream slots, or answers 429 with Retry-After.
 * When the shared limiter cannot be reached the stream is let through (logged): reads keep working
 * through a Redis outage.
 */
export async function takeStreamSlot(
  c: Context,
  security: Security | undefined,
  logger: Logger,
): Promise<StreamSlot> {
  const max = security?.maxStreamsPerKey ?? 0;
  if (!security || max <= 0) return NO_SLOT;
  const subject = `stream:${limitSubject(c)}`;
  const slot = crypto.randomUUID();
  const limiter = security.limiter;
  let taken: boolean;
  try {
    taken = await limiter.acquireSlot(subject, slot, max, STREAM_SLOT_TTL_S);
  } catch (err) {
    logger.warn("the rate limiter is unavailable; the stream is not counted", { err });
    return NO_SLOT;
  }
  if (!taken) {
    c.header("Retry-After", "10");
    throw new AppError(
      429,
      "rate_limited",
      `Too many live streams: at most ${max} open at once; close one and try again`,
    );
  }
  return {
    renew: () => limiter.renewSlot(subject, slot, STREAM_SLOT_TTL_S).catch(() => {}),
    release: () => limiter.releaseSlot(subject, slot).catch(() => {}),
  };
}
