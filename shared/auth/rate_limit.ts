/**
 * Fixed-window rate limiting and concurrency slots. The Redis backend shares counts across every
 * API instance; the in-memory one serves the single-process mode. `createPrecountLimiter` puts an
 * in-process count in front of either, for limits checked on every read.
 */
import type { Redis } from "ioredis";
import { withTimeout } from "../timeout.ts";

export interface RateDecision {
  allowed: boolean;
  limit: number;
  /** Hits in the current window, this one included. */
  count: number;
  remaining: number;
  /** Seconds until the window resets. */
  resetS: number;
}

export interface RateLimiter {
  /** Counts `n` hits (default 1) for `subject` in the current window of `windowS` seconds. */
  hit(subject: string, limit: number, windowS: number, n?: number): Promise<RateDecision>;
  /**
   * Takes one of `limit` concurrent slots of `subject` under the name `slot`, held `ttlS` seconds
   * unless renewed (so a crashed holder's slot frees itself); false when all are taken.
   */
  acquireSlot(subject: string, slot: string, limit: number, ttlS: number): Promise<boolean>;
  /** Holds `slot` for another `ttlS` seconds. */
  renewSlot(subject: string, slot: string, ttlS: number): Promise<void>;
  /** Gives `slot` back. */
  releaseSlot(subject: string, slot: string): Promise<void>;
}

function decision(count: number, limit: number, windowS: number, now: number): RateDecision {
  const resetS = Math.max(1, Math.ceil(windowS - ((now / 1000) % windowS)));
  return { allowed: count <= limit, limit, count, remaining: Math.max(0, limit - count), resetS };
}

function windowOf(now: number, windowS: number): number {
  return Math.floor(now / 1000 / windowS);
}

/** In-process counters (one process only). */
export function createMemoryRateLimiter(now: () => number = Date.now): RateLimiter {
  const windows = new Map<string, { window: number; count: number }>();
  /** Slot name → expiry (ms) per subject. */
  const slots = new Map<string, Map<string, number>>();
  const liveSlots = (subject: string, t: number) => {
    const held = slots.get(subject) ?? new Map<string, number>();
    for (const [slot, until] of held) if (until <= t) held.delete(slot);
    if (held.size === 0) slots.delete(subject);
    return held;
  };
  return {
    hit(subject, limit, windowS, n = 1) {
      const t = now();
      const window = windowOf(t, windowS);
      const current = windows.get(subject);
      const count = current && current.window === window ? current.count + n : n;
      windows.set(subject, { window, count });
      if (windows.size > 100_000) {
        for (const [key, value] of windows) if (value.window !== window) windows.delete(key);
      }
      return Promise.resolve(decision(count, limit, windowS, t));
    },
    acquireSlot(subject, slot, limit, ttlS) {
      const t = now();
      const held = liveSlots(subject, t);
      if (held.size >= limit && !held.has(slot)) return Promise.resolve(false);
      held.set(slot, t + ttlS * 1000);
      slots.set(subject, held);
      return Promise.resolve(true);
    },
    renewSlot(subject, slot, ttlS) {
      const t = now();
      const held = liveSlots(subject, t);
      held.set(slot, t + ttlS * 1000);
      slots.set(subject, held);
      return Promise.resolve();
    },
    releaseSlot(subject, slot) {
      const held = slots.get(subject);
      held?.delete(slot);
      if (held?.size === 0) slots.delete(subject);
      return Promise.resolve();
    },
  };
}

/**
 * Counters in Redis (INCRBY + EXPIRE in one round trip), shared by every API instance. Slots are
 * a sorted set per subject scored by expiry: stale members are dropped on every take.
 */
export function createRedisRateLimiter(redis: Redis, prefix: string): RateLimiter {
  const slotKey = (subject: string) => `${prefix}:slots:${subject}`;
  return {
    async hit(subject, limit, windowS, n = 1) {
      const t = Date.now();
      const key = `${prefix}:ratelimit:${subject}:${windowOf(t, windowS)}`;
      const result = await redis.multi().incrby(key, n).expire(key, windowS + 1).exec();
      const count = Number(result?.[0]?.[1] ?? n);
      return decision(count, limit, windowS, t);
    },
    async acquireSlot(subject, slot, limit, ttlS) {
      const t = Date.now();
      const key = slotKey(subject);
      // One transaction: the set's size after adding says whether this slot fits.
      const result = await redis.multi()
        .zremrangebyscore(key, "-inf", t)
        .zadd(key, t + ttlS * 1000, slot)
        .zcard(key)
        .pexpire(key, ttlS * 1000)
        .exec();
      const held = Number(result?.[2]?.[1] ?? 0);
      if (held <= limit) return true;
      await redis.zrem(key, slot);
      return false;
    },
    async renewSlot(subject, slot, ttlS) {
      const key = slotKey(subject);
      await redis.multi().zadd(key, Date.now() + ttlS * 1000, slot).pexpire(key, ttlS * 1000)
        .exec();
    },
    async releaseSlot(subject, slot) {
      await redis.zrem(slotKey(subject), slot);
    },
  };
}

