/** Data access for the `jobs` table: plain functions taking the Db handle first. */
import { type Batched, type BatcherOptions, createBatcher, settleEach } from "./batcher.ts";
import { type Db, fragment, join, sql } from "./db.ts";

export const JOB_STATUSES = ["pending", "processing", "completed", "failed", "canceled"] as const;
export type JobStatus = typeof JOB_STATUSES[number];
export const TERMINAL_STATUSES: readonly JobStatus[] = ["completed", "failed", "canceled"];

/** One stored output image (a file under STORAGE_PATH/generated/). */
export interface StoredImage {
  file: string;
  content_type: string;
  width: number | null;
  height: number | null;
  bytes: number;
}

export interface JobRow {
  id: string;
  prompt: string;
  negative_prompt: string | null;
  model: string;
  parameters: Record<string, unknown>;
  status: JobStatus;
  progress: number;
  provider: string;
  provider_prediction_id: string | null;
  images: StoredImage[];
  error_message: string | null;
  retry_count: number;
  created_at: Date;
  started_at: Date | null;
  completed_at: Date | null;
  updated_at: Date;
  priority: "high" | "normal" | "low";
  request_id: string | null;
  /** The API key that made the job (null while the API is open). */
  owner_key_id: string | null;
  webhook_url: string | null;
  webhook_events: string[] | null;
}

export interface NewJob {
  id: string;
  prompt: string;
  negative_prompt?: string | null;
  model: string;
  parameters: Record<string, unknown>;
  provider: string;
  priority?: "high" | "normal" | "low";
  request_id?: string | null;
  owner_key_id?: string | null;
  webhook_url?: string | null;
  webhook_events?: string[] | null;
}

const COLUMNS = fragment(sql`id, prompt, negative_prompt, model, parameters, status, progress,
  provider, provider_prediction_id, images, error_message, retry_count, created_at, started_at,
  completed_at, updated_at, priority, request_id, owner_key_id, webhook_url, webhook_events`);

/** True for completed, failed and canceled. */
export function isTerminal(status: JobStatus): boolean {
  return TERMINAL_STATUSES.includes(status);
}

/** Inserts a new pending job and returns it. */
export async function insertJob(db: Db, job: NewJob): Promise<JobRow> {
  const [row] = await db.query<JobRow>(sql`${insertStatement(job)} RETURNING ${COLUMNS}`);
  return row;
}

/** Inserts a new pending job without reading it back (the submit hot path). */
export async function addJob(db: Db, job: NewJob): Promise<void> {
  await db.query(insertStatement(job));
}

/**
 * Inserts many new pending jobs in one statement (the submit path's group commit): the rows
 * travel as one JSON array, so the statement text is the same whatever the batch size.
 * created_at and updated_at come from clock_timestamp(), row by row, so a batch keeps the
 * order its requests arrived in.
 */
export async function addJobs(db: Db, jobs: NewJob[]): Promise<void> {
  if (jobs.length === 0) return;
  if (jobs.length === 1) return await addJob(db, jobs[0]);
  const rows = jobs.map((job, n) => ({
    n,
    id: job.id,
    prompt: job.prompt,
    negative_prompt: job.negative_prompt ?? null,
    model: job.model,
    parameters: job.parameters,
    provider: job.provider,
    priority: job.priority ?? "normal",
    request_id: job.request_id ?? null,
    owner_key_id: job.owner_key_id ?? null,
    webhook_url: job.webhook_url ?? null,
    webhook_events: job.webhook_events ?? null,
  }));
  await db.query(sql`
    INSERT INTO jobs (id, prompt, negative_prompt, model, parameters, provider, priority,
                      request_id, owner_key_id, webhook_url, webhook_events, created_at, updated_at)
    SELECT r.id, r.prompt, r.negative_prompt, r.model, r.parameters, r.provider, r.priority,
           r.request_id, r.owner_key_id, r.webhook_url, r.webhook_events,
           clock_timestamp(), clock_timestamp()
    FROM jsonb_to_recordset(${JSON.stringify(rows)}::text::jsonb) AS r(
      n int, id uuid, prompt text, negative_prompt text, model text, parameters jsonb,
      provider text, priority text, request_id text, owner_key_id uuid, webhook_url text,
      webhook_events text[])
    ORDER BY r.n`);
}

/**
 * `addJob` with group commit: concurrent submits share one INSERT and one commit. When a whole
 * batch is refused, each job is tried on its own, so one bad row fails alone.
 */
