/**
 * The worker's CPU priority (WORKER_NICE, off by default). With a remote provider a worker's jobs
 * wait on the provider while the API's requests wait on the CPU: where both share a machine, the
 * worker can take a lower priority (a higher niceness), so a request's turn comes first and the
 * worker works in the gaps (measured in docs/benchmarks.md, item 18). The `local` provider's jobs
 * are CPU work themselves, and a flood of requests then starves them: hence off by default.
 */
import { getPriority, setPriority } from "node:os";
import type { Logger } from "../shared/logger.ts";

/**
 * Raises this process's niceness to `nice` (never lowers it: a worker started with `nice 19`
 * stays there). On Linux the priority belongs to the calling thread; the threads the runtime
 * starts afterwards (its file and DNS pool) inherit it. Returns the niceness now in force, or
 * null where the platform refuses to tell or to change it (logged; the worker runs on).
 */
export function lowerPriority(nice: number, logger: Logger): number | null {
  try {
    const current = getPriority();
    if (nice <= current) return current;
    setPriority(nice);
    const now = getPriority();
    logger.info("worker priority lowered", { nice: now, was: current });
    return now;
  } catch (err) {
    logger.warn("cannot lower the worker's CPU priority", { nice, err });
    return null;
  }
}
