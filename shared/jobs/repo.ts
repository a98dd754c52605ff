/** Data access for the `jobs` table: plain functions taking the Db handle first. */
import {
  type Batched,
  type BatcherOptions,
  createBatcher,
  type Settled,
  settleEach,
} from "../batcher.ts";
import { type Db, fragment, join, sql } from "../db/db.ts";
import type { PriorityName } from "../queue/queue.ts";

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
  /** The thumbnail's file name; null when it could not be made; absent for older rows. */
  thumbnail?: string | null;
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
  priority: PriorityName;
  request_id: string | null;
  /** The API key that made the job (null while the API is open). */
  owner_key_id: string | null;
  webhook_url: string | null;
  webhook_events: string[] | null;
  /** The model as its provider knows it, once known (null on older rows: read `model`). */
  provider_model: string | null;
  /** The alias the job was submitted with (a model route), or null. */
  route: string | null;
  /** Place in the provider's own queue while the job waits there (fal), else null. */
  provider_queue_position: number | null;
  /** Whether the inputs were checked against the model's schema (null on older rows). */
  inputs_validated: boolean | null;
  /** Starred by its owner (the library's favourites; migration 00011). */
  starred: boolean;
  /** Predictions made for the job (spend; absent on rows older than migration 00012). */
  predictions?: number;
  /** The provider's predict time summed over its predictions (seconds), once known. */
  predict_time_s?: number | null;
  /** Estimated cost (USD), once known (shared/spend/pricing.ts). */
  cost_usd?: number | null;
  /** The estimate held against the owner key's budget while the job runs. */
  reserved_usd?: number;
}

/** What the worker learnt of a finished prediction, added to the job's spend. */
export interface PredictionSpend {
  /** Seconds of predict time (null when the provider did not say). */
  predictTimeS: number | null;
  /** Estimated cost (USD; null when it cannot be known). */
  costUsd: number | null;
}

export interface NewJob {
  id: string;
  prompt: string;
  negative_prompt?: string | null;
  model: string;
  parameters: Record<string, unknown>;
  provider: string;
  priority?: PriorityName;
  request_id?: string | null;
  owner_key_id?: string | null;
  webhook_url?: string | null;
  webhook_events?: string[] | null;
  /** The model as its provider knows it (null for a route until a target takes the job). */
  provider_model?: string | null;
  route?: string | null;
  /** False when the inputs passed unchecked (a route, or no schema to be had). */
  inputs_validated?: boolean | null;

  /** Estimate reserved against the owner key's budget (a trigger checks it; 0 = none). */
  reserved_usd?: number;
  /** Fingerprint of a `"dedupe": true` request (shared/spend/dedupe.ts). */
  dedupe_hash?: string | null;
}

/** A job row's columns, each prefixed with `alias` (numeric ones read as numbers). */
function columnsOf(alias: string) {
  const plain = `id, prompt, negative_prompt, model, parameters, status, progress, provider,
    provider_prediction_id, images, error_message, retry_count, created_at, started_at,
    completed_at, updated_at, priority, request_id, owner_key_id, webhook_url, webhook_events,
    predictions, predict_time_s, provider_model, route, provider_queue_position,
    inputs_validated, starred`.split(",").map((
    name,
  ) => `${alias}${name.trim()}`);
  const numeric = ["cost_usd", "reserved_usd"].map((n) => `${alias}${n}::float8 AS ${n}`);
  return fragment({ text: [...plain, ...numeric].join(", "), values: [] });
}

const COLUMNS = columnsOf("");
/** COLUMNS of `jobs j` in a statement that joins another relation (UPDATE ... FROM). */
const RETURNED = columnsOf("j.");

/** The columns of a JobRow, for statements written elsewhere (shared/jobs/search.ts). */
export const JOB_COLUMNS = COLUMNS;

/** True for completed, failed and canceled. */
export function isTerminal(status: JobStatus): boolean {
  return TERMINAL_STATUSES.includes(status);
}

/** Inserts a new pending job and returns it. */
export async function insertJob(db: Db, job: NewJob): Promise<JobRow> {
  const [row] = await db.query<JobRow>(sql`${insertStatement(job)} RETURNING ${COLUMNS}`);
  return row;
}