export function batchedAddJob(db: Db, options: BatcherOptions = {}): Batched<NewJob, void> {
  return createBatcher(async (jobs: NewJob[]) => {
    try {
      await addJobs(db, jobs);
      return jobs.map(() => ({ ok: true, value: undefined }));
    } catch (err) {
      if (jobs.length === 1) return [{ ok: false, error: err }];
      return await settleEach(jobs, (job) => addJob(db, job));
    }
  }, { maxInFlight: 1, ...options });
}

function insertStatement(job: NewJob) {
  return fragment(sql`
    INSERT INTO jobs (id, prompt, negative_prompt, model, parameters, provider, priority, request_id,
                      owner_key_id, webhook_url, webhook_events)
    VALUES (${job.id}, ${job.prompt}, ${job.negative_prompt ?? null}, ${job.model},
            ${job.parameters}, ${job.provider}, ${job.priority ?? "normal"},
            ${job.request_id ?? null}, ${job.owner_key_id ?? null}, ${job.webhook_url ?? null},
            ${job.webhook_events ?? null})`);
}

/** The job's status only (the worker checks it between polls to notice a cancel). */
export async function getStatus(db: Db, id: string): Promise<JobStatus | null> {
  const [row] = await db.query<{ status: JobStatus }>(
    sql`SELECT status FROM jobs WHERE id = ${id}`,
  );
  return row?.status ?? null;
}

/** Cancels a job that is not finished; returns the updated row, or null when it was finished. */
export async function cancelJob(db: Db, id: string): Promise<JobRow | null> {
  return await markFailed(db, id, "Canceled by request", "canceled");
}

/**
 * Puts a failed or canceled job back to `pending` for a fresh run: no prediction, no images, no
 * error, retry_count reset. Returns null when the job is not failed or canceled.
 */
export async function resetForRetry(db: Db, id: string): Promise<JobRow | null> {
  const [row] = await db.query<JobRow>(sql`
    UPDATE jobs SET status = 'pending', progress = 0, error_message = NULL, retry_count = 0,
                    provider_prediction_id = NULL, images = '[]'::jsonb, started_at = NULL,
                    completed_at = NULL, updated_at = now()
    WHERE id = ${id} AND status IN ('failed', 'canceled')
    RETURNING ${COLUMNS}`);
  return row ?? null;
}

/** Deletes a job and returns the row as it was (for its files), or null. */
export async function deleteJobReturning(db: Db, id: string): Promise<JobRow | null> {
  const [row] = await db.query<JobRow>(sql`DELETE FROM jobs WHERE id = ${id} RETURNING ${COLUMNS}`);
  return row ?? null;
}

/** Finished jobs older than `days`, oldest first (for retention pruning). */
export function expiredJobs(db: Db, days: number, limit = 500): Promise<JobRow[]> {
  return db.query<JobRow>(sql`
    SELECT ${COLUMNS} FROM jobs
    WHERE status IN ('completed', 'failed', 'canceled')
      AND created_at < now() - make_interval(days => ${days})
    ORDER BY created_at LIMIT ${limit}`);
}

export interface IdempotencyRecord {
  request_hash: string;
  job_id: string;
}

/** Looks up an idempotency key. */
export async function findIdempotencyKey(
  db: Db,
  owner: string,
  key: string,
): Promise<IdempotencyRecord | null> {
  const [row] = await db.query<IdempotencyRecord>(sql`
    SELECT request_hash, job_id FROM idempotency_keys WHERE owner = ${owner} AND key = ${key}`);
  return row ?? null;
}

class KeyTaken extends Error {}

/**
 * Inserts a job and its idempotency key in one transaction. When another request holds the key,
 * nothing is kept and that request's record is returned instead (a concurrent twin waits on the
 * key's unique index, then sees it taken).
 */
export async function insertJobOnce(
  db: Db,
  job: NewJob,
  idem: { owner: string; key: string; requestHash: string },
): Promise<{ created: true } | { existing: IdempotencyRecord; created: false }> {
  try {
    return await db.transaction(async (tx) => {
      await addJob(tx, job);
      const claimed = await tx.query(sql`
        INSERT INTO idempotency_keys (owner, key, request_hash, job_id)
        VALUES (${idem.owner}, ${idem.key}, ${idem.requestHash}, ${job.id})
        ON CONFLICT DO NOTHING RETURNING key`);
      if (claimed.length === 0) throw new KeyTaken();
      return { created: true as const };
    });
  } catch (err) {
    if (!(err instanceof KeyTaken)) throw err;
    const existing = await findIdempotencyKey(db, idem.owner, idem.key);
    if (!existing) throw new Error(`Idempotency key ${idem.key} vanished`);
    return { existing, created: false };
  }
}

