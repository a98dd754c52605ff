/**
 * A circuit breaker per provider. Closed, every call goes through; after `failures` provider
 * faults in a row, or when at least `minCalls` calls of the last `windowMs` failed at `errorRate`
 * or more, it opens: new predictions are not sent there (a route moves its jobs to the next
 * target, a plain job waits) for `cooldownMs`. Then it is half-open: one create goes through as a
 * probe; its success closes the circuit, its failure opens it again.
 *
 * Only creates are held back. Polls, cancels and downloads of predictions a provider already holds
 * always go through (the job stays with its provider), and their outcomes still count.
 *
 * A provider fault is an answer that says nothing about the request itself: no connection, a
 * timeout, a 5xx or a 429. A 4xx answer (an invalid input, an unknown model) is the provider
 * working, and counts as a success.
 */
import { PredictionNotFoundError, ProviderError } from "../errors.ts";
import type { Provider } from "./provider.ts";

export type CircuitState = "closed" | "open" | "half_open";

/** Thresholds of a breaker. */
export interface CircuitOptions {
  /** Consecutive faults that open the circuit (default 5). */
  failures?: number;
  /** Fault ratio over the window that opens it (default 0.5) ... */
  errorRate?: number;
  /** ... once the window holds at least this many calls (default 10). */
  minCalls?: number;
  /** The window of the error rate (ms, default 60 s). */
  windowMs?: number;
  /** Open for this long before a probe may go (ms, default 30 s). */
  cooldownMs?: number;
  now?: () => number;
}

/** A breaker's state as reported to health checks. */
export interface CircuitSnapshot {
  provider: string;
  state: CircuitState;
  consecutiveFailures: number;
  lastError: string | null;
  /** When the state last changed (epoch ms). */
  changedAt: number;
  /** While open: when a probe may go (epoch ms); else null. */
  retryAt: number | null;
}

export interface CircuitBreaker {
  readonly provider: string;
  state(): CircuitState;
  /** True when a new prediction may be sent now (in half-open, one probe at a time). */
  tryAcquire(): boolean;
  /** Milliseconds until a probe may go (0 unless open). */
  retryInMs(): number;
  /** Records a call the provider answered. */
  success(): void;
  /** Records a provider fault. */
  failure(reason: string): void;
  snapshot(): CircuitSnapshot;
}

/** The breakers of every provider, and who hears of their changes. */
export interface CircuitSet {
  /** The breaker of `provider` (made on first use). */
  of(provider: string): CircuitBreaker;
  snapshots(): CircuitSnapshot[];
  /** Calls `listener` on every change of state; returns the unsubscribe. */
  onChange(listener: (snapshot: CircuitSnapshot) => void): () => void;
}

/** A create refused because the provider's circuit is open: nothing was sent. */
export class CircuitOpenError extends ProviderError {
  constructor(provider: string, retryInMs: number) {
    super(
      `Provider ${provider} is unavailable (circuit open after repeated failures); ` +
        `next try in ${Math.ceil(retryInMs / 1000)} s`,
      true,
      Math.max(1000, retryInMs),
    );
    this.name = "CircuitOpenError";
  }
}

/** True for errors that say the provider is in trouble (not the request). */
export function isProviderFault(err: unknown): boolean {
  if (err instanceof CircuitOpenError) return false;
  if (err instanceof PredictionNotFoundError) return false;
  if (err instanceof ProviderError) {
    if (err.status === undefined) return err.retryable; // network, timeout, bad answer
    return err.status === 429 || err.status === 408 || err.status >= 500;
  }
  return true;
}