/**
 * How long a submit may wait on its INSERT: a statement lost with its connection (Postgres
 * restarting) answers 503 after this instead of holding the client for the pool's deadline.
 */
export const SUBMIT_DEADLINE_MS = 5000;

/** Inserts a new pending job without reading it back (the submit hot path). */
export async function addJob(db: Db, job: NewJob): Promise<void> {
  await db.query({ ...insertStatement(job), timeoutMs: SUBMIT_DEADLINE_MS });
}

/**
 * Inserts many new pending jobs in one statement (the submit path's group commit): the rows
 * travel as one JSON array, so the statement text is the same whatever the batch size.
 * created_at and updated_at come from clock_timestamp(), row by row, so a batch keeps the
 * order its requests arrived in. With `outbox`, the same statement also puts every job in the
 * outbox (shared/jobs/outbox.ts): stored and due for the queue, atomically.
 */
export async function addJobs(
  db: Db,
  jobs: NewJob[],
  options: { outbox?: boolean } = {},
): Promise<void> {
  if (jobs.length === 0) return;
  if (jobs.length === 1 && !options.outbox) return await addJob(db, jobs[0]);
  const rows = jobs.map((job, n) => ({ n, ...insertValues(job) }));
  const insert = fragment(sql`
    INSERT INTO jobs (id, prompt, negative_prompt, model, parameters, provider, priority,
                      request_id, owner_key_id, webhook_url, webhook_events, provider_model, route,
                      inputs_validated, reserved_usd, dedupe_hash, created_at, updated_at)
    SELECT r.id, r.prompt, r.negative_prompt, r.model, r.parameters, r.provider, r.priority,
           r.request_id, r.owner_key_id, r.webhook_url, r.webhook_events, r.provider_model,
           r.route, r.inputs_validated, r.reserved_usd, r.dedupe_hash, clock_timestamp(),
           clock_timestamp()
    FROM jsonb_to_recordset(${JSON.stringify(rows)}::text::jsonb) AS r(
      n int, id uuid, prompt text, negative_prompt text, model text, parameters jsonb,
      provider text, priority text, request_id text, owner_key_id uuid, webhook_url text,
      webhook_events text[], provider_model text, route text, inputs_validated boolean,
      reserved_usd numeric, dedupe_hash text)
    ORDER BY r.n`);
  await db.query({
    timeoutMs: SUBMIT_DEADLINE_MS,
    ...(options.outbox
      ? sql`WITH stored AS (${insert} RETURNING id, request_id)
        INSERT INTO job_outbox (job_id, request_id) SELECT id, request_id FROM stored`
      : insert),
  });
}

/**
 * `addJob` with group commit: concurrent submits share one INSERT and one commit. When a whole
 * batch is refused, each job is tried on its own, so one bad row fails alone. With `outbox`,
 * every job also enters the outbox in the same statement (see `addJobs`).
 */
export function batchedAddJob(
  db: Db,
  options: BatcherOptions & { outbox?: boolean } = {},
): Batched<NewJob, void> {
  const { outbox, ...batching } = options;
  return createBatcher(
    (jobs: NewJob[]) =>
      allOrEach(
        jobs,
        () => addJobs(db, jobs, { outbox }),
        (job) => outbox ? addJobs(db, [job], { outbox }) : addJob(db, job),
      ),
    { maxInFlight: 1, ...batching },
  );
}

/**
 * A list of job ids as rows `k(kid)`, to join with jobs in the batched statements: one JSON
 * parameter through `darkroom_ids` (migration 00008), whose small row estimate keeps the join
 * on the primary key, and whose unknown length lets Postgres keep one generic plan instead of
 * planning again at every call (as it does for `id = ANY($1)`).
 */
function idRows(ids: string[]) {
  return fragment(sql`darkroom_ids(${JSON.stringify(ids)}) AS k`);
}

/**
 * Runs the multi-row statement for a batch (`all` answers one value per item, or nothing for a
 * statement without results); when the statement refuses the batch because of one row's data,
 * runs the one-row statement for each item, so that row fails alone.
 */
