/**
 * How a submit stores and queues a new job. Accepted means stored in Postgres: the job is either
 * on the queue or in the outbox (shared/jobs/outbox.ts), from which a dispatcher queues it as soon
 * as the queue answers. With the queue up, nothing changes on the hot path: the INSERT (group
 * commit) and the enqueue travel together, as before.
 */
import { UnavailableError } from "../shared/errors.ts";
import { addToOutbox, type OutboxEntry } from "../shared/jobs/outbox.ts";
import { batchedAddJob, deleteJob, type NewJob, SUBMIT_DEADLINE_MS } from "../shared/jobs/repo.ts";
import { createBatcher, settleEach } from "../shared/batcher.ts";
import type { Db } from "../shared/db/db.ts";
import type { Logger } from "../shared/logger.ts";
import { type JobQueue, PRIORITIES, type PriorityName } from "../shared/queue/queue.ts";

export interface JobStore {
  /**
   * Stores a new job and queues it. Queue up: the INSERT and the enqueue are sent at once and the
   * call waits for the slower. A refused INSERT takes its message back and rejects. A refused
   * enqueue keeps the stored job in the outbox instead (202 all the same); only if that write
   * fails too is the job removed (503). Queue known to be away: one statement stores the job and
   * its outbox row together, without trying the queue at all.
   */
  store(job: NewJob, requestId: string, log: Logger): Promise<void>;
  /**
   * Queues a job that is stored already (an idempotent submit, a retry); when the queue refuses
   * or is away, the job goes to the outbox. Rejects (503) only when neither worked.
   */
  queueStored(
    job: { id: string; priority?: PriorityName },
    requestId: string,
    log: Logger,
  ): Promise<void>;
}

/** Builds the store on the API's database and queue (one per app: it holds the batchers). */
export function createJobStore(deps: { db: Db; queue: JobQueue }): JobStore {
  const { db, queue } = deps;
  // Concurrent submits share one INSERT (group commit); an idle API sends each at once.
  const addPending = batchedAddJob(db);
  // While the queue is away: job + outbox row in one statement, shared the same way.
  const addOutboxed = batchedAddJob(db, { outbox: true });
  // A refused enqueue keeps its job in the outbox; a burst of them shares one INSERT.
  const keep = createBatcher(async (entries: OutboxEntry[]) => {
    try {
      await addToOutbox(db, entries);
      return entries.map(() => ({ ok: true as const, value: undefined }));
    } catch (err) {
      if (entries.length === 1) throw err;
      return await settleEach(entries, (e) => addToOutbox(db, [e]));
    }
  });

  const priorityOf = (p?: PriorityName) => PRIORITIES[p ?? "normal"];

  /** The enqueue was refused: keep the job for the dispatcher, or (failing that) 503. */
  const keepOrRemove = async (job: NewJob, reason: unknown, log: Logger) => {
    try {
      await keep({ id: job.id, request_id: job.request_id });
      log.warn("the queue refused a job; kept in the outbox", { jobId: job.id, err: reason });
    } catch (err) {
      log.warn("cannot queue a job nor keep it in the outbox; removing it", {
        jobId: job.id,
        err: reason,
        outboxErr: err,
      });
      await deleteJob(db, job.id).catch((e) =>
        log.error("cannot remove unqueued job", { jobId: job.id, err: e })
      );
      throw new UnavailableError("The job queue is unavailable; the job was not accepted");
    }
  };

  return {
    async store(job, requestId, log) {
      if (queue.available?.() === false) {
        await addOutboxed(job);
        return;
      }
      const message = {
        jobId: job.id,
        requestId,
        // The INSERT gives up after SUBMIT_DEADLINE_MS; the margin covers clocks a little apart.
        insertDeadline: Date.now() + SUBMIT_DEADLINE_MS + 2000,
      };
      const [inserted, queued] = await Promise.allSettled([
        addPending(job),
        queue.enqueue(message, { priority: priorityOf(job.priority) }),
      ]);
      if (inserted.status === "rejected") {
        if (queued.status === "fulfilled") {
          // A worker that took it already finds no row by the deadline and drops it.
          await queue.remove(job.id).catch((err) =>
            log.warn("cannot take back the message of a job not stored", { jobId: job.id, err })
          );
        }
        throw inserted.reason;
      }
      if (queued.status === "rejected") await keepOrRemove(job, queued.reason, log);
    },

    async queueStored(job, requestId, log) {
      let reason: unknown = "the queue is unavailable";
      if (queue.available?.() !== false) {
        try {
          await queue.enqueue({ jobId: job.id, requestId }, {
            priority: priorityOf(job.priority),
          });
          return;
        } catch (err) {
          reason = err;
        }
      }
      try {
        await keep({ id: job.id, request_id: requestId });
        log.warn("the queue refused a job; kept in the outbox", { jobId: job.id, err: reason });
      } catch (err) {
        log.warn("cannot queue a job nor keep it in the outbox", { jobId: job.id, err });
        throw new UnavailableError("The job queue is unavailable; try again shortly");
      }
    },
  };
}
