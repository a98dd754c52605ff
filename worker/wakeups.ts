/**
 * Early wake-ups for jobs waiting on a prediction: a Replicate webhook announces a finished
 * prediction on PREDICTION_CHANNEL (shared/webhooks/receipts.ts), and the worker polling it stops
 * sleeping at once instead of waiting for its next poll.
 */
import type { Db } from "../shared/db/db.ts";
import { PREDICTION_CHANNEL } from "../shared/webhooks/receipts.ts";

export interface Wakeups {
  /** Sleeps up to `ms`, returning early when `predictionId` is announced (or rejecting on abort). */
  sleep(predictionId: string, ms: number, signal: AbortSignal): Promise<void>;
  close(): Promise<void>;
}

/** Listens on the channel and wakes the matching sleepers. */
export async function createWakeups(db: Db): Promise<Wakeups> {
  const sleepers = new Map<string, Set<() => void>>();
  const unlisten = await db.listen(PREDICTION_CHANNEL, (payload) => {
    for (const wake of sleepers.get(payload) ?? []) wake();
  });
  return {
    sleep(predictionId, ms, signal) {
      return new Promise((resolve, reject) => {
        if (signal.aborted) return reject(signal.reason);
        const set = sleepers.get(predictionId) ?? new Set();
        sleepers.set(predictionId, set);
        const done = () => {
          clearTimeout(timer);
          signal.removeEventListener("abort", onAbort);
          set.delete(done);
          if (set.size === 0) sleepers.delete(predictionId);
        };
        const wake = () => {
          done();
          resolve();
        };
        const onAbort = () => {
          done();
          reject(signal.reason);
        };
        const timer = setTimeout(wake, ms);
        set.add(wake);
        signal.addEventListener("abort", onAbort, { once: true });
      });
    },
    close: () => unlisten(),
  };
}
