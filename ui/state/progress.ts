/**
 * What a running job's progress says: where it waits (its place in line), how long it has been
 * at it, and how long it should still take (the server's `eta_s`, else a projection of the
 * reported progress), so a bar stuck at 58 % still shows the clock moving.
 */
import { formatDuration } from "./format.ts";
import type { Job } from "./jobs.ts";

/** Seconds from `iso` to `now` (never negative: the browser's clock may be behind the server's). */
export function secondsSince(iso: string | null, now: number): number {
  const t = iso ? Date.parse(iso) : NaN;
  return Number.isFinite(t) ? Math.max(0, (now - t) / 1000) : 0;
}

/**
 * Seconds the job should still need: the server's `eta_s` (counted from when it arrived), else
 * the time so far stretched to 100 % once a few percent are done; null when unknown.
 */
export function secondsLeft(job: Job, now: number): number | null {
  if (typeof job.eta_at === "number" && Number.isFinite(job.eta_at)) {
    return Math.max(0, (job.eta_at - now) / 1000);
  }
  const ran = secondsSince(job.started_at, now);
  if (job.status !== "processing" || job.progress < 5 || job.progress >= 100 || ran < 2) {
    return null;
  }
  return ran * (100 - job.progress) / job.progress;
}

/** Whole seconds, so a label that changes every second does not flicker with decimals. */
function clock(seconds: number): string {
  return formatDuration(Math.floor(seconds));
}

/** The line under a running job's bar: "42 % · 12 s · ~20 s left". */
export function progressLabel(job: Job, now: number, position?: number): string {
  if (job.local) return "Sending…";
  const determinate = job.status === "processing" && job.progress > 0;
  // Waiting in the provider's own queue (fal tells the place, counted from 0).
  const atProvider = job.status === "processing" && job.queue_position != null && !determinate;
  const parts: string[] = [];
  if (job.status === "pending") {
    // The API's place in the line (1: next), else the page's count of the jobs it holds.
    const place = job.queue_position ?? position;
    parts.push(place ? `Queued · #${place} in line` : "Queued");
    parts.push(clock(secondsSince(job.created_at, now)));
    const left = secondsLeft(job, now);
    if (left !== null) parts.push(`~${formatDuration(Math.ceil(left))} left`);
  } else {
    parts.push(
      atProvider
        ? `Queued at ${job.provider ?? "the provider"} · #${job.queue_position! + 1} in line`
        : determinate
        ? `${Math.round(job.progress)} %`
        : "Starting…",
    );
    parts.push(clock(secondsSince(job.started_at ?? job.created_at, now)));
    const left = secondsLeft(job, now);
    if (left !== null && !atProvider) {
      parts.push(left < 1 ? "almost done" : `~${formatDuration(Math.ceil(left))} left`);
    }
  }
  return parts.filter(Boolean).join(" · ");
}