/** Settings of `createPrecountLimiter`. */
export interface PrecountOptions {
  /** Hits are added to the shared counter at most this often (ms); default 100. */
  flushMs?: number;
  /** Told (at most once a minute) when the shared counter cannot be reached. */
  onError?: (err: unknown) => void;
  now?: () => number;
}

interface Tally {
  window: number;
  windowS: number;
  limit: number;
  /** The shared count as last heard (every process's hits, ours included). */
  shared: number;
  /** Our hits on their way to the shared counter. */
  sending: number;
  /** Our hits not sent yet. */
  pending: number;
}

/**
 * A limiter that decides in-process and adds its hits to `shared` in batches, at most every
 * `flushMs`: a hit costs no round trip. Each batch brings back the shared count, so other
 * processes' hits are known within a batch; with several processes a subject can go over its limit
 * by what they admit in between. When `shared` fails, counting goes on in this process alone
 * (fail open: a Redis outage must not stop reads). Slots go straight to `shared`.
 */
export function createPrecountLimiter(
  shared: RateLimiter,
  options: PrecountOptions = {},
): RateLimiter {
  const flushMs = options.flushMs ?? 100;
  const now = options.now ?? Date.now;
  const tallies = new Map<string, Tally>();
  let lastFlush = -Infinity;
  let lastError = -Infinity;

  const send = (subject: string, tally: Tally) => {
    const n = tally.pending;
    tally.pending = 0;
    tally.sending += n;
    shared.hit(subject, tally.limit, tally.windowS, n).then(
      (d) => {
        tally.sending -= n;
        tally.shared = Math.max(tally.shared + n, d.count);
      },
      (err) => {
        tally.sending -= n;
        tally.shared += n;
        const t = now();
        if (t - lastError >= 60_000) {
          lastError = t;
          options.onError?.(err);
        }
      },
    );
  };

  const flush = (t: number) => {
    lastFlush = t;
    for (const [subject, tally] of tallies) {
      if (tally.window !== windowOf(t, tally.windowS)) {
        // A window that ended: hits not yet sent would only count in the next one. Dropped.
        if (tally.sending === 0) tallies.delete(subject);
        continue;
      }
      if (tally.pending > 0 && tally.sending === 0) send(subject, tally);
    }
  };

  return {
    hit(subject, limit, windowS, n = 1) {
      const t = now();
      const window = windowOf(t, windowS);
      let tally = tallies.get(subject);
      if (tally === undefined || tally.window !== window) {
        tally = { window, windowS, limit, shared: 0, sending: 0, pending: 0 };
        tallies.set(subject, tally);
      }
      tally.pending += n;
      if (t - lastFlush >= flushMs) flush(t);
      return Promise.resolve(
        decision(tally.shared + tally.sending + tally.pending, limit, windowS, t),
      );
    },
    acquireSlot: (subject, slot, limit, ttlS) => shared.acquireSlot(subject, slot, limit, ttlS),
    renewSlot: (subject, slot, ttlS) => shared.renewSlot(subject, slot, ttlS),
    releaseSlot: (subject, slot) => shared.releaseSlot(subject, slot),
  };
}

/** Settings of `createFallbackLimiter`. */
export interface FallbackOptions {
  /** False while `primary` is known to be unreachable (it is then not even tried). */
  available?: () => boolean;
  /** `primary` failed (or was late) and `fallback` answered; the argument says why. */
  onFallback?: (err: unknown) => void;
  /** How long a call to `primary` may take before `fallback` answers instead (ms). Default 500. */
  timeoutMs?: number;
}

/**
 * `primary` (the shared counters in Redis) while it answers, `fallback` (counts in this process)
 * while it does not: a Redis outage must not refuse submits, and limits still hold per process
 * meanwhile. Slots are released on both, since either may hold them.
 */
export function createFallbackLimiter(
  primary: RateLimiter,
  fallback: RateLimiter,
  options: FallbackOptions = {},
): RateLimiter {
  const timeoutMs = options.timeoutMs ?? 500;
  const either = async <T>(
    first: () => Promise<T>,
    second: () => Promise<T>,
  ): Promise<T> => {
    if (options.available?.() === false) return await second();
    try {
      return await withTimeout(first(), timeoutMs, "The shared rate limiter did not answer");
    } catch (err) {
      options.onFallback?.(err);
      return await second();
    }
  };
  return {
    hit: (subject, limit, windowS, n) =>
      either(
        () => primary.hit(subject, limit, windowS, n),
        () => fallback.hit(subject, limit, windowS, n),
      ),
    acquireSlot: (subject, slot, limit, ttlS) =>
      either(
        () => primary.acquireSlot(subject, slot, limit, ttlS),
        () => fallback.acquireSlot(subject, slot, limit, ttlS),
      ),
    renewSlot: (subject, slot, ttlS) =>
      either(
        () => primary.renewSlot(subject, slot, ttlS),
        () => fallback.renewSlot(subject, slot, ttlS),
      ),
    async releaseSlot(subject, slot) {
      await Promise.allSettled([
        fallback.releaseSlot(subject, slot),
        options.available?.() === false ? null : primary.releaseSlot(subject, slot),
      ]);
    },
  };
}
