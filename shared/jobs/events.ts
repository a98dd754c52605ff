/**
 * The live job feed of one API process. While anyone is subscribed it polls the jobs changed
 * since its cursor (an index on updated_at makes that cheap), from any process, and fans the
 * snapshots out to subscribers (the SSE connections). Deletions arrive by LISTEN on
 * `darkroom_jobs`, fed by a trigger on DELETE that names the job's owner. Polling replaced a
 * NOTIFY per write, which serialised every commit on Postgres' notification lock.
 *
 * Revoked keys arrive by LISTEN on `darkroom_keys` (a trigger on api_keys, migration 00009): the
 * hub tells every subscription made for that key, in every API process, so its stream can end.
 */
import { type Db, sql } from "../db/db.ts";
import { type JobJson, jobToJson } from "./json.ts";
import { type JobRow, jobsChangedSince, type JobWithCursor } from "./repo.ts";
import type { Logger } from "../logger.ts";

/** A change to one job; `owner` is the key that owns the job (null: made while the API was open). */
export type JobEvent =
  | { type: "job"; cursor: string; job: JobJson; owner: string | null }
  | { type: "job_deleted"; cursor: string; id: string; owner: string | null };

export type JobEventListener = (event: JobEvent) => void;

/** Who a subscription is for, and what to do when that key is revoked. */
export interface SubscribeOptions {
  /** The API key the subscriber authenticated with (none when the API is open). */
  keyId?: string | null;
  /** Called once when `keyId` is revoked (in any process). */
  onRevoked?: () => void;
  /** Called once when the process is stopping (`endStreams`): end the stream now. */
  onShutdown?: () => void;
}

export interface JobEventHub {
  /** Starts listening to Postgres; call once before serving. */
  start(): Promise<void>;
  /** Adds a subscriber; returns the function that removes it. */
  subscribe(listener: JobEventListener, options?: SubscribeOptions): () => void;
  /** Changes after an event id (for Last-Event-ID on reconnect). */
  replay(cursor: string): Promise<JobEvent[]>;
  /** Subscribers in this process; with `keyId`, only those of that key. */
  subscribers(keyId?: string): number;
  /**
   * The process is stopping: tells every subscriber (`onShutdown`), and every later one at once,
   * so the open streams end before the server drains instead of holding it open.
   */
  endStreams(): void;
  close(): Promise<void>;
}

export interface HubOptions {
  /** How often changes are polled while someone is subscribed (ms). */
  pollMs?: number;
  /** The job JSON of a row (adds what the row alone does not say, like `eta_s`). */
  toJson?: (row: JobRow) => JobJson;
}

const CHANNEL = "darkroom_jobs";
/** Revoked key ids (migration 00009). */
const KEYS_CHANNEL = "darkroom_keys";
const CURSOR = /^\d{1,20}$/;
/** Commits can land out of timestamp order: each poll looks this far back and de-duplicates. */
const SLACK_MS = 2000;

function toEvent(row: JobWithCursor, toJson: (row: JobRow) => JobJson): JobEvent {
  return { type: "job", cursor: row.cursor, job: toJson(row), owner: row.owner_key_id };
}

