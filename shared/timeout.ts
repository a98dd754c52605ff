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

/** Races promises against deadlines that one shared timer checks (see `createDeadlineWatch`). */
export interface DeadlineWatch {
  /** `withTimeout`, to within the watch's tick: `onLate` decides once `ms` have passed. */
  race<T, F>(promise: PromiseLike<T>, ms: number, onLate: () => F): Promise<T | F>;
  /** Races in progress (tests). */
  size(): number;
}

/**
 * `withTimeout` for hot paths: instead of a timer per call, one timer (running only while some
 * race is pending) looks every `tickMs` for races past their
 * deadline. A race costs a set insert and delete; a deadline fires up to `tickMs` late. For long
 * deadlines on many short calls (a request body that normally arrives with its headers).
 */
export function createDeadlineWatch(tickMs = 250): DeadlineWatch {
  const pending = new Set<{ at: number; late: () => void }>();
  let timer: ReturnType<typeof setInterval> | undefined;
  const idle = () => {
    if (pending.size > 0 || timer === undefined) return;
    clearInterval(timer);
    timer = undefined;
  };
  const sweep = () => {
    const now = performance.now();
    for (const entry of pending) {
      if (entry.at > now) continue;
      pending.delete(entry);
      entry.late();
    }
    idle();
  };
  return {
    race<T, F>(promise: PromiseLike<T>, ms: number, onLate: () => F): Promise<T | F> {
      return new Promise<T | F>((resolve, reject) => {
        const entry = {
          at: performance.now() + ms,
          late: () => {
            try {
              resolve(onLate());
            } catch (err) {
              reject(err);
            }
          },
        };
        pending.add(entry);
        timer ??= setInterval(sweep, tickMs);
        promise.then((value) => {
          pending.delete(entry);
          idle();
          resolve(value);
        }, (err) => {
          pending.delete(entry);
          idle();
          reject(err);
        });
      });
    },
    size: () => pending.size,
  };
}
