/**
 * Periodic housekeeping run by every worker: re-queue jobs whose queue message was lost (the
 * queue deduplicates by job id, so this is safe from many workers at once), prune finished
 * jobs and their images past the retention period, and remove expired uploads.
 */
import type { Db } from "../shared/db/db.ts";
import { deleteJobReturning, expiredJobs } from "../shared/jobs/repo.ts";
import type { Logger } from "../shared/logger.ts";
import type { JobQueue } from "../shared/queue/queue.ts";
import { requeueUnfinished } from "../shared/jobs/reconcile.ts";
import { flushSearchIndex } from "../shared/jobs/search.ts";
import { removeImages } from "../shared/media/thumbnails.ts";
import type { Storage } from "../shared/storage/storage.ts";
import { sweepExpiredUploads } from "../shared/uploads/store.ts";
import { type DispatchDeps, dispatchDue } from "../shared/webhooks/deliveries.ts";

export interface MaintenanceOptions {
  /** 0 keeps finished jobs forever. */
  retentionDays: number;
  reconcileIntervalS: number;
  /** Only jobs untouched for this long are re-queued (a running job updates its row). */
  staleAfterS?: number;
}

/** Deletes finished jobs older than the retention period, with their files. */
export async function pruneExpired(
  deps: { db: Db; storage: Storage; logger: Logger },
  retentionDays: number,
): Promise<number> {
  if (retentionDays <= 0) return 0;
  let pruned = 0;
  while (true) {
    const batch = await expiredJobs(deps.db, retentionDays, 200);
    if (batch.length === 0) break;
    for (const job of batch) {
      const deleted = await deleteJobReturning(deps.db, job.id);
      await removeImages(deps.storage, deleted?.images ?? []);
      pruned++;
    }
  }
  if (pruned > 0) deps.logger.info("pruned expired jobs", { count: pruned, retentionDays });
  return pruned;
}

/** Sends due outgoing webhooks every second; returns a function that stops it. */
export function startWebhookDispatcher(deps: DispatchDeps, everyMs = 1000): () => void {
  let running = false;
  const timer = setInterval(async () => {
    if (running) return;
    running = true;
    try {
      while (await dispatchDue(deps) > 0) { /* drain what is due */ }
    } catch (err) {
      deps.logger.warn("webhook dispatch failed; will try again", { err });
    } finally {
      running = false;
    }
  }, everyMs);
  return () => clearInterval(timer);
}

/**
 * Merges the search word index's pending entries every `everyMs` (see flushSearchIndex), so the
 * submits that add them never pay for the merge; returns a function that stops it.
 */
export function startSearchIndexFlush(
  deps: { db: Db; logger: Logger },
  everyMs = 2000,
): () => void {
  let running = false;
  const timer = setInterval(async () => {
    if (running) return;
    running = true;
    try {
      await flushSearchIndex(deps.db);
    } catch (err) {
      deps.logger.warn("cannot merge the search index's pending entries; will try again", { err });
    } finally {
      running = false;
    }
  }, everyMs);
  return () => clearInterval(timer);
}

/** Starts the periodic tasks; returns a function that stops them. */
export function startMaintenance(
  deps: { db: Db; queue: JobQueue; storage: Storage; logger: Logger },
  options: MaintenanceOptions,
): () => void {
  let running = false;
  let lastPrune = 0;
  const tick = async () => {
    if (running) return;
    running = true;
    try {
      await requeueUnfinished(deps.db, deps.queue, {
        logger: deps.logger,
        olderThanS: options.staleAfterS ?? 60,
      });
      // Uploads past their expiry that no job uses (a deleted job's expire at once).
      const removed = await sweepExpiredUploads(deps);
      if (removed > 0) deps.logger.info("removed expired uploads", { count: removed });
      if (Date.now() - lastPrune > 3600_000) {
        lastPrune = Date.now();
        await pruneExpired(deps, options.retentionDays);
      }
    } catch (err) {
      deps.logger.warn("maintenance failed; will try again", { err });
    } finally {
      running = false;
    }
  };
  const timer = setInterval(tick, options.reconcileIntervalS * 1000);
  const first = setTimeout(tick, Math.min(5000, options.reconcileIntervalS * 1000));
  return () => {
    clearInterval(timer);
    clearTimeout(first);
  };
}
