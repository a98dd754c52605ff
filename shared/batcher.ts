/**
 * Coalesces concurrent calls into batches ("group commit" in the application). A call made while
 * fewer than `maxInFlight` batches run starts a batch at once, so an idle service adds no delay;
 * calls made while the limit is reached wait and leave together in the next batch. Under load,
 * N requests then cost one database statement or one Redis round trip instead of N.
 *
 * `run` gets the items in call order and answers one settled result per item, in the same
 * order, so one bad item can fail alone. When `run` itself throws, every item of that batch
 * fails with that error.
 *
 * A batch that runs longer than `staleMs` (a query lost with its connection, waiting for its
 * deadline) stops counting against `maxInFlight`: the calls behind it leave in a new batch
 * instead of waiting for it.
 */

export type Settled<T> = { ok: true; value: T } | { ok: false; error: unknown };

export interface BatcherOptions {
  /** Most items in one batch (a bigger backlog leaves in several). Default 256. */
  maxBatch?: number;
  /** Batches running at once. Default 1. */
  maxInFlight?: number;
  /** After this long a running batch no longer holds back the next one (ms). Default 250. */
  staleMs?: number;
}

export type Batched<I, O> = (item: I) => Promise<O>;

interface Waiting<I, O> {
  item: I;
  resolve: (value: O) => void;
  reject: (error: unknown) => void;
}

/** Wraps `run` (many items → one settled result each) as a one-item function. */
export function createBatcher<I, O>(
  run: (items: I[]) => Promise<Settled<O>[]>,
  options: BatcherOptions = {},
): Batched<I, O> {
  const maxBatch = options.maxBatch ?? 256;
  const maxInFlight = options.maxInFlight ?? 1;
  const staleMs = options.staleMs ?? 250;
  let waiting: Waiting<I, O>[] = [];
  /** Start times of the running batches, oldest first. */
  const running: number[] = [];
  let scheduled = false;
  let staleTimer: ReturnType<typeof setTimeout> | undefined;

  const dispatch = () => {
    const now = performance.now();
    let fresh = running.filter((started) => now - started < staleMs).length;
    while (fresh < maxInFlight && waiting.length > 0) {
      const batch = waiting.length <= maxBatch ? waiting : waiting.slice(0, maxBatch);
      waiting = batch === waiting ? [] : waiting.slice(maxBatch);
      running.push(now);
      fresh++;
      void runBatch(batch).finally(() => {
        running.splice(running.indexOf(now), 1);
        dispatch();
      });
    }
    if (waiting.length > 0 && staleTimer === undefined) {
      // Every slot is busy: look again when the oldest fresh batch turns stale.
      const oldestFresh = running.find((started) => now - started < staleMs) ?? now;
      staleTimer = setTimeout(() => {
        staleTimer = undefined;
        dispatch();
      }, Math.max(1, oldestFresh + staleMs - now));
    } else if (waiting.length === 0 && staleTimer !== undefined) {
      clearTimeout(staleTimer);
      staleTimer = undefined;
    }
  };

  const runBatch = async (batch: Waiting<I, O>[]) => {
    let results: Settled<O>[];
    try {
      results = await run(batch.map((w) => w.item));
      if (results.length !== batch.length) {
        throw new Error(`batch gave ${results.length} results for ${batch.length} items`);
      }
    } catch (error) {
      for (const w of batch) w.reject(error);
      return;
    }
    batch.forEach((w, i) => {
      const r = results[i];
      if (r.ok) w.resolve(r.value);
      else w.reject(r.error);
    });
  };

  return (item: I) =>
    new Promise<O>((resolve, reject) => {
      waiting.push({ item, resolve, reject });
      if (!scheduled) {
        // Calls made in the same tick (a burst of events) leave together.
        scheduled = true;
        queueMicrotask(() => {
          scheduled = false;
          dispatch();
        });
      }
    });
}

/** Runs `fn` on each item on its own (the fallback when a whole batch was refused). */
export async function settleEach<I, O>(
  items: I[],
  fn: (item: I) => Promise<O>,
): Promise<Settled<O>[]> {
  const results = await Promise.allSettled(items.map(fn));
  return results.map((r) =>
    r.status === "fulfilled" ? { ok: true, value: r.value } : { ok: false, error: r.reason }
  );
}

/** Options of `createSharedReads`. */
export interface SharedReadsOptions {
  /** After this long a running read is no longer joined: new callers read on their own (ms). */
  staleMs?: number;
}

/**
 * The same read for many callers at once ("single flight" that never answers from the past).
 * A call finding no read of its key running starts one at once. Calls made while one runs wait
 * for it to end and then share the next read, started after every one of them was made: a client
 * still sees what it wrote before asking. Under load, N identical requests then cost about one
 * query and one serialisation. A failed read fails only the calls that shared it.
 */
export function createSharedReads<T>(
  options: SharedReadsOptions = {},
): (key: string, read: () => Promise<T>) => Promise<T> {
  const staleMs = options.staleMs ?? 250;
  interface Next {
    read: () => Promise<T>;
    promise: Promise<T>;
    resolve: (value: T) => void;
    reject: (error: unknown) => void;
  }
  interface State {
    startedAt: number;
    next: Next | null;
  }
  const states = new Map<string, State>();

  const start = (key: string, read: () => Promise<T>): Promise<T> => {
    const state: State = { startedAt: performance.now(), next: null };
    states.set(key, state);
    let running: Promise<T>;
    try {
      running = read();
    } catch (error) {
      running = Promise.reject(error);
    }
    const settle = () => {
      if (states.get(key) === state) states.delete(key);
      const next = state.next;
      if (next) start(key, next.read).then(next.resolve, next.reject);
    };
    running.then(settle, settle);
    return running;
  };

  return (key, read) => {
    const state = states.get(key);
    if (!state) return start(key, read);
    if (performance.now() - state.startedAt > staleMs) {
      // Stuck (a query waiting for its deadline): read alone rather than queue behind it.
      return read();
    }
    if (!state.next) {
      let resolve!: (value: T) => void;
      let reject!: (error: unknown) => void;
      const promise = new Promise<T>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      state.next = { read, promise, resolve, reject };
    }
    return state.next.promise;
  };
}
