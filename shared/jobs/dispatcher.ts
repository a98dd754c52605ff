/**
 * The outbox dispatcher: moves jobs kept in the outbox (shared/jobs/outbox.ts) onto the queue as
 * soon as it answers. One runs in every process (api, worker, start; shared/runtime.ts): they
 * take rows with SKIP LOCKED and the queue deduplicates by job id, so a job is queued once
 * however many run. It drains when
 *  - a row is added (LISTEN on `darkroom_outbox`, from any process),
 *  - the queue becomes reachable again (the queue's `onAvailable`: Redis answered), and
 *  - a sweep finds rows (every `sweepMs`, for a lost notification or rows left by a crash).
 * A drain the queue refuses is tried again with backoff (100 ms doubling to 2 s) while the queue
 * counts as reachable; while it is known to be away, the dispatcher waits for it to come back.
 */
import type { Db } from "../db/db.ts";
import type { Logger } from "../logger.ts";
import type { JobQueue } from "../queue/queue.ts";
import { dispatchOutbox, OUTBOX_CHANNEL, outboxHasJobs } from "./outbox.ts";

export interface DispatcherOptions {
  /** How often the outbox is looked at without a wake-up (ms). Default 2000. */
  sweepMs?: number;
  /** Rows per transaction. Default 500. */
  batch?: number;
}

export interface OutboxDispatcher {
  /** Drains soon (a job was just put in the outbox by this process). */
  wake(): void;
  /** Resolves when the current drain (if any) has ended (tests). */
  idle(): Promise<void>;
  /** Stops listening and sweeping, and waits for a drain under way. */
  close(): Promise<void>;
}

const RETRY_MIN_MS = 100;
const RETRY_MAX_MS = 2000;
/** A failing drain is logged at most this often. */
const LOG_EVERY_MS = 30_000;

/** Starts the dispatcher; the first drain runs at once (rows may be left from before). */
export function startOutboxDispatcher(
  deps: { db: Db; queue: JobQueue; logger: Logger },
  options: DispatcherOptions = {},
): OutboxDispatcher {
  const { db, queue, logger } = deps;
  const sweepMs = options.sweepMs ?? 2000;
  const batch = options.batch ?? 500;
  let closed = false;
  let wanted = false;
  let running: Promise<void> | null = null;
  let unlisten: (() => Promise<void>) | null = null;
  let listening: Promise<void> | null = null;
  let lastLogged = -Infinity;
  /** Ends the backoff sleep early (the queue is back, or closing). */
  let interrupt: (() => void) | undefined;

  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        interrupt = undefined;
        resolve();
      }
      interrupt = done;
    });

  const drain = async () => {
    let retryMs = RETRY_MIN_MS;
    let moved = 0;
    while (wanted && !closed) {
      wanted = false;
      // Known to be away: "back" (onAvailable) wakes us; no point in a transaction meanwhile.
      if (queue.available?.() === false) {
        wanted = true;
        break;
      }
      try {
        const n = await dispatchOutbox(db, queue, batch);
        moved += n;
        if (n >= batch) wanted = true;
        retryMs = RETRY_MIN_MS;
      } catch (err) {
        wanted = true;
        if (performance.now() - lastLogged >= LOG_EVERY_MS) {
          lastLogged = performance.now();
          logger.warn("cannot move jobs from the outbox to the queue yet; retrying", { err });
        }
        await sleep(retryMs);
        retryMs = Math.min(retryMs * 2, RETRY_MAX_MS);
      }
    }
    if (moved > 0) logger.info("queued jobs kept in the outbox", { count: moved });
  };

  const wake = () => {
    if (closed) return;
    wanted = true;
    running ??= drain().finally(() => {
      running = null;
      // A wake-up that came while the last round was ending.
      if (wanted && !closed && queue.available?.() !== false) wake();
    });
  };

  const listen = () => {
    if (unlisten || closed) return Promise.resolve();
    listening ??= db.listen(OUTBOX_CHANNEL, wake).then((stop) => {
      if (closed) return void stop().catch(() => {});
      unlisten = stop;
    }).catch((err) => {
      logger.debug("cannot listen for outbox rows yet; sweeping", { err });
    }).finally(() => {
      listening = null;
    });
    return listening;
  };

  const sweep = async () => {
    // LISTEN may have failed at start (the database away): try again at each sweep.
    void listen();
    if (running || queue.available?.() === false) return;
    try {
      if (await outboxHasJobs(db)) wake();
    } catch { /* the database is away; the next sweep looks again */ }
  };

  const stopAvailable = queue.onAvailable?.(() => {
    interrupt?.();
    wake();
  });
  const timer = setInterval(sweep, sweepMs);
  void listen();
  wake();

  return {
    wake,
    idle: async () => {
      while (running) await running;
    },
    async close() {
      closed = true;
      clearInterval(timer);
      stopAvailable?.();
      interrupt?.();
      await listening;
      await unlisten?.().catch(() => {});
      await running;
    },
  };
}