/** Fetches one job, or null. */
export async function getJob(db: Db, id: string): Promise<JobRow | null> {
  const [row] = await db.query<JobRow>(sql`SELECT ${COLUMNS} FROM jobs WHERE id = ${id}`);
  return row ?? null;
}

/** Several jobs by id (lower-case UUIDs), in one query; missing ids are simply absent. */
export async function getJobs(db: Db, ids: string[]): Promise<JobRow[]> {
  if (ids.length === 0) return [];
  if (ids.length === 1) {
    const row = await getJob(db, ids[0]);
    return row ? [row] : [];
  }
  return await db.query<JobRow>(
    sql`SELECT ${COLUMNS} FROM jobs WHERE id = ANY(string_to_array(${ids.join(",")}, ',')::uuid[])`,
  );
}

/**
 * `getJob` for the read hot path (GET /status/{id}): concurrent reads share one query. A read
 * joins only a query that has not started yet, so it still sees every commit made before it
 * arrived.
 */
export function batchedGetJob(
  db: Db,
  options: BatcherOptions = {},
): Batched<string, JobRow | null> {
  return createBatcher(async (ids: string[]) => {
    const rows = await getJobs(db, [...new Set(ids)]);
    const byId = new Map(rows.map((row) => [row.id, row]));
    return ids.map((id) => ({ ok: true, value: byId.get(id) ?? null }));
  }, { maxInFlight: 3, ...options });
}

export interface ListOptions {
  skip: number;
  limit: number;
  status?: JobStatus;
  /** Only this API key's jobs (undefined = every job). */
  owner?: string;
}

function listWhere(options: { status?: JobStatus; owner?: string }) {
  const parts = [
    options.status ? sql`status = ${options.status}` : null,
    options.owner ? sql`owner_key_id = ${options.owner}` : null,
  ].filter((p) => p !== null);
  return parts.length ? fragment(sql`WHERE ${join(parts, " AND ")}`) : fragment(sql``);
}

/** Newest-first page of jobs. */
export function listJobs(db: Db, options: ListOptions): Promise<JobRow[]> {
  return db.query<JobRow>(sql`
    SELECT ${COLUMNS} FROM jobs ${listWhere(options)}
    ORDER BY created_at DESC, id DESC
    OFFSET ${options.skip} LIMIT ${options.limit}`);
}

/** Counts jobs (optionally of one status, of one owner). */
export async function countJobs(
  db: Db,
  status?: JobStatus,
  owner?: string,
): Promise<number> {
  const [row] = await db.query<{ n: number }>(
    sql`SELECT count(*)::int AS n FROM jobs ${listWhere({ status, owner })}`,
  );
  return row.n;
}

/** Unfinished jobs of one owner (for the concurrent-jobs limit). */
export async function countActiveJobs(db: Db, owner: string): Promise<number> {
  const [row] = await db.query<{ n: number }>(sql`
    SELECT count(*)::int AS n FROM jobs
    WHERE owner_key_id = ${owner} AND status IN ('pending', 'processing')`);
  return row.n;
}

/** Deletes a job row (used when a job could not be queued at all). */
export async function deleteJob(db: Db, id: string): Promise<boolean> {
  const rows = await db.query(sql`DELETE FROM jobs WHERE id = ${id} RETURNING id`);
  return rows.length > 0;
}

/**
 * Moves a non-terminal job to `processing` (keeping its first started_at) and returns it;
 * returns null when the job is missing or already terminal.
 */
export async function markProcessing(db: Db, id: string): Promise<JobRow | null> {
  const [row] = await db.query<JobRow>(sql`
    UPDATE jobs SET status = 'processing', started_at = coalesce(started_at, now()),
                    error_message = NULL, updated_at = now()
    WHERE id = ${id} AND status IN ('pending', 'processing')
    RETURNING ${COLUMNS}`);
  return row ?? null;
}

/** Stores the provider's prediction id as soon as it exists (so a retry resumes, not re-pays). */
export async function setPrediction(db: Db, id: string, predictionId: string): Promise<void> {
  await db.query(sql`
    UPDATE jobs SET provider_prediction_id = ${predictionId}, updated_at = now()
    WHERE id = ${id} AND status = 'processing'`);
}

