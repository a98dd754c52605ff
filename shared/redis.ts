/**
 * Redis connections that come back fast and say whether they are up: one reconnect policy for
 * every ioredis client (queue producer, workers, rate limiter), and an availability tracker that
 * lets callers skip a round trip that would only fail.
 */
import type { Redis } from "ioredis";
import { withTimeout } from "./timeout.ts";

/**
 * ioredis `retryStrategy`: 50 ms, 100 ms, … at most 250 ms between reconnect attempts. The
 * default backs off to 2 s, so a Redis that returns after a long outage was noticed up to 2 s
 * late; a refused connection attempt costs next to nothing.
 */
export function reconnectDelayMs(times: number): number {
  return Math.min(50 * times, 250);
}

/** True for ioredis's errors of a connection that is gone (not a command Redis refused). */
export function isConnectionLoss(err: unknown): boolean {
  const e = err as { name?: unknown; message?: unknown } | null | undefined;
  return e?.name === "MaxRetriesPerRequestError" || e?.message === "Connection is closed.";
}

/** Whether a Redis connection is usable, as seen from its events and from failed commands. */
export interface RedisAvailability {
  /** False while the connection is known to be down (closed, or its last command failed). */
  up(): boolean;
  /** A command failed: count the connection as down until it answers a PING again. */
  failed(): void;
  /** Calls `fn` each time the connection comes back; returns the function that stops that. */
  onUp(fn: () => void): () => void;
  /** Stops probing. */
  close(): void;
}

/**
 * Tracks `redis`: down on "close", up on "ready". A failed command (a timeout while the socket
 * stays open, say) also counts it down; a PING every `probeMs` then finds out when it answers.
 */
export function trackAvailability(
  redis: Redis,
  options: { probeMs?: number } = {},
): RedisAvailability {
  const probeMs = options.probeMs ?? 500;
  let down = false;
  let probing = false;
  let closed = false;
  const listeners = new Set<() => void>();
  const becameUp = () => {
    const was = down;
    down = false;
    if (!was) return;
    for (const fn of listeners) {
      try {
        fn();
      } catch { /* a listener's own problem */ }
    }
  };
  const probe = async () => {
    if (probing) return;
    probing = true;
    try {
      while (down && !closed) {
        await new Promise((r) => setTimeout(r, probeMs));
        if (!down || closed) break;
        try {
          await withTimeout(redis.ping(), 1000, "Redis did not answer in time");
          becameUp();
        } catch { /* still down */ }
      }
    } finally {
      probing = false;
    }
  };
  redis.on("ready", becameUp);
  redis.on("close", () => {
    down = true;
  });
  return {
    up: () => !down,
    failed() {
      down = true;
      // "ready" says when a closed connection is back; a stuck one needs asking.
      if (redis.status === "ready") void probe();
    },
    onUp(fn) {
      listeners.add(fn);
      return () => void listeners.delete(fn);
    },
    close() {
      closed = true;
      listeners.clear();
    },
  };
}
