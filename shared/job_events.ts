/**
 * The live job feed of one API process: LISTENs to Postgres' `darkroom_jobs` channel (fed by a
 * trigger on every job change, from any process), reads the changed rows in small batches and
 * fans the snapshots out to subscribers (the SSE connections).
 */
import type { Db } from "./db.ts";
import { type JobJson, jobToJson } from "./job_json.ts";
import { getJobsWithCursor, jobsChangedSince } from "./jobs_repo.ts";
import type { Logger } from "./logger.ts";

export type JobEvent =
  | { type: "job"; cursor: string; job: JobJson; owner: string | null }
  | { type: "job_deleted"; cursor: string; id: string };

export type JobEventListener = (event: JobEvent) => void;

export interface JobEventHub {
  /** Starts listening to Postgres; call once before serving. */
  start(): Promise<void>;
  /** Adds a subscriber; returns the function that removes it. */
  subscribe(listener: JobEventListener): () => void;
  /** Changes after an event id (for Last-Event-ID on reconnect). */
  replay(cursor: string): Promise<JobEvent[]>;
  subscribers(): number;
  close(): Promise<void>;
}

export interface HubOptions {
  /** How long notifications are gathered before the changed rows are read (ms). */
  batchMs?: number;
}

const CHANNEL = "darkroom_jobs";
const CURSOR = /^\d{1,20}$/;

/** Creates the hub for one process. */
export function createJobEventHub(db: Db, logger: Logger, options: HubOptions = {}): JobEventHub {
  const listeners = new Set<JobEventListener>();
  const pending = new Set<string>();
  let deleted: string[] = [];
  let timer: ReturnType<typeof setTimeout> | undefined;
  let unlisten: (() => Promise<void>) | undefined;
  let flushing = Promise.resolve();

  const emit = (event: JobEvent) => {
    for (const listener of listeners) {
      try {
        listener(event);
      } catch (err) {
        logger.warn("event listener failed", { err });
      }
    }
  };

  const flush = async () => {
    timer = undefined;
    const ids = [...pending];
    pending.clear();
    const gone = deleted;
    deleted = [];
    for (const id of gone) emit({ type: "job_deleted", cursor: nowCursor(), id });
    if (ids.length === 0 || listeners.size === 0) return;
    try {
      const rows = await getJobsWithCursor(db, ids);
      rows.sort((a, b) => (BigInt(a.cursor) < BigInt(b.cursor) ? -1 : 1));
      for (const row of rows) {
        emit({
          type: "job",
          cursor: row.cursor,
          job: jobToJson(row),
          owner: row.owner_key_id,
        });
      }
    } catch (err) {
      logger.warn("cannot read changed jobs", { err, count: ids.length });
    }
  };

  const onNotify = (payload: string) => {
    let msg: { id?: string; op?: string };
    try {
      msg = JSON.parse(payload);
    } catch {
      return;
    }
    if (typeof msg.id !== "string" || listeners.size === 0) return;
    if (msg.op === "delete") {
      pending.delete(msg.id);
      deleted.push(msg.id);
    } else pending.add(msg.id);
    timer ??= setTimeout(() => {
      flushing = flushing.then(flush);
    }, options.batchMs ?? 15);
  };

  return {
    async start() {
      unlisten ??= await db.listen(CHANNEL, onNotify);
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    async replay(cursor) {
      if (!CURSOR.test(cursor)) return [];
      const since = BigInt(cursor);
      // A cursor from the future (or absurdly large) has nothing to replay.
      if (since > BigInt(Date.now() + 86_400_000) * 1000n) return [];
      let rows;
      try {
        rows = await jobsChangedSince(db, since);
      } catch (err) {
        logger.warn("cannot replay events", { err });
        return [];
      }
      return rows.map((row) => ({
        type: "job",
        cursor: row.cursor,
        job: jobToJson(row),
        owner: row.owner_key_id,
      }));
    },
    subscribers: () => listeners.size,
    async close() {
      clearTimeout(timer);
      listeners.clear();
      await unlisten?.().catch(() => {});
      unlisten = undefined;
      await flushing;
    },
  };
}

function nowCursor(): string {
  return String(BigInt(Date.now()) * 1000n);
}
