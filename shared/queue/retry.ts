/** When a failed delivery is tried again: the retry policy both queue backends follow. */

export interface RetryPolicy {
  /** Retries after the first attempt (so maxAttempts = maxRetries + 1). */
  maxRetries: number;
  /** Backoff base in seconds: the n-th retry waits about base^(n-1) seconds. */
  backoffBase: number;
}

/** Exponential backoff with ±25% jitter: ~1 s, base s, base² s, ... */
export function backoffDelayMs(
  retry: number,
  policy: RetryPolicy,
  random: () => number = Math.random,
): number {
  const base = 1000 * Math.pow(policy.backoffBase, Math.max(0, retry - 1));
  const jitter = 0.75 + random() * 0.5;
  return Math.round(Math.min(base, 10 * 60_000) * jitter);
}

/**
 * The wait before retrying after `attempt` failed with `err` (ms). An error carrying a finite
 * `delayMs` (a RetryLaterError: the provider's 429 reset hint) is honoured, but never waits less
 * than a quarter of the backoff; any other error waits the backoff.
 */
export function retryDelayMs(
  attempt: number,
  policy: RetryPolicy,
  err: unknown,
  random: () => number = Math.random,
): number {
  const backoff = backoffDelayMs(attempt, policy, random);
  const hinted = (err as { delayMs?: unknown } | undefined)?.delayMs;
  return typeof hinted === "number" && Number.isFinite(hinted)
    ? Math.round(Math.max(hinted, backoff / 4))
    : backoff;
}
