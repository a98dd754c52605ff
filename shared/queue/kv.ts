/**
 * The embedded job queue on Deno KV, for the single-process mode (no Redis).
 *
 * KV holds the durable state; one in-memory index (rebuilt from KV on open) schedules deliveries.
 * Keys:
 * - `["q","msg",id]`: one record per queued message (waiting, delayed or active), keyed by its
 *   dedup id; deleted when the handler acknowledges, so the id can be enqueued again.
 * - `["q","dead",id]`: the dead-letter set (messages whose last attempt failed).
 * - `["q","stat","completed"]`: a KvU64 counter of acknowledged messages.
 *
 * Deno's own `kv.enqueue` / `listenQueue` are not used: in one process they give no concurrency
 * limit, no priority and a ~60 s redelivery after a crash, and their copy of each message would be
 * a second source of truth beside the records. Instead deliveries are dispatched from memory as
 * soon as a listener has a free slot, and one timer waits for the next delayed message, so an idle
 * queue does no work. Only one process may use the KV file (another component holds a lock), so
 * anything `active` at open was orphaned by a process that stopped and is delivered again at once.
 */
import type { Logger } from "../logger.ts";
import { withTimeout } from "../timeout.ts";
import {
  type DeliveryContext,
  type EnqueueOptions,
  type JobQueue,
  type ListenOptions,
  type QueueHandler,
  type QueueListener,
  type QueueMessage,
  type QueueStats,
} from "./queue.ts";
import { retryDelayMs, type RetryPolicy } from "./retry.ts";

export interface KvQueueOptions {
  /** KV file, e.g. `./data/queue.kv`; undefined opens an in-memory store (tests). */
  path?: string;
  retry: RetryPolicy;
  logger: Logger;
  /** On close, how long running handlers may finish before their signal is aborted (ms). */
  drainTimeoutMs?: number;
  /**
   * After aborting, how long close still waits for handlers; a handler that has not settled by
   * then keeps its message `active` in KV, and the next open delivers it again (ms).
   */
  abortGraceMs?: number;
  /** Times a message may be recovered from `active` at open before it is dead-lettered. */
  maxRecoveries?: number;
}

type MessageState = "waiting" | "delayed" | "active";

/** The value stored at `["q","msg",id]`. */
interface StoredMessage {
  message: QueueMessage;
  /** The attempt this delivery is (1-based): the next one when queued, the current one when active. */
  attempt: number;
  /** As last written; a `delayed` record whose `runAt` has passed counts as waiting. */
  state: MessageState;
  /** Epoch ms before which the message is not delivered. */
  runAt: number;
  /** Lower runs first; 0 for messages enqueued without a priority (as BullMQ does). */
  priority: number;
  enqueuedAt: number;
  /** Times the message was found `active` at open (its process stopped mid-delivery). */
  recoveries: number;
  lastError?: string;
}

/** The value stored at `["q","dead",id]`. */
interface DeadLetter {
  message: QueueMessage;
  attempts: number;
  error: string;
  failedAt: number;
}

/** One record as the scheduler sees it. */
interface Entry extends StoredMessage {
  id: string;
  versionstamp: string;
  /** Insertion order, to keep FIFO among equals. */
  seq: number;
  /** Which in-memory structure holds the entry now. */
  slot: "ready" | "delayed" | "running" | "none";
}

interface ListenerState {
  handler: QueueHandler;
  concurrency: number;
  running: number;
  /** Bookkeeping included: close waits for these before the KV handle may close. */
  runs: Set<Promise<void>>;
  closing: boolean;
  abort: AbortController;
}

const MSG = "msg";
const DEAD = "dead";
const COMPLETED_KEY: Deno.KvKey = ["q", "stat", "completed"];

/** Opens (or creates) the KV queue and recovers messages a stopped process left `active`. */
export async function openKvQueue(options: KvQueueOptions): Promise<JobQueue> {
  const kv = await Deno.openKv(options.path ?? ":memory:");
  try {
    const state = await loadState(kv, options);
    return createKvQueue(kv, state, options);
  } catch (err) {
    kv.close();
    throw err;
  }
}

