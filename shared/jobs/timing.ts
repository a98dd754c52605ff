/**
 * When an unfinished job should be done and how many jobs wait before it: the `eta_s` and
 * `queue_position` of the job JSON.
 *
 * - A model's typical run is the median time from start to completion of its jobs among the last
 *   `recentRuns` completed jobs (at least three of them), read again every `runsTtlMs`.
 * - The waiting line is the first `queueDepth` pending jobs in the order the queue takes them
 *   (priority, then age), with the workers' total concurrency from their heartbeats, read again at
 *   most every `queueTtlMs` while someone asks about a pending job.
 *
 * Reads never wait for these (only for the very first read of the line or of the run times):
 * what is known is used and a refresh runs in the background, so a busy status endpoint costs at
 * most one small query a second.
 */
import { type Db, sql } from "../db/db.ts";
import type { Logger } from "../logger.ts";
import type { JobRow } from "./repo.ts";

/** What the job JSON says about an unfinished job's timing (null when unknown or finished). */
export interface LiveTiming {
  /** Seconds until the job should be finished. */
  eta_s: number | null;
  /** 1 for the next job to start; null when not pending or beyond the jobs looked at. */
  queue_position: number | null;
}

/** The timing of jobs, from figures kept for a short while (one per API process). */
export interface JobTimings {
  /** The timing of one job from what is known now; starts a refresh when it is old. */
  of(row: JobRow): LiveTiming;
  /** Waits for a first reading when nothing is known yet and some row is unfinished. */
  ready(rows: readonly JobRow[]): Promise<void>;
}

/** Settings of `createJobTimings`. */
export interface TimingOptions {
  /** Completed jobs the typical runs are taken from (default 500). */
  recentRuns?: number;
  runsTtlMs?: number;
  /** Pending jobs whose place is known (default 1000). */
  queueDepth?: number;
  queueTtlMs?: number;
  now?: () => number;
  logger?: Logger;
}

/** No timing: a finished job, or one nothing is known about. */
export const NO_TIMING: LiveTiming = { eta_s: null, queue_position: null };

/** Keeps a value read by `load`, refreshed in the background once older than `ttlMs`. */
function refreshing<T>(load: () => Promise<T>, ttlMs: number, now: () => number, log?: Logger) {
  let value: T | undefined;
  let at = -Infinity;
  let running: Promise<void> | undefined;
  const refresh = () => {
    running ??= load().then((v) => {
      value = v;
      at = now();
    }).catch((err) => {
      // Tried again after a while, not at every read.
      at = now();
      log?.warn("cannot read job timings", { err });
    }).finally(() => {
      running = undefined;
    });
    return running;
  };
  return {
    get(): T | undefined {
      if (now() - at >= ttlMs) void refresh();
      return value;
    },
    async first(): Promise<void> {
      if (value === undefined && at === -Infinity) await refresh();
    },
  };
}

/** Creates the timings of one process. */
export function createJobTimings(db: Db, options: TimingOptions = {}): JobTimings {
  const now = options.now ?? Date.now;
  const recentRuns = options.recentRuns ?? 500;
  const depth = options.queueDepth ?? 1000;
  const runs = refreshing(
    async () => {
      const rows = await db.query<{ model: string; s: number }>(sql`
        SELECT model,
               (percentile_cont(0.5) WITHIN GROUP (
                  ORDER BY extract(epoch FROM completed_at - started_at)))::float8 AS s
        FROM (SELECT model, started_at, completed_at FROM jobs
              WHERE status = 'completed' ORDER BY created_at DESC LIMIT ${recentRuns}) AS r
        WHERE started_at IS NOT NULL AND completed_at >= started_at
        GROUP BY model HAVING count(*) >= 3`);
      return new Map(rows.map((r) => [r.model, Number(r.s)]));
    },
    options.runsTtlMs ?? 30_000,
    now,
    options.logger,
  );
  const line = refreshing(
    async () => {
      const [waiting, workers] = await Promise.all([
        db.query<{ id: string }>(sql`
          SELECT id FROM jobs WHERE status = 'pending'
          ORDER BY CASE priority WHEN 'high' THEN 0 WHEN 'normal' THEN 1 ELSE 2 END,
                   created_at, id
          LIMIT ${depth}`),
        db.query<{ n: number }>(sql`
          SELECT coalesce(sum(concurrency), 0)::int AS n FROM worker_heartbeats
          WHERE last_seen > now() - interval '15 seconds'`),
      ]);
      return {
        places: new Map(waiting.map((r, i) => [r.id, i + 1])),
        capacity: workers[0]?.n ?? 0,
      };
    },
    options.queueTtlMs ?? 1000,
    now,
    options.logger,
  );

  return {
    of(row) {
      if (row.status === "processing") {
        const typical = runs.get()?.get(row.model);
        return { eta_s: processingEta(row, typical, now()), queue_position: null };
      }
      if (row.status !== "pending") return NO_TIMING;
      const known = line.get();
      const place = known?.places.get(row.id) ?? null;
      const typical = runs.get()?.get(row.model);
      const eta = place !== null && typical !== undefined && known && known.capacity > 0
        ? round(typical * Math.ceil(place / known.capacity))
        : null;
      return { eta_s: eta, queue_position: place };
    },
    async ready(rows) {
      const open = rows.filter((r) => r.status === "pending" || r.status === "processing");
      if (open.length === 0) return;
      await Promise.all([
        runs.first(),
        open.some((r) => r.status === "pending") ? line.first() : undefined,
      ]);
    },
  };
}

/**
 * A running job's remaining seconds: its model's typical run minus the time it has run; once it
 * runs longer than usual, what its progress says is left (null without progress).
 */
function processingEta(row: JobRow, typical: number | undefined, at: number): number | null {
  if (!row.started_at) return typical === undefined ? null : round(typical);
  const elapsed = Math.max(0, (at - new Date(row.started_at).getTime()) / 1000);
  if (typical !== undefined && elapsed < typical) return round(typical - elapsed);
  const p = row.progress;
  return p > 0 && p < 100 ? round((elapsed * (100 - p)) / p) : null;
}

function round(s: number): number {
  return Math.max(0, Math.round(s * 10) / 10);
}
