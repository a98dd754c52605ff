/**
 * When to ask the provider again. The base schedule polls every 250 ms for the first two
 * seconds, then backs off to 3 s. When the prediction reports progress (tqdm bars in its logs),
 * the observed rate says when it should end: the worker then sleeps until just after that
 * instead of polling on the way (never sooner than the base schedule, never longer than 3 s).
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
  const untilEnd = Math.round(left * 1.05 + 25);
  return Math.min(Math.max(base, CEILING_MS), Math.max(base, untilEnd));
}