interface LoadedState {
  entries: Entry[];
  dead: Set<string>;
  completed: number;
}

/** Reads every record; turns orphaned `active` records into waiting ones (or dead letters). */
async function loadState(kv: Deno.Kv, options: KvQueueOptions): Promise<LoadedState> {
  const maxRecoveries = options.maxRecoveries ?? 2;
  const dead = new Set<string>();
  for await (const item of kv.list<DeadLetter>({ prefix: ["q", DEAD] })) {
    dead.add(String(item.key[2]));
  }
  const entries: Entry[] = [];
  let seq = 0;
  for await (const item of kv.list<StoredMessage>({ prefix: ["q", MSG] })) {
    const id = String(item.key[2]);
    const stored = item.value;
    if (stored.state !== "active") {
      entries.push({ ...stored, id, versionstamp: item.versionstamp, seq: seq++, slot: "none" });
      continue;
    }
    const recoveries = (stored.recoveries ?? 0) + 1;
    if (recoveries > maxRecoveries) {
      const error = `Delivery interrupted ${recoveries} times (the process stopped mid-delivery)`;
      const letter: DeadLetter = {
        message: stored.message,
        attempts: stored.attempt,
        error,
        failedAt: Date.now(),
      };
      await kv.atomic().check(item).delete(item.key).set(["q", DEAD, id], letter).commit();
      dead.add(id);
      options.logger.error("queued message dead-lettered after repeated interruptions", {
        jobId: stored.message.jobId,
        attempt: stored.attempt,
      });
      continue;
    }
    // The interrupted delivery does not count as a failed attempt (BullMQ's stalled jobs keep
    // theirs too): the redelivery carries the same attempt number.
    const recovered: StoredMessage = { ...stored, state: "waiting", runAt: Date.now(), recoveries };
    const res = await kv.atomic().check(item).set(item.key, recovered).commit();
    if (!res.ok) throw new Error(`Cannot recover queued message ${id}: it changed during open`);
    entries.push({ ...recovered, id, versionstamp: res.versionstamp, seq: seq++, slot: "none" });
    options.logger.warn("redelivering a message interrupted by a stop", {
      jobId: stored.message.jobId,
      attempt: stored.attempt,
    });
  }
  const completed = await kv.get<Deno.KvU64>(COMPLETED_KEY);
  return { entries, dead, completed: Number(completed.value?.value ?? 0n) };
}

