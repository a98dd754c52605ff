/**
 * `Prefer: wait=N` on POST /generate: the answer waits up to N seconds for the job to finish (201
 * with the job) instead of answering 202 at once. Waiters hold no database connection: one
 * subscription to the process's live job feed (shared/jobs/events.ts, which polls while anyone
 * listens) wakes them by job id, and their number is capped.
 */
import { isTerminal } from "../shared/jobs/repo.ts";
import type { JobEventHub } from "../shared/jobs/events.ts";

/** The longest wait a submit may ask for (seconds), as Replicate's own `Prefer: wait`. */
export const MAX_PREFER_WAIT_S = 60;

/**
 * Seconds asked for by a `Prefer` header (`wait=N`, or `wait` alone for the maximum), capped at
 * MAX_PREFER_WAIT_S; null when the header asks no wait.
 */
export function parsePreferWait(header: string | undefined | null): number | null {
  if (!header) return null;
  for (const part of header.split(/[,;]/)) {
    const m = /^\s*wait\s*(?:=\s*"?(\d{1,6})"?)?\s*$/i.exec(part);
    if (!m) continue;
    const n = m[1] === undefined ? MAX_PREFER_WAIT_S : Number(m[1]);
    return n > 0 ? Math.min(MAX_PREFER_WAIT_S, n) : null;
  }
  return null;
}

/** One submit waiting for its job. */
export interface JobWait {
  /** True when the job reached a terminal state in time, false when the time ran out. */
  finished: Promise<boolean>;
  /** Stops waiting (the job was not stored after all); `finished` resolves false. */
  cancel(): void;
}

/** Submits waiting for their jobs. */
export interface JobWaiters {
  /**
   * Starts waiting up to `ms` for job `id` to reach a terminal state (call it before the job is
   * stored, so no change is missed); null at once when `limit` submits already wait.
   */
  wait(id: string, ms: number): JobWait | null;
  /** Submits waiting now. */
  active(): number;
}

/** Waiters on `events`, at most `limit` at once. */
export function createJobWaiters(events: JobEventHub, limit: number): JobWaiters {
  const waiting = new Map<string, Set<() => void>>();
  let count = 0;
  let unsubscribe: (() => void) | null = null;

  const listen = () => {
    unsubscribe ??= events.subscribe((event) => {
      if (event.type !== "job" || !isTerminal(event.job.status)) return;
      const wakes = waiting.get(event.job.id);
      if (wakes) { for (const wake of [...wakes]) wake(); }
    });
  };

  return {
    wait(id, ms) {
      if (count >= limit) return null;
      count++;
      listen();
      const { promise, resolve } = Promise.withResolvers<boolean>();
      const wakes = waiting.get(id) ?? new Set();
      waiting.set(id, wakes);
      let settled = false;
      const done = (finished: boolean) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        wakes.delete(wake);
        if (wakes.size === 0) waiting.delete(id);
        count--;
        // Nobody waits: the feed stops polling for us.
        if (count === 0) {
          unsubscribe?.();
          unsubscribe = null;
        }
        resolve(finished);
      };
      const wake = () => done(true);
      const timer = setTimeout(() => done(false), ms);
      wakes.add(wake);
      return { finished: promise, cancel: () => done(false) };
    },
    active: () => count,
  };
}
