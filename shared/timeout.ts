/** The one way to race a promise against a timer: the timer is always cleared. */

/**
 * Settles as `promise` does, unless `ms` pass first. Then `onTimeout` decides: a string rejects
 * with an Error of that message; a function runs, and what it returns resolves (a fallback value)
 * or what it throws rejects. The timer is cleared as soon as either side settles, so a finished
 * race leaves nothing pending behind it.
 */
export function withTimeout<T, F = never>(
  promise: PromiseLike<T>,
  ms: number,
  onTimeout: string | (() => F),
): Promise<T | F> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<F>((resolve, reject) => {
    timer = setTimeout(() => {
      if (typeof onTimeout === "string") return reject(new Error(onTimeout));
      try {
        resolve(onTimeout());
      } catch (err) {
        reject(err);
      }
    }, ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}