function createKvQueue(kv: Deno.Kv, loaded: LoadedState, options: KvQueueOptions): JobQueue {
  const { logger, retry } = options;
  const maxAttempts = retry.maxRetries + 1;
  const drainTimeoutMs = options.drainTimeoutMs ?? 25_000;
  const abortGraceMs = options.abortGraceMs ?? 5_000;

  const records = new Map<string, Entry>();
  const ready = new MinHeap<Entry>((a, b) =>
    a.priority - b.priority || a.runAt - b.runAt || a.seq - b.seq
  );
  const delayed = new MinHeap<Entry>((a, b) => a.runAt - b.runAt || a.seq - b.seq);
  const dead = loaded.dead;
  const listeners = new Set<ListenerState>();
  let completed = loaded.completed;
  let seq = loaded.entries.length;
  let closed = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let timerAt = Infinity;
  let pausedUntil = 0;
  let pauseTimer: ReturnType<typeof setTimeout> | undefined;

  for (const entry of loaded.entries) {
    records.set(entry.id, entry);
    place(entry);
  }

  /** Puts a queued entry in the ready or delayed heap by its runAt. */
  function place(entry: Entry): void {
    if (entry.runAt <= Date.now()) {
      entry.slot = "ready";
      ready.push(entry);
    } else {
      entry.slot = "delayed";
      delayed.push(entry);
    }
  }

  function isCurrent(entry: Entry, slot: Entry["slot"]): boolean {
    return entry.slot === slot && records.get(entry.id) === entry;
  }

  /** Moves due messages to the ready heap, hands ready ones to free listeners, arms the timer. */
  function pump(): void {
    if (closed) return;
    const now = Date.now();
    if (now < pausedUntil) {
      // Throttled by the provider: wake up when the pause ends.
      if (pauseTimer === undefined) {
        pauseTimer = setTimeout(() => {
          pauseTimer = undefined;
          pump();
        }, pausedUntil - now);
      }
      return;
    }
    while (delayed.size > 0 && delayed.peek()!.runAt <= now) {
      const entry = delayed.pop()!;
      if (!isCurrent(entry, "delayed")) continue;
      entry.slot = "ready";
      ready.push(entry);
    }
    for (const listener of listeners) {
      while (!listener.closing && listener.running < listener.concurrency && ready.size > 0) {
        const entry = ready.pop()!;
        if (!isCurrent(entry, "ready")) continue;
        dispatch(listener, entry);
      }
    }
    armTimer();
  }

  /** One timer for the earliest delayed message, only while someone listens. */
  function armTimer(): void {
    const next = delayed.size > 0 && listeners.size > 0 ? delayed.peek()!.runAt : Infinity;
    if (next === timerAt) return;
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
    timerAt = next;
    if (next === Infinity) return;
    timer = setTimeout(() => {
      timer = undefined;
      timerAt = Infinity;
      pump();
    }, Math.max(0, next - Date.now()));
  }

  function dispatch(listener: ListenerState, entry: Entry): void {
    listener.running++;
    entry.slot = "running";
    const run = deliver(listener, entry)
      .catch((err) => {
        logger.error("queue bookkeeping failed", { jobId: entry.message.jobId, err });
      })
      .finally(() => {
        listener.running--;
        listener.runs.delete(run);
        pump();
      });
    listener.runs.add(run);
  }

  async function deliver(listener: ListenerState, entry: Entry): Promise<void> {
    const key = msgKey(entry.id);
    const claimed: StoredMessage = { ...stored(entry), state: "active" };
    const claim = await kv.atomic().check({ key, versionstamp: entry.versionstamp })
      .set(key, claimed).commit();
    if (!claim.ok) {
      // Only this process writes the file, so this means a bug; never run a message twice.
      logger.error("queued message changed under the scheduler; skipping it", {
        jobId: entry.message.jobId,
      });
      if (records.get(entry.id) === entry) records.delete(entry.id);
      return;
    }
    entry.state = "active";
    entry.versionstamp = claim.versionstamp;

    const context: DeliveryContext = {
      attempt: entry.attempt,
      maxAttempts,
      signal: listener.abort.signal,
      pauseAll: (ms: number) => {
        pausedUntil = Math.max(pausedUntil, Date.now() + ms);
        return Promise.resolve();
      },
    };
    let failure: { err: unknown } | undefined;
    try {
      await listener.handler({ ...entry.message }, context);
    } catch (err) {
      failure = { err };
    }
    if (closed) {
      // The queue closed while the handler ran on: its record stays active for the next open.
      logger.warn("handler finished after the queue closed; the next open redelivers it", {
        jobId: entry.message.jobId,
      });
      return;
    }
    if (!failure) return await acknowledge(entry);
    if (listener.abort.signal.aborted) return await release(entry, failure.err);
    if (entry.attempt >= maxAttempts) return await deadLetter(entry, failure.err);
    await scheduleRetry(entry, failure.err);
  }

  async function acknowledge(entry: Entry): Promise<void> {
    const key = msgKey(entry.id);
    const res = await kv.atomic().check({ key, versionstamp: entry.versionstamp }).delete(key)
      .sum(COMPLETED_KEY, 1n).commit();
    if (!res.ok) throw new Error(`Cannot acknowledge message ${entry.id}: its record changed`);
    completed++;
    forget(entry);
  }

  /** Hands a message back untouched (shutdown aborted its handler): same attempt, due now. */
  async function release(entry: Entry, err: unknown): Promise<void> {
    logger.info("message released on shutdown", { jobId: entry.message.jobId, err });
    await requeue(entry, { state: "waiting", runAt: Date.now() });
  }

  async function scheduleRetry(entry: Entry, err: unknown): Promise<void> {
    const delayMs = retryDelayMs(entry.attempt, retry, err);
    logger.debug("message will be retried", {
      jobId: entry.message.jobId,
      attempt: entry.attempt,
      delayMs,
    });
    await requeue(entry, {
      state: "delayed",
      attempt: entry.attempt + 1,
      runAt: Date.now() + delayMs,
      lastError: errorMessage(err),
    });
  }

  async function requeue(entry: Entry, change: Partial<StoredMessage>): Promise<void> {
    const key = msgKey(entry.id);
    const next: StoredMessage = { ...stored(entry), ...change };
    const res = await kv.atomic().check({ key, versionstamp: entry.versionstamp })
      .set(key, next).commit();
    if (!res.ok) throw new Error(`Cannot requeue message ${entry.id}: its record changed`);
    Object.assign(entry, next, { versionstamp: res.versionstamp });
    if (records.get(entry.id) === entry) place(entry);
  }

  async function deadLetter(entry: Entry, err: unknown): Promise<void> {
    const key = msgKey(entry.id);
    const letter: DeadLetter = {
      message: entry.message,
      attempts: entry.attempt,
      error: errorMessage(err),
      failedAt: Date.now(),
    };
    const res = await kv.atomic().check({ key, versionstamp: entry.versionstamp }).delete(key)
      .set(deadKey(entry.id), letter).commit();
    if (!res.ok) throw new Error(`Cannot dead-letter message ${entry.id}: its record changed`);
    dead.add(entry.id);
    forget(entry);
    logger.error("job dead-lettered after its last attempt", {
      jobId: entry.message.jobId,
      attempt: entry.attempt,
      err,
    });
  }

  function forget(entry: Entry): void {
    entry.slot = "none";
    if (records.get(entry.id) === entry) records.delete(entry.id);
  }

  function assertOpen(action: string): void {
    if (closed) throw new Error(`Cannot ${action}: the KV queue is closed`);
  }

  function startListener(handler: QueueHandler, listen: ListenOptions): QueueListener {
    assertOpen("listen");
    const concurrency = Math.floor(listen.concurrency);
    if (!(concurrency >= 1)) {
      throw new Error(`Cannot listen: concurrency must be at least 1, got ${listen.concurrency}`);
    }
    const listener: ListenerState = {
      handler,
      concurrency,
      running: 0,
      runs: new Set(),
      closing: false,
      abort: new AbortController(),
    };
    listeners.add(listener);
    queueMicrotask(pump);
    let closing: Promise<void> | undefined;
    return {
      active: () => listener.running,
      close: () => closing ??= closeListener(listener),
    };
  }

  async function closeListener(listener: ListenerState): Promise<void> {
    listener.closing = true;
    listeners.delete(listener);
    armTimer();
    if (await settles(listener.runs, drainTimeoutMs)) return;
    logger.warn("handlers still running at the drain timeout; aborting them", {
      active: listener.running,
    });
    listener.abort.abort(new Error("queue listener is shutting down"));
    if (await settles(listener.runs, abortGraceMs)) return;
    logger.error("handlers ignored the abort; their messages are redelivered on the next open", {
      active: listener.running,
    });
  }

  let closingQueue: Promise<void> | undefined;
  async function closeQueue(): Promise<void> {
    await Promise.all([...listeners].map((l) => closeListener(l)));
    closed = true;
    if (timer !== undefined) clearTimeout(timer);
    if (pauseTimer !== undefined) clearTimeout(pauseTimer);
    timer = undefined;
    kv.close();
  }

  return {
    backend: "kv",

    async enqueue(message: QueueMessage, opts: EnqueueOptions = {}) {
      const id = opts.id ?? message.jobId;
      assertOpen(`enqueue job ${message.jobId}`);
      const now = Date.now();
      const delayMs = Number.isFinite(opts.delayMs) ? Math.max(0, opts.delayMs!) : 0;
      const priority = Number.isFinite(opts.priority) ? opts.priority! : 0;
      const value: StoredMessage = {
        message: copyMessage(message),
        attempt: 1,
        state: delayMs > 0 ? "delayed" : "waiting",
        runAt: now + Math.round(delayMs),
        priority,
        enqueuedAt: now,
        recoveries: 0,
      };
      const key = msgKey(id);
      // Ignored while the id is queued or running; a dead letter with the id is revived.
      const res = await kv.atomic().check({ key, versionstamp: null }).set(key, value)
        .delete(deadKey(id)).commit();
      if (!res.ok || closed) return;
      dead.delete(id);
      const entry: Entry = {
        ...value,
        id,
        versionstamp: res.versionstamp,
        seq: seq++,
        slot: "none",
      };
      records.set(id, entry);
      place(entry);
      pump();
    },

    listenQueue: startListener,

    async remove(id: string) {
      assertOpen(`remove job ${id}`);
      const entry = records.get(id);
      if (entry && entry.slot === "running") return false;
      if (entry) {
        const res = await kv.atomic().check({ key: msgKey(id), versionstamp: entry.versionstamp })
          .delete(msgKey(id)).commit();
        if (!res.ok) return false;
        forget(entry);
        return true;
      }
      if (!dead.has(id)) return false;
      await kv.delete(deadKey(id));
      dead.delete(id);
      return true;
    },

    stats(): Promise<QueueStats> {
      const now = Date.now();
      let waiting = 0;
      let active = 0;
      let delayedCount = 0;
      for (const entry of records.values()) {
        if (entry.slot === "running") active++;
        else if (entry.runAt > now) delayedCount++;
        else waiting++;
      }
      return Promise.resolve({
        waiting,
        active,
        delayed: delayedCount,
        failed: dead.size,
        completed,
      });
    },

    async ping() {
      assertOpen("ping the queue");
      await kv.get(COMPLETED_KEY);
    },

    close: () => closingQueue ??= closeQueue(),
  };
}

