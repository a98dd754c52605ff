/**
 * Fixed-window rate limiting. The Redis backend shares counts across every API instance; the
 * in-memory one serves the single-process mode.
 */
import type { Redis } from "ioredis";

export interface RateDecision {
  allowed: boolean;
  limit: number;
  remaining: number;
  /** Seconds until the window resets. */
  resetS: number;
}

export interface RateLimiter {
  /** Counts one hit for `subject` in the current window of `windowS` seconds. */
  hit(subject: string, limit: number, windowS: number): Promise<RateDecision>;
}

function decision(count: number, limit: number, windowS: number, now: number): RateDecision {
  const resetS = Math.max(1, Math.ceil(windowS - ((now / 1000) % windowS)));
  return { allowed: count <= limit, limit, remaining: Math.max(0, limit - count), resetS };
}

/** In-process counters (one process only). */
export function createMemoryRateLimiter(now: () => number = Date.now): RateLimiter {
  const windows = new Map<string, { window: number; count: number }>();
  return {
    hit(subject, limit, windowS) {
      const t = now();
      const window = Math.floor(t / 1000 / windowS);
      const current = windows.get(subject);
      const count = current && current.window === window ? current.count + 1 : 1;
      windows.set(subject, { window, count });
      if (windows.size > 100_000) {
        for (const [key, value] of windows) if (value.window !== window) windows.delete(key);
      }
      return Promise.resolve(decision(count, limit, windowS, t));
    },
  };
}

/** Counters in Redis (INCR + EXPIRE in one round trip), shared by every API instance. */
export function createRedisRateLimiter(redis: Redis, prefix: string): RateLimiter {
  return {
    async hit(subject, limit, windowS) {
      const t = Date.now();
      const window = Math.floor(t / 1000 / windowS);
      const key = `${prefix}:ratelimit:${subject}:${window}`;
      const result = await redis.multi().incr(key).expire(key, windowS + 1).exec();
      const count = Number(result?.[0]?.[1] ?? 1);
      return decision(count, limit, windowS, t);
    },
  };
}
