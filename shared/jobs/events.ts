/**
 * The live job feed of one API process. While anyone is subscribed it polls the jobs changed
 * since its cursor (an index on updated_at makes that cheap), from any process, and fans the
 * snapshots out to subscribers (the SSE connections). Deletions arrive by LISTEN on
 * `darkroom_jobs`, fed by a trigger on DELETE. Polling replaced a NOTIFY per write, which
 * serialised every commit on Postgres' notification lock.
 */
import { type Db, sql } from "../db/db.ts";
import { type JobJson, jobToJson } from "./json.ts";
import { jobsChangedSince, type JobWithCursor } from "./repo.ts";
import type { Logger } from "../logger.ts";

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
  /** How often changes are polled while someone is subscribed (ms). */
  pollMs?: number;
}

const CHANNEL = "darkroom_jobs";
const CURSOR = /^\d{1,20}$/;
/** Commits can land out of timestamp order: each poll looks this far back and de-duplicates. */
const SLACK_MS = 2000;

function toEvent(row: JobWithCursor): JobEvent {
  return { type: "job", cursor: row.cursor, job: jobToJson(row), owner: row.owner_key_id };
}

/** Creates the hub for one process. */
export function createJobEventHub(db: Db, logger: Logger, options: HubOptions = {}): JobEventHub {
  const pollMs = options.pollMs ?? 150;
  const listeners = new Set<JobEventListener>();
  /** Last cursor emitted per job, for de-duplication inside the slack window. */
  const seen = new Map<string, bigint>();
  let cursor: bigint | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let unlisten: (() => Promise<void>) | undefined;
  let polling: Promise<void> = Promise.resolve();
  let closed = false;

  const emit = (event: JobEvent) => {
    for (const listener of listeners) {
      try {
        listener(event);
      } catch (err) {
        logger.warn("event listener failed", { err });
      }
    }
  };

  const poll = async () => {
    timer = undefined;
    if (closed || listeners.size === 0) return;
    let more = false;
    try {
      if (cursor === undefined) {
        const [row] = await db.query<{ c: string }>(
          sql`SELECT (extract(epoch FROM now()) * 1000000)::bigint::text AS c`,
        );
        cursor = BigInt(row.c);
      }
      const rows = await jobsChangedSince(db, cursor, { slackMs: SLACK_MS, limit: 500 });
      more = rows.length === 500;
      for (const row of rows) {
        const at = BigInt(row.cursor);
        if (at > cursor) cursor = at;
        const last = seen.get(row.id);
        if (last !== undefined && last >= at) continue;
        seen.set(row.id, at);
        emit(toEvent(row));
      }
      const horizon = cursor - BigInt(SLACK_MS * 2000);
      for (const [id, at] of seen) if (at < horizon) seen.delete(id);
    } catch (err) {
      logger.warn("cannot read changed jobs", { err });
    }
    schedule(more ? 0 : pollMs);
  };

  const schedule = (ms: number) => {
    if (closed || timer !== undefined || listeners.size === 0) return;
    timer = setTimeout(() => {
      polling = polling.then(poll);
    }, ms);
  };

  const onNotify = (payload: string) => {
    let msg: { id?: string; op?: string };
    try {
      msg = JSON.parse(payload);
    } catch {
      return;
    }
    if (typeof msg.id !== "string" || msg.op !== "delete" || listeners.size === 0) return;
    seen.delete(msg.id);
    emit({ type: "job_deleted", cursor: String(BigInt(Date.now()) * 1000n), id: msg.id });
  };

  return {
    async start() {
      unlisten ??= await db.listen(CHANNEL, onNotify);
    },
    subscribe(listener) {
      listeners.add(listener);
      schedule(0);
      return () => {
        listeners.delete(listener);
        if (listeners.size === 0) cursor = undefined; // start fresh for the next watcher
      };
    },
    async replay(cursor) {
      if (!CURSOR.test(cursor)) return [];
      const since = BigInt(cursor);
      // A cursor from the future (or absurdly large) has nothing to replay.
      if (since > BigInt(Date.now() + 86_400_000) * 1000n) return [];
      try {
        return (await jobsChangedSince(db, since)).map(toEvent);
      } catch (err) {
        logger.warn("cannot replay events", { err });
        return [];
      }
    },
    subscribers: () => listeners.size,
    async close() {
      closed = true;
      clearTimeout(timer);
      listeners.clear();
      await unlisten?.().catch(() => {});
      unlisten = undefined;
      await polling;
    },
  };
}