/** Updates progress (0–100) of a processing job; returns false when the job is not processing. */
export async function setProgress(db: Db, id: string, progress: number): Promise<boolean> {
  const value = Math.max(0, Math.min(100, progress));
  const rows = await db.query(sql`
    UPDATE jobs SET progress = ${value}, updated_at = now()
    WHERE id = ${id} AND status = 'processing' AND progress IS DISTINCT FROM ${value}
    RETURNING id`);
  return rows.length > 0;
}

/** Statuses of several jobs (lower-case UUIDs) in one query; missing ids are absent. */
export async function getStatuses(db: Db, ids: string[]): Promise<Map<string, JobStatus>> {
  if (ids.length === 0) return new Map();
  const rows = await db.query<{ id: string; status: JobStatus }>(sql`
    SELECT id, status FROM jobs WHERE id = ANY(string_to_array(${ids.join(",")}, ',')::uuid[])`);
  return new Map(rows.map((row) => [row.id, row.status]));
}

/**
 * Progress of several processing jobs in one statement; returns the ids that were updated
 * (a job that is no longer processing, or already at that value, is left alone).
 */
export async function setProgresses(
  db: Db,
  updates: { id: string; progress: number }[],
): Promise<Set<string>> {
  if (updates.length === 0) return new Set();
  const last = new Map(updates.map((u) => [u.id, Math.max(0, Math.min(100, u.progress))]));
  const values = JSON.stringify([...last].map(([id, progress]) => ({ id, progress })));
  const rows = await db.query<{ id: string }>(sql`
    UPDATE jobs j SET progress = v.progress, updated_at = now()
    FROM jsonb_to_recordset(${values}::text::jsonb) AS v(id uuid, progress real)
    WHERE j.id = v.id AND j.status = 'processing' AND j.progress IS DISTINCT FROM v.progress
    RETURNING j.id`);
  return new Set(rows.map((row) => row.id));
}

/** What a worker asks about its running jobs between provider polls, many jobs per query. */
export interface JobPolls {
  /** The job's status (null once deleted). */
  status(id: string): Promise<JobStatus | null>;
  /** Records progress; false when the job is no longer processing or already there. */
  progress(id: string, value: number): Promise<boolean>;
}

/**
 * JobPolls with concurrent calls sharing one statement each: a worker running 64 jobs asks
 * Postgres a few times per poll round instead of once per job. A call joins only a statement
 * that has not started, so a status read still sees every commit made before it was asked.
 */
export function batchedJobPolls(db: Db, options: BatcherOptions = {}): JobPolls {
  const status = createBatcher(async (ids: string[]) => {
    const found = await getStatuses(db, [...new Set(ids)]);
    return ids.map((id) => ({ ok: true, value: found.get(id) ?? null }));
  }, { maxInFlight: 2, ...options });
  const progress = createBatcher(async (updates: { id: string; progress: number }[]) => {
    const updated = await setProgresses(db, updates);
    return updates.map((u) => ({ ok: true, value: updated.has(u.id) }));
  }, { maxInFlight: 2, ...options });
  return { status, progress: (id, value) => progress({ id, progress: value }) };
}

/** Marks a processing job completed with its stored images. */
export async function markCompleted(
  db: Db,
  id: string,
  images: StoredImage[],
): Promise<JobRow | null> {
  const [row] = await db.query<JobRow>(sql`
    UPDATE jobs SET status = 'completed', images = ${images}, progress = 100,
                    error_message = NULL, completed_at = now(), updated_at = now()
    WHERE id = ${id} AND status IN ('pending', 'processing')
    RETURNING ${COLUMNS}`);
  return row ?? null;
}

/** Marks a non-terminal job failed (or canceled) with a message. */
export async function markFailed(
  db: Db,
  id: string,
  message: string,
  status: "failed" | "canceled" = "failed",
): Promise<JobRow | null> {
  const [row] = await db.query<JobRow>(sql`
    UPDATE jobs SET status = ${status}, error_message = ${message.slice(0, 4000)},
                    completed_at = now(), updated_at = now()
    WHERE id = ${id} AND status IN ('pending', 'processing')
    RETURNING ${COLUMNS}`);
  return row ?? null;
}

/**
 * Records a failed attempt that will be retried: bumps retry_count, keeps the prediction id so
 * the retry can resume it, and puts the job back to `pending` with the reason.
 */
