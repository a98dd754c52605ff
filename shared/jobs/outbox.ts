/**
 * The outbox of the submit path (migration 00014): accepted jobs that are not on the queue yet.
 * A submit puts a job here when the queue is away, either in the statement that stores it
 * (`addJobs(…, { outbox: true })` in repo.ts) or right after a refused enqueue (`addToOutbox`).
 * `dispatchOutbox` moves rows onto the queue; shared/jobs/dispatcher.ts runs it.
 */
import { type Db, sql } from "../db/db.ts";
import { type JobQueue, PRIORITIES, type PriorityName } from "../queue/queue.ts";
import { SUBMIT_DEADLINE_MS } from "./repo.ts";

/** The channel a new outbox row is announced on (trigger of migration 00014). */
export const OUTBOX_CHANNEL = "darkroom_outbox";

/** A stored job to put in the outbox. */
export interface OutboxEntry {
  id: string;
  request_id?: string | null;
}

/** Puts stored jobs in the outbox (a job already there stays once). */
export async function addToOutbox(db: Db, entries: OutboxEntry[]): Promise<void> {
  if (entries.length === 0) return;
  const rows = entries.map((e) => ({ id: e.id, request_id: e.request_id ?? null }));
  await db.query({
    timeoutMs: SUBMIT_DEADLINE_MS,
    ...sql`
    INSERT INTO job_outbox (job_id, request_id)
    SELECT r.id, r.request_id
    FROM jsonb_to_recordset(${JSON.stringify(rows)}::text::jsonb) AS r(id uuid, request_id text)
    ON CONFLICT (job_id) DO NOTHING`,
  });
}

/** True when some job waits in the outbox (the dispatcher's cheap sweep). */
export async function outboxHasJobs(db: Db): Promise<boolean> {
  const [row] = await db.query<{ any: boolean }>(
    sql`SELECT EXISTS (SELECT 1 FROM job_outbox) AS any`,
  );
  return row?.any === true;
}

/** How many jobs wait in the outbox (health, tests). */
export async function outboxSize(db: Db): Promise<number> {
  const [row] = await db.query<{ n: number }>(sql`SELECT count(*)::int AS n FROM job_outbox`);
  return row?.n ?? 0;
}

interface Taken {
  id: string;
  request_id: string | null;
  priority: PriorityName;
  status: string;
}

/**
 * Moves up to `limit` of the oldest outbox rows onto the queue, in one transaction: the rows are
 * taken (`FOR UPDATE SKIP LOCKED`, so dispatchers in other processes take others) and deleted,
 * their still-pending jobs are enqueued (one pipelined round trip), and only then is the delete
 * committed. When the queue refuses, the transaction rolls back and the rows stay for the next
 * try. Jobs canceled meanwhile leave the outbox without being queued; a deleted job's row went
 * with it. Returns how many rows were taken (a full batch means there may be more).
 */
export async function dispatchOutbox(db: Db, queue: JobQueue, limit = 500): Promise<number> {
  return await db.transaction(async (tx) => {
    const rows = await tx.query<Taken>(sql`
      WITH taken AS (
        SELECT job_id FROM job_outbox ORDER BY created_at LIMIT ${limit} FOR UPDATE SKIP LOCKED
      ), gone AS (
        DELETE FROM job_outbox o USING taken WHERE o.job_id = taken.job_id
        RETURNING o.job_id, o.request_id, o.created_at
      )
      SELECT gone.job_id AS id, gone.request_id, j.priority, j.status
      FROM gone JOIN jobs j ON j.id = gone.job_id
      ORDER BY gone.created_at`);
    // Concurrent enqueues leave as one pipelined round trip (the queue batches them).
    await Promise.all(
      rows.filter((r) => r.status === "pending").map((r) =>
        queue.enqueue(
          { jobId: r.id, requestId: r.request_id ?? undefined },
          { priority: PRIORITIES[r.priority] ?? PRIORITIES.normal },
        )
      ),
    );
    return rows.length;
  });
}
