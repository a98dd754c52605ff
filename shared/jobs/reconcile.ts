/**
 * Re-queues unfinished jobs. Enqueueing uses the job id as the queue's dedup id, so a job that is
 * still queued or running is left alone; one whose message was lost (a crash between insert and
 * enqueue, a queue wiped by an outage) is queued again.
 */
import type { Db } from "../db/db.ts";
import { unfinishedJobIds } from "./repo.ts";
import type { Logger } from "../logger.ts";
import type { JobQueue } from "../queue/queue.ts";

/** Enqueues every unfinished job (older than `olderThanS`); returns how many were offered. */
export async function requeueUnfinished(
  db: Db,
  queue: JobQueue,
  options: { logger: Logger; olderThanS?: number },
): Promise<number> {
  // The queue known to be away: nothing could be queued (the next round tries again).
  if (queue.available?.() === false) return 0;
  const ids = await unfinishedJobIds(db, { olderThanS: options.olderThanS });
  // reviveDead: a job whose last attempt died with the database still unfinished is retried.
  for (const jobId of ids) await queue.enqueue({ jobId }, { reviveDead: true });
  if (ids.length > 0) options.logger.info("re-queued unfinished jobs", { count: ids.length });
  return ids.length;
}
