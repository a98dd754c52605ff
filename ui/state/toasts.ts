/** Toasts and the screen-reader announcement shared by all islands. */
import { signal } from "@preact/signals";

export interface Toast {
  id: number;
  kind: "info" | "success" | "error";
  title: string;
  body?: string;
  /** A job to open from the toast. */
  jobId?: string;
}

export const toasts = signal<Toast[]>([]);
/** The latest status message for the aria-live region. */
export const announcement = signal("");

let next = 0;

/** Shows a toast for `timeoutMs` (default 6 s); returns its id. */
export function showToast(toast: Omit<Toast, "id">, timeoutMs = 6000): number {
  const id = ++next;
  toasts.value = [...toasts.value.slice(-3), { ...toast, id }];
  if (timeoutMs > 0) setTimeout(() => dismissToast(id), timeoutMs);
  return id;
}

export function dismissToast(id: number): void {
  toasts.value = toasts.value.filter((t) => t.id !== id);
}

/** Says `message` through the polite live region. */
export function announce(message: string): void {
  // Clearing first makes the same message be read again.
  announcement.value = "";
  queueMicrotask(() => announcement.value = message);
}