/** Creates one breaker; `onChange` hears every change of state. */
export function createCircuitBreaker(
  provider: string,
  options: CircuitOptions = {},
  onChange: (snapshot: CircuitSnapshot) => void = () => {},
): CircuitBreaker {
  const failuresToOpen = options.failures ?? 5;
  const errorRate = options.errorRate ?? 0.5;
  const minCalls = options.minCalls ?? 10;
  const windowMs = options.windowMs ?? 60_000;
  const cooldownMs = options.cooldownMs ?? 30_000;
  const now = options.now ?? Date.now;
  let open = false;
  let openedAt = 0;
  let probeUntil = 0;
  let consecutive = 0;
  let lastError: string | null = null;
  let changedAt = now();
  let reported: CircuitState = "closed";
  /** Outcomes of the window (time, fault?), oldest first. */
  const calls: { at: number; fault: boolean }[] = [];

  const current = (): CircuitState =>
    !open ? "closed" : now() - openedAt >= cooldownMs ? "half_open" : "open";

  const breaker: CircuitBreaker = {
    provider,
    state: current,
    tryAcquire() {
      const state = current();
      report();
      if (state === "closed") return true;
      if (state === "open") return false;
      // Half-open: one probe at a time; a probe that never reports frees the slot after a cooldown.
      if (now() < probeUntil) return false;
      probeUntil = now() + cooldownMs;
      return true;
    },
    retryInMs() {
      if (!open) return 0;
      return Math.max(0, openedAt + cooldownMs - now(), probeUntil - now());
    },
    success() {
      const state = current();
      // While open, answers to polls of older predictions do not close the circuit: only a probe.
      if (state === "open") return;
      consecutive = 0;
      record(false);
      if (state === "half_open") {
        open = false;
        probeUntil = 0;
        calls.length = 0;
      }
      report();
    },
    failure(reason) {
      lastError = reason.slice(0, 300);
      consecutive++;
      record(true);
      const state = current();
      if (state === "half_open" || (state === "closed" && tripped())) {
        open = true;
        openedAt = now();
        probeUntil = 0;
      }
      report();
    },
    snapshot: () => ({
      provider,
      state: current(),
      consecutiveFailures: consecutive,
      lastError,
      changedAt,
      retryAt: open ? now() + breaker.retryInMs() : null,
    }),
  };

  function record(fault: boolean): void {
    const at = now();
    calls.push({ at, fault });
    while (calls.length > 0 && calls[0].at < at - windowMs) calls.shift();
    if (calls.length > 1000) calls.splice(0, calls.length - 1000);
  }

  function tripped(): boolean {
    if (consecutive >= failuresToOpen) return true;
    if (calls.length < minCalls) return false;
    return calls.filter((c) => c.fault).length / calls.length >= errorRate;
  }

  /** Tells the listener when the state it last heard of changed. */
  function report(): void {
    const state = current();
    if (state === reported) return;
    reported = state;
    changedAt = now();
    onChange(breaker.snapshot());
  }

  return breaker;
}

/** Breakers for every provider, sharing `options`. */
export function createCircuitSet(options: CircuitOptions = {}): CircuitSet {
  const breakers = new Map<string, CircuitBreaker>();
  const listeners = new Set<(snapshot: CircuitSnapshot) => void>();
  const notify = (snapshot: CircuitSnapshot) => {
    for (const listener of listeners) listener(snapshot);
  };
  return {
    of(provider) {
      let breaker = breakers.get(provider);
      if (!breaker) {
        breakers.set(provider, breaker = createCircuitBreaker(provider, options, notify));
      }
      return breaker;
    },
    snapshots: () => [...breakers.values()].map((b) => b.snapshot()),
    onChange(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}

/**
 * `provider` behind its breaker: a create is refused with CircuitOpenError while the circuit is
 * open; every call's outcome (downloads aside) is recorded.
 */
export function guardProvider(provider: Provider, breaker: CircuitBreaker): Provider {
  const observe = async <T>(call: () => Promise<T>, signal?: AbortSignal): Promise<T> => {
    try {
      const result = await call();
      breaker.success();
      return result;
    } catch (err) {
      // The caller's own abort (shutdown) says nothing about the provider.
      if (!signal?.aborted) {
        if (isProviderFault(err)) breaker.failure(err instanceof Error ? err.message : String(err));
        else if (!(err instanceof CircuitOpenError)) breaker.success();
      }
      throw err;
    }
  };
  const guarded: Provider = {
    name: provider.name,
    create(input, options) {
      if (!breaker.tryAcquire()) {
        return Promise.reject(new CircuitOpenError(provider.name, breaker.retryInMs()));
      }
      return observe(() => provider.create(input, options), options?.signal);
    },
    get: (id, options) => observe(() => provider.get(id, options), options?.signal),
    cancel: (id, options) => observe(() => provider.cancel(id, options), options?.signal),
    openOutput: (ref, options) => provider.openOutput(ref, options),
  };
  if (provider.inputSchema) guarded.inputSchema = provider.inputSchema.bind(provider);
  // Finding a lost create reads the provider's list: observed like any read, never held back.
  if (provider.findCreated) {
    const findCreated = provider.findCreated.bind(provider);
    guarded.findCreated = (input, sinceMs, options) =>
      observe(() => findCreated(input, sinceMs, options), options?.signal);
  }
  return guarded;
}