function msgKey(id: string): Deno.KvKey {
  return ["q", MSG, id];
}

function deadKey(id: string): Deno.KvKey {
  return ["q", DEAD, id];
}

/** The persisted part of an entry. */
function stored(entry: Entry): StoredMessage {
  const value: StoredMessage = {
    message: entry.message,
    attempt: entry.attempt,
    state: entry.state,
    runAt: entry.runAt,
    priority: entry.priority,
    enqueuedAt: entry.enqueuedAt,
    recoveries: entry.recoveries,
  };
  if (entry.lastError !== undefined) value.lastError = entry.lastError;
  return value;
}

function copyMessage(message: QueueMessage): QueueMessage {
  return message.requestId === undefined
    ? { jobId: message.jobId }
    : { jobId: message.jobId, requestId: message.requestId };
}

function errorMessage(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).slice(0, 2000);
}

/** Resolves true when every promise in `runs` settled within `ms`, false otherwise. */
async function settles(runs: Set<Promise<void>>, ms: number): Promise<boolean> {
  if (runs.size === 0) return true;
  return await withTimeout(Promise.all([...runs]).then(() => true), ms, () => false);
}

/** A binary min-heap ordered by `compare`. */
class MinHeap<T> {
  #items: T[] = [];
  constructor(private readonly compare: (a: T, b: T) => number) {}

  get size(): number {
    return this.#items.length;
  }

  peek(): T | undefined {
    return this.#items[0];
  }

  push(item: T): void {
    const items = this.#items;
    items.push(item);
    let i = items.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (this.compare(items[i], items[parent]) >= 0) break;
      [items[i], items[parent]] = [items[parent], items[i]];
      i = parent;
    }
  }

  pop(): T | undefined {
    const items = this.#items;
    const top = items[0];
    const last = items.pop();
    if (items.length > 0 && last !== undefined) {
      items[0] = last;
      let i = 0;
      for (;;) {
        const left = 2 * i + 1;
        const right = left + 1;
        let smallest = i;
        if (left < items.length && this.compare(items[left], items[smallest]) < 0) smallest = left;
        if (right < items.length && this.compare(items[right], items[smallest]) < 0) {
          smallest = right;
        }
        if (smallest === i) break;
        [items[i], items[smallest]] = [items[smallest], items[i]];
        i = smallest;
      }
    }
    return top;
  }
}
