/**
 * When to ask the provider again. The base schedule polls every 250 ms for the first two
 * seconds, then backs off to 3 s. When the prediction reports progress (tqdm bars in its logs),
 * the observed rate says when it should end: the worker then sleeps until just after that
 * instead of polling on the way (never sooner than the base schedule, never longer than 3 s).
 *
 * Before the first poll there is no progress yet. A worker remembers how long the recent
 * predictions of the same kind (provider, model and parameters) took at the provider; once it
 * has seen a few, the first poll of a new one waits for the quickest typical run instead of
 * 250 ms (again within 250 ms and 3 s). A model that always takes a second is then asked once.
 */

const FIRST_MS = 250;
const CEILING_MS = 3000;

/** The base delay before poll number `poll` (0-based). */
export function pollDelayMs(poll: number): number {
  if (poll < 8) return FIRST_MS;
  return Math.min(CEILING_MS, Math.round(FIRST_MS * Math.pow(1.3, poll - 7)));
}

/** Progress seen at a moment (ms, percent). */
export interface ProgressSample {
  at: number;
  percent: number;
}

/**
 * Milliseconds until the prediction should finish, from the first and last samples with
 * progress between 0 and 100; null when the rate is unknown (fewer than two such samples, or
 * no progress between them).
 */
export function remainingMs(samples: readonly ProgressSample[]): number | null {
  const moving = samples.filter((s) => s.percent > 0 && s.percent < 100);
  if (moving.length < 2) return null;
  const first = moving[0];
  const last = moving[moving.length - 1];
  const rate = (last.percent - first.percent) / (last.at - first.at); // percent per ms
  if (!(rate > 0) || !Number.isFinite(rate)) return null;
  return (100 - last.percent) / rate;
}

/** The delay before poll `poll`, stretched to the expected end when the progress tells it. */
export function nextPollDelayMs(poll: number, samples: readonly ProgressSample[]): number {
  const base = pollDelayMs(poll);
  const left = remainingMs(samples);
  if (left === null) return base;
  // A little past the expected end, so the poll finds it finished rather than at 99 %.
  const untilEnd = pastEnd(left);
  return Math.min(Math.max(base, CEILING_MS), Math.max(base, untilEnd));
}

/** Poll a little past an expected end, so the poll finds the prediction finished. */
function pastEnd(ms: number): number {
  return Math.round(ms * 1.05 + 25);
}

/**
 * The delay before the first poll of a prediction created just now: the base delay, or, when
 * predictions of its kind usually take `expectedMs`, until just after that (at most 3 s).
 */
export function firstPollDelayMs(expectedMs: number | null): number {
  const base = pollDelayMs(0);
  if (expectedMs === null || !(expectedMs > 0)) return base;
  return Math.min(CEILING_MS, Math.max(base, pastEnd(expectedMs)));
}

/** How long recent predictions of each kind ran at the provider (creation to completion). */
export interface RunTimes {
  /** Notes one finished run of `kind` (ms, the provider's own clock). */
  record(kind: string, ms: number): void;
  /**
   * A low estimate for the next run of `kind`: the 25th percentile of its recent runs, so that
   * most polls land after the end without waiting much past the quick ones. Null until three
   * runs are known.
   */
  expectedMs(kind: string): number | null;
}

/** Keeps the last `keep` run times of the `kinds` most recently used kinds, in memory. */
export function createRunTimes(options: { kinds?: number; keep?: number } = {}): RunTimes {
  const kinds = options.kinds ?? 256;
  const keep = options.keep ?? 16;
  const runs = new Map<string, number[]>();
  return {
    record(kind, ms) {
      if (!Number.isFinite(ms) || ms < 0) return;
      const list = runs.get(kind) ?? [];
      runs.delete(kind); // re-inserted last: the Map's order is the use order
      list.push(ms);
      if (list.length > keep) list.shift();
      runs.set(kind, list);
      if (runs.size > kinds) runs.delete(runs.keys().next().value!);
    },
    expectedMs(kind) {
      const list = runs.get(kind);
      if (!list || list.length < 3) return null;
      const sorted = [...list].sort((a, b) => a - b);
      return sorted[Math.floor((sorted.length - 1) * 0.25)];
    },
  };
}
