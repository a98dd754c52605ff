/** Which job (and image) the lightbox shows, and where focus goes back when it closes. */
import { signal } from "@preact/signals";
import { navigate } from "./url.ts";

export interface LightboxTarget {
  jobId: string;
  index: number;
  /** Job ids of the list it was opened from, in display order (arrows continue through it). */
  list: string[];
}

export const lightbox = signal<LightboxTarget | null>(null);

let returnFocus: HTMLElement | null = null;

/** Opens the lightbox on a job's image. */
export function openLightbox(jobId: string, index = 0, list: string[] = [jobId]): void {
  if (typeof document !== "undefined" && document.activeElement instanceof HTMLElement) {
    returnFocus = document.activeElement;
  }
  lightbox.value = { jobId, index, list };
  navigate({ job: jobId });
}

/** Closes it and puts focus back where it was. */
export function closeLightbox(): void {
  lightbox.value = null;
  navigate({ job: "" });
  const el = returnFocus;
  returnFocus = null;
  if (el?.isConnected) el.focus();
}

/** A job is gone: the lightbox moves on to a neighbour in its list that `exists`, or closes. */
export function leaveDeletedJob(jobId: string, exists: (id: string) => boolean): void {
  const t = lightbox.value;
  if (!t || t.jobId !== jobId) return;
  const list = t.list.filter((id) => id === jobId || exists(id));
  const at = list.indexOf(jobId);
  const next = list[at + 1] ?? list[at - 1];
  if (next && next !== jobId) {
    lightbox.value = { jobId: next, index: 0, list: list.filter((id) => id !== jobId) };
    navigate({ job: next });
  } else {
    closeLightbox();
  }
}