/** Creates the hub for one process. */
export function createJobEventHub(db: Db, logger: Logger, options: HubOptions = {}): JobEventHub {
  const pollMs = options.pollMs ?? 150;
  const toJson = options.toJson ?? ((row: JobRow) => jobToJson(row));
  const listeners = new Map<JobEventListener, SubscribeOptions>();
  /** Last cursor emitted per job, for de-duplication inside the slack window. */
  const seen = new Map<string, bigint>();
  let cursor: bigint | undefined;
  /** Bumped when the last subscriber leaves: a poll begun before then drops what it read. */
  let generation = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const unlisten: (() => Promise<void>)[] = [];
  let starting: Promise<void> | undefined;
  let polling: Promise<void> = Promise.resolve();
  let closed = false;
  let ending = false;

  const emit = (event: JobEvent) => {
    for (const listener of listeners.keys()) {
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
    const started = generation;
    let more = false;
    try {
      // The cursor is read once: the last subscriber may leave (and reset it) while this waits.
      let from = cursor;
      if (from === undefined) {
        const [row] = await db.query<{ c: string }>(
          sql`SELECT (extract(epoch FROM now()) * 1000000)::bigint::text AS c`,
        );
        from = BigInt(row.c);
      }
      const rows = await jobsChangedSince(db, from, { slackMs: SLACK_MS, limit: 500 });
      // Everyone left meanwhile: nobody wants these rows, and a newcomer starts fresh.
      if (started !== generation) return;
      more = rows.length === 500;
      let next = from;
      for (const row of rows) {
        const at = BigInt(row.cursor);
        if (at > next) next = at;
        const last = seen.get(row.id);
        if (last !== undefined && last >= at) continue;
        seen.set(row.id, at);
        emit(toEvent(row, toJson));
      }
      cursor = next;
      const horizon = next - BigInt(SLACK_MS * 2000);
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
    let msg: { id?: unknown; op?: unknown; owner_key_id?: unknown };
    try {
      msg = JSON.parse(payload);
    } catch {
      return;
    }
    if (typeof msg.id !== "string" || msg.op !== "delete" || listeners.size === 0) return;
    seen.delete(msg.id);
    emit({
      type: "job_deleted",
      cursor: String(BigInt(Date.now()) * 1000n),
      id: msg.id,
      // Without an owner (a notification from before migration 00009) only admins see it.
      owner: typeof msg.owner_key_id === "string" ? msg.owner_key_id : null,
    });
  };

  const onKeyRevoked = (keyId: string) => {
    for (const [listener, options] of listeners) {
      if (options.keyId !== keyId) continue;
      listeners.delete(listener);
      try {
        options.onRevoked?.();
      } catch (err) {
        logger.warn("event listener failed", { err });
      }
    }
    if (listeners.size === 0) reset();
  };

  const reset = () => {
    cursor = undefined; // start fresh for the next watcher
    seen.clear();
    generation++;
  };

  return {
    start() {
      starting ??= (async () => {
        unlisten.push(await db.listen(CHANNEL, onNotify));
        unlisten.push(await db.listen(KEYS_CHANNEL, onKeyRevoked));
      })().catch(async (err) => {
        await Promise.all(unlisten.splice(0).map((stop) => stop().catch(() => {})));
        starting = undefined; // a later start() tries again
        throw err;
      });
      return starting;
    },
    subscribe(listener, options = {}) {
      listeners.set(listener, options);
      if (ending) queueMicrotask(() => options.onShutdown?.());
      schedule(0);
      return () => {
        if (!listeners.delete(listener)) return;
        if (listeners.size === 0) reset();
      };
    },
    async replay(cursor) {
      if (!CURSOR.test(cursor)) return [];
      const since = BigInt(cursor);
      // A cursor from the future (or absurdly large) has nothing to replay.
      if (since > BigInt(Date.now() + 86_400_000) * 1000n) return [];
      try {
        return (await jobsChangedSince(db, since)).map((row) => toEvent(row, toJson));
      } catch (err) {
        logger.warn("cannot replay events", { err });
        return [];
      }
    },
    subscribers(keyId) {
      if (keyId === undefined) return listeners.size;
      let n = 0;
      for (const options of listeners.values()) if (options.keyId === keyId) n++;
      return n;
    },
    endStreams() {
      ending = true;
      for (const options of [...listeners.values()]) {
        try {
          options.onShutdown?.();
        } catch (err) {
          logger.warn("event listener failed", { err });
        }
      }
    },
    async close() {
      closed = true;
      clearTimeout(timer);
      listeners.clear();
      await starting?.catch(() => {});
      await Promise.all(unlisten.splice(0).map((stop) => stop().catch(() => {})));
      await polling;
    },
  };
}