async function allOrEach<I, O>(
  items: I[],
  all: () => Promise<O[] | void>,
  one: (item: I) => Promise<O>,
): Promise<Settled<O>[]> {
  try {
    const values = await all();
    return items.map((_, i) => ({ ok: true, value: (values ? values[i] : undefined) as O }));
  } catch (err) {
    if (items.length === 1 || !isRowError(err)) throw err;
    return await settleEach(items, one);
  }
}

/** Rows matched back to the ids asked for, in order (null for an id no row answered). */
function rowsFor(ids: string[], rows: JobRow[]): Settled<JobRow | null>[] {
  const byId = new Map(rows.map((row) => [row.id, row]));
  return ids.map((id) => ({ ok: true, value: byId.get(id) ?? null }));
}

/**
 * True for an error about the data of some row (SQLSTATE class 22, data exception, or 23,
 * integrity constraint): worth retrying the batch row by row. A connection or timeout error
 * would fail every row again.
 */
function isRowError(err: unknown): boolean {
  const code = (err as { code?: unknown })?.code;
  // 40P01: a deadlock (two batches settling the spend of the same keys in another order) aborts
  // the statement; one row at a time cannot deadlock.
  return typeof code === "string" && (/^2[23][0-9A-Z]{3}$/.test(code) || code === "40P01");
}

/** A new job's column values, defaults filled in (one row of an INSERT). */
function insertValues(job: NewJob) {
  return {
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
    provider_model: job.provider_model ?? null,
    route: job.route ?? null,
    inputs_validated: job.inputs_validated ?? null,
    reserved_usd: job.reserved_usd ?? 0,
    dedupe_hash: job.dedupe_hash ?? null,
  };
}

function insertStatement(job: NewJob) {
  const v = insertValues(job);
  return fragment(sql`
    INSERT INTO jobs (id, prompt, negative_prompt, model, parameters, provider, priority, request_id,
                      owner_key_id, webhook_url, webhook_events, provider_model, route,
                      inputs_validated, reserved_usd, dedupe_hash)
    VALUES (${v.id}, ${v.prompt}, ${v.negative_prompt}, ${v.model}, ${v.parameters}, ${v.provider},
            ${v.priority}, ${v.request_id}, ${v.owner_key_id}, ${v.webhook_url},
            ${v.webhook_events}, ${v.provider_model}, ${v.route}, ${v.inputs_validated},
            ${v.reserved_usd}, ${v.dedupe_hash})`);
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
 * error, retry_count reset, `reservedUsd` reserved against its key's budget (a trigger refuses
 * it past the budget: SQLSTATE DR402). Returns null when the job is not failed or canceled.
 */