export async function markRetrying(db: Db, id: string, message: string): Promise<JobRow | null> {
  const [row] = await db.query<JobRow>(sql`
    UPDATE jobs SET status = 'pending', retry_count = retry_count + 1,
                    error_message = ${message.slice(0, 4000)}, updated_at = now()
    WHERE id = ${id} AND status IN ('pending', 'processing')
    RETURNING ${COLUMNS}`);
  return row ?? null;
}

/** Clears a stored prediction id (the provider no longer knows it). */
export async function clearPrediction(db: Db, id: string): Promise<void> {
  await db.query(sql`
    UPDATE jobs SET provider_prediction_id = NULL, updated_at = now() WHERE id = ${id}`);
}

export interface StatsRow {
  status: JobStatus;
  n: number;
}

/** Jobs per status created in the last `hours` hours, and the median duration of completed ones. */
export async function recentStats(
  db: Db,
  hours = 1,
): Promise<{ byStatus: Record<string, number>; medianDurationS: number | null }> {
  const since = fragment(sql`created_at > now() - make_interval(hours => ${hours})`);
  const rows = await db.query<StatsRow>(
    sql`SELECT status, count(*)::int AS n FROM jobs WHERE ${since} GROUP BY status`,
  );
  const [median] = await db.query<{ s: number | null }>(sql`
    SELECT (percentile_cont(0.5) WITHIN GROUP (
      ORDER BY extract(epoch FROM completed_at - created_at)))::float8 AS s
    FROM jobs WHERE ${since} AND status = 'completed'`);
  return {
    byStatus: Object.fromEntries(rows.map((r) => [r.status, r.n])),
    medianDurationS: median?.s ?? null,
  };
}

/** Upserts a worker heartbeat row. */
export async function heartbeat(
  db: Db,
  w: { workerId: string; hostname: string; pid: number; concurrency: number; active: number },
): Promise<void> {
  await db.query(sql`
    INSERT INTO worker_heartbeats (worker_id, hostname, pid, concurrency, active)
    VALUES (${w.workerId}, ${w.hostname}, ${w.pid}, ${w.concurrency}, ${w.active})
    ON CONFLICT (worker_id) DO UPDATE
      SET active = excluded.active, last_seen = now()`);
}

/** Removes a worker's heartbeat (clean shutdown). */
export async function removeHeartbeat(db: Db, workerId: string): Promise<void> {
  await db.query(sql`DELETE FROM worker_heartbeats WHERE worker_id = ${workerId}`);
}

/** Workers seen within `withinS` seconds. */
export function liveWorkers(
  db: Db,
  withinS = 15,
): Promise<{ worker_id: string; hostname: string; active: number; concurrency: number }[]> {
  return db.query(sql`
    SELECT worker_id, hostname, active, concurrency FROM worker_heartbeats
    WHERE last_seen > now() - make_interval(secs => ${withinS})
    ORDER BY started_at`);
}

/** A job row with its change cursor (updated_at in epoch microseconds, for SSE event ids). */
export type JobWithCursor = JobRow & { cursor: string };

/**
 * Jobs changed after `cursor` (minus `slackMs`, so commits that landed out of timestamp order
 * are not missed; clients de-duplicate), oldest change first.
 */
export function jobsChangedSince(
  db: Db,
  cursor: bigint,
  options: { slackMs?: number; limit?: number } = {},
): Promise<JobWithCursor[]> {
  const from = Number(cursor - BigInt((options.slackMs ?? 2000) * 1000)) / 1e6;
  return db.query<JobWithCursor>(sql`
    SELECT ${COLUMNS}, (extract(epoch FROM updated_at) * 1000000)::bigint::text AS cursor
    FROM jobs WHERE updated_at > to_timestamp(${from})
    ORDER BY updated_at LIMIT ${options.limit ?? 500}`);
}

/** Ids of jobs that are not finished, oldest first (for re-queueing after a restart or outage). */
export async function unfinishedJobIds(
  db: Db,
  options: { olderThanS?: number; limit?: number } = {},
): Promise<string[]> {
  const rows = await db.query<{ id: string }>(sql`
    SELECT id FROM jobs
    WHERE status IN ('pending', 'processing')
      AND updated_at < now() - make_interval(secs => ${options.olderThanS ?? 0})
    ORDER BY created_at LIMIT ${options.limit ?? 10_000}`);
  return rows.map((r) => r.id);
}
