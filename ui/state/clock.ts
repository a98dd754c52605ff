/** A coarse clock signal so relative times ("2 min ago") refresh on their own. */
import { signal } from "@preact/signals";

export const now = signal(Date.now());

let timer: ReturnType<typeof setInterval> | undefined;

/** Starts ticking every `ms` (idempotent). */
export function startClock(ms = 15_000): void {
  timer ??= setInterval(() => now.value = Date.now(), ms);
}
