/** What a gallery tile (and its menu) can ask the page to do with its job. */
import type { Job } from "../state/jobs.ts";
import type { UrlState } from "../state/url.ts";

export interface TileActions {
  star(job: Job, on: boolean): void;
  /** All settings into the form (the seed locked). */
  reuse(job: Job): void;
  /** Only the prompt and negative prompt into the form. */
  reusePrompt(job: Job): void;
  /** The same settings with a new seed, queued at once. */
  variations(job: Job): void;
  copySeed(job: Job): void;
  /** Copies the `?job=` link that opens the job in the lightbox. */
  copyLink(job: Job): void;
  /** Deletes the job and its images (the menu has asked first). */
  remove(job: Job): void;
  retry(job: Job): void;
  cancel(job: Job): void;
  /** Narrows History (a chip was clicked): the page goes back to 1. */
  filter(patch: Partial<UrlState>): void;
  /** The download name of one of the job's images. */
  fileName(job: Job, index: number): string;
}