export async function resetForRetry(db: Db, id: string, reservedUsd = 0): Promise<JobRow | null> {
  const [row] = await db.query<JobRow>(sql`
    UPDATE jobs SET status = 'pending', progress = 0, error_message = NULL, retry_count = 0,
                    provider_prediction_id = NULL, images = '[]'::jsonb, started_at = NULL,
                    completed_at = NULL, updated_at = now(), provider_queue_position = NULL,
                    provider_model = CASE WHEN route IS NULL THEN provider_model END,
                    reserved_usd = ${reservedUsd}
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
      // A reservation against a budget (reserved_usd) is checked by a trigger of this INSERT.
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
    sql`SELECT ${COLUMNS} FROM ${idRows(ids)} JOIN jobs ON jobs.id = k.kid`,
  );
}

/**
 * `getJob` for the read hot path (GET /status/{id}): concurrent reads share one query. A read
 * joins only a query that has not started yet, so it still sees every commit made before it
 * arrived. One query at a time (like the submit's INSERT): the reads that arrive meanwhile leave
 * together in the next, so under load there are fewer, larger queries; a stuck query holds the
 * others for at most the batcher's `staleMs`. Measured against two and three: docs/benchmarks.md,
 * item 19.
 */
export function batchedGetJob(
  db: Db,
  options: BatcherOptions = {},
): Batched<string, JobRow | null> {
  return createBatcher(
    async (ids: string[]) => rowsFor(ids, await getJobs(db, [...new Set(ids)])),
    { maxInFlight: 1, ...options },
  );
}

export interface ListOptions {
  skip: number;
  limit: number;
  status?: JobStatus;
  /** Only this API key's jobs (undefined = every job). */
  owner?: string;
  /** Only the jobs this provider holds (or, for a route not placed yet, will try first). */
  provider?: string;
}

function listWhere(options: { status?: JobStatus; owner?: string; provider?: string }) {
  const parts = [
    options.status ? sql`status = ${options.status}` : null,
    options.owner ? sql`owner_key_id = ${options.owner}` : null,
    options.provider ? sql`provider = ${options.provider}` : null,
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

/** Counts jobs (optionally of one status, of one owner, of one provider). */
export async function countJobs(
  db: Db,
  status?: JobStatus,
  owner?: string,
  provider?: string,
): Promise<number> {
  const [row] = await db.query<{ n: number }>(
    sql`SELECT count(*)::int AS n FROM jobs ${listWhere({ status, owner, provider })}`,
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

/** Which provider took a job's prediction, and under which model (a route's target). */
export interface ServedBy {
  provider: string;
  model: string;
}

/**
 * Stores the provider's prediction id as soon as it exists (so a retry resumes, not re-pays),
 * with the provider and model that hold it when given (a job on a route).
 */
export async function setPrediction(
  db: Db,
  id: string,
  predictionId: string,
  served?: ServedBy,
): Promise<void> {
  await db.query(sql`
    UPDATE jobs SET provider_prediction_id = ${predictionId}, predictions = predictions + 1,
                    updated_at = now(),
                    provider = coalesce(${served?.provider ?? null}::text, provider),
                    provider_model = coalesce(${served?.model ?? null}::text, provider_model)
    WHERE id = ${id} AND status = 'processing'`);
}

/** Records the job's place in the provider's queue (null once it runs there). */
export async function setProviderQueuePosition(
  db: Db,
  id: string,
  position: number | null,
): Promise<void> {
  await db.query(sql`
    UPDATE jobs SET provider_queue_position = ${position}, updated_at = now()
    WHERE id = ${id} AND status = 'processing'
      AND provider_queue_position IS DISTINCT FROM ${position}::int`);
}

/** True when a processing job is waiting on the provider's prediction `predictionId`. */
export async function isPredictionAwaited(db: Db, predictionId: string): Promise<boolean> {
  const rows = await db.query(sql`
    SELECT id FROM jobs WHERE provider_prediction_id = ${predictionId} AND status = 'processing'`);
  return rows.length > 0;
}

/** Raises the progress of the processing job waiting on `predictionId` (never lowers it). */
export async function raisePredictionProgress(
  db: Db,
  predictionId: string,
  progress: number,
): Promise<void> {
  await db.query(sql`
    UPDATE jobs SET progress = ${progress}::real, updated_at = now()
    WHERE provider_prediction_id = ${predictionId} AND status = 'processing'
      AND progress < ${progress}::real`);
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

/**
 * A worker's between-polls check for several jobs in one statement: writes each job's new
 * progress (when given, and only while it is processing) and answers every job's status
 * (missing ids are absent: deleted). The last entry for a job wins.
 */
export async function checkInMany(
  db: Db,
  items: { id: string; progress: number | null }[],
): Promise<Map<string, JobStatus>> {
  if (items.length === 0) return new Map();
  const last = new Map(
    items.map((i) => [i.id, i.progress === null ? null : Math.max(0, Math.min(100, i.progress))]),
  );
  const writes = [...last].filter(([, progress]) => progress !== null);
  const values = JSON.stringify(writes.map(([id, progress]) => ({ id, progress })));
  const rows = await db.query<{ id: string; status: JobStatus }>(sql`
    WITH written AS (
      UPDATE jobs j SET progress = v.progress, updated_at = now()
      FROM ${idRows(writes.map(([id]) => id))},
           jsonb_to_recordset(${values}::text::jsonb) AS v(id uuid, progress real)
      WHERE j.id = k.kid AND v.id = k.kid AND j.status = 'processing'
        AND j.progress IS DISTINCT FROM v.progress
      RETURNING j.id
    )
    SELECT id, status FROM ${idRows([...last.keys()])} JOIN jobs ON jobs.id = k.kid`);
  return new Map(rows.map((row) => [row.id, row.status]));
}

/** Claims several jobs at once (pending/processing → processing), like `markProcessing`. */
export async function markProcessingMany(db: Db, ids: string[]): Promise<JobRow[]> {
  if (ids.length === 0) return [];
  return await db.query<JobRow>(sql`
    UPDATE jobs SET status = 'processing', started_at = coalesce(started_at, now()),
                    error_message = NULL, updated_at = now()
    FROM ${idRows(ids)}
    WHERE jobs.id = k.kid AND status IN ('pending', 'processing')
    RETURNING ${COLUMNS}`);
}

/** `setPrediction` for several processing jobs in one statement. */
export async function setPredictions(
  db: Db,
  updates: { id: string; predictionId: string; served?: ServedBy }[],
): Promise<void> {
  if (updates.length === 0) return;
  const values = updates.map((u) => ({
    id: u.id,
    prediction_id: u.predictionId,
    provider: u.served?.provider ?? null,
    provider_model: u.served?.model ?? null,
  }));
  await db.query(sql`
    UPDATE jobs j SET provider_prediction_id = v.prediction_id, predictions = j.predictions + 1,
                      updated_at = now(),
                      provider = coalesce(v.provider, j.provider),
                      provider_model = coalesce(v.provider_model, j.provider_model)
    FROM ${idRows(updates.map((u) => u.id))}, jsonb_to_recordset(${
    JSON.stringify(values)
  }::text::jsonb) AS v(id uuid, prediction_id text, provider text, provider_model text)
    WHERE j.id = k.kid AND v.id = k.kid AND j.status = 'processing'`);
}

/** `markCompleted` for several jobs in one statement; returns the ids that were completed. */
export async function markCompletedMany(
  db: Db,
  updates: { id: string; images: StoredImage[]; spend?: PredictionSpend }[],
): Promise<Set<string>> {
  if (updates.length === 0) return new Set();
  const values = updates.map((u) => ({
    id: u.id,
    images: u.images,
    predict_time_s: u.spend?.predictTimeS ?? null,
    cost_usd: u.spend?.costUsd ?? null,
  }));
  const rows = await db.query<{ id: string }>(sql`
    UPDATE jobs j SET status = 'completed', images = v.images, progress = 100,
                      error_message = NULL, completed_at = now(), updated_at = now(),
                      ${ADD_SPEND}
    FROM ${idRows(updates.map((u) => u.id))},
         jsonb_to_recordset(${JSON.stringify(values)}::text::jsonb)
           AS v(id uuid, images jsonb, predict_time_s float8, cost_usd numeric)
    WHERE j.id = k.kid AND v.id = k.kid AND j.status IN ('pending', 'processing')
    RETURNING j.id`);
  return new Set(rows.map((row) => row.id));
}

/** The statements a worker makes for each job it runs, from claim to completion. */
export interface WorkerQueries {
  /** Claims the job (see `markProcessing`); null when it is finished or gone. */
  claim(id: string): Promise<JobRow | null>;
  /** Stores the provider's prediction id, and who holds it (see `setPrediction`). */
  setPrediction(id: string, predictionId: string, served?: ServedBy): Promise<void>;
  /**
   * Between polls: records the progress (when not null) and answers the job's status (null once
   * deleted), so a cancel or delete shows up.
   */
  checkIn(id: string, progress: number | null): Promise<JobStatus | null>;
  /**
   * Marks the job completed with its images, adding the prediction's spend; false when it was no
   * longer running.
   */
  complete(id: string, images: StoredImage[], spend?: PredictionSpend): Promise<boolean>;
}

/**
 * `SET` items adding a finished prediction's spend (`v.predict_time_s`, `v.cost_usd`) to the
 * job's (`j`): a job's figures sum all its predictions; unknown stays unknown.
 */
const ADD_SPEND = fragment(sql`
  predict_time_s = CASE WHEN v.predict_time_s IS NULL THEN j.predict_time_s
                        ELSE coalesce(j.predict_time_s, 0) + v.predict_time_s END,
  cost_usd = CASE WHEN v.cost_usd IS NULL THEN j.cost_usd
                  ELSE coalesce(j.cost_usd, 0) + v.cost_usd END`);

/** WorkerQueries with one statement per call (tests, tools). */
export function directWorkerQueries(db: Db): WorkerQueries {
  return {
    claim: (id) => markProcessing(db, id),
    setPrediction: (id, predictionId, served) => setPrediction(db, id, predictionId, served),
    checkIn: async (id, progress) => {
      if (progress !== null) await setProgress(db, id, progress);
      return await getStatus(db, id);
    },
    complete: async (id, images, spend) => (await markCompleted(db, id, images, spend)) !== null,
  };
}

/**
 * WorkerQueries where the running jobs share statements (group commit): a worker running 64
 * jobs asks Postgres a few times per round instead of once per job. Every call still waits for
 * its own statement to commit, and a read joins only a statement that has not started, so it
 * sees every commit made before it was asked. Two statements of each kind at a time (one was
 * measured and not kept: docs/benchmarks.md, "Measured and not kept (after midnight)").
 */
export function batchedWorkerQueries(db: Db, options: BatcherOptions = {}): WorkerQueries {
  const opts = { maxInFlight: 2, ...options };
  const claim = createBatcher(
    async (ids: string[]) => rowsFor(ids, await markProcessingMany(db, [...new Set(ids)])),
    opts,
  );
  const predictions = createBatcher(
    (updates: { id: string; predictionId: string; served?: ServedBy }[]) =>
      allOrEach(
        updates,
        () => setPredictions(db, updates),
        (u) => setPrediction(db, u.id, u.predictionId, u.served),
      ),
    opts,
  );
  const checkIn = createBatcher(async (items: { id: string; progress: number | null }[]) => {
    const found = await checkInMany(db, items);
    return items.map((i) => ({ ok: true, value: found.get(i.id) ?? null }));
  }, opts);
  const complete = createBatcher(
    (updates: { id: string; images: StoredImage[]; spend?: PredictionSpend }[]) =>
      allOrEach(
        updates,
        async () => {
          const done = await markCompletedMany(db, updates);
          return updates.map((u) => done.has(u.id));
        },
        async (u) => (await markCompleted(db, u.id, u.images, u.spend)) !== null,
      ),
    opts,
  );
  return {
    claim,
    setPrediction: (id, predictionId, served) => predictions({ id, predictionId, served }),
    checkIn: (id, progress) => checkIn({ id, progress }),
    complete: (id, images, spend) => complete({ id, images, spend }),
  };
}

/** Marks a processing job completed with its stored images. */
export async function markCompleted(
  db: Db,
  id: string,
  images: StoredImage[],
  spend?: PredictionSpend,
): Promise<JobRow | null> {
  const [row] = await db.query<JobRow>(sql`
    UPDATE jobs j SET status = 'completed', images = ${images}, progress = 100,
                      error_message = NULL, completed_at = now(), updated_at = now(), ${ADD_SPEND}
    FROM (SELECT ${spend?.predictTimeS ?? null}::float8 AS predict_time_s,
                 ${spend?.costUsd ?? null}::numeric AS cost_usd) v
    WHERE j.id = ${id} AND j.status IN ('pending', 'processing')
    RETURNING ${RETURNED}`);
  return row ?? null;
}

/** Marks a non-terminal job failed (or canceled) with a message. */
export async function markFailed(
  db: Db,
  id: string,
  message: string,
  status: "failed" | "canceled" = "failed",
  spend?: PredictionSpend,
): Promise<JobRow | null> {
  const [row] = await db.query<JobRow>(sql`
    UPDATE jobs j SET status = ${status}, error_message = ${message.slice(0, 4000)},
                      completed_at = now(), updated_at = now(), ${ADD_SPEND}
    FROM (SELECT ${spend?.predictTimeS ?? null}::float8 AS predict_time_s,
                 ${spend?.costUsd ?? null}::numeric AS cost_usd) v
    WHERE j.id = ${id} AND j.status IN ('pending', 'processing')
    RETURNING ${RETURNED}`);
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

/**
 * Jobs per status created in the last `hours` hours, and the median duration of completed ones;
 * with `owner`, only that key's jobs.
 */
export async function recentStats(
  db: Db,
  hours = 1,
  options: { owner?: string } = {},
): Promise<{ byStatus: Record<string, number>; medianDurationS: number | null }> {
  const since = options.owner === undefined
    ? fragment(sql`created_at > now() - make_interval(hours => ${hours})`)
    : fragment(sql`created_at > now() - make_interval(hours => ${hours})
                   AND owner_key_id = ${options.owner}`);
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
    ORDER BY started_at, worker_id`);
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
