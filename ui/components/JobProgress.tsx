/** A native <progress>: indeterminate while queued or at 0 %, determinate once steps report. */
import type { Job } from "../state/jobs.ts";

export interface JobProgressProps {
  job: Job;
  /** Queue position of a pending job, when known. */
  position?: number;
}

export function JobProgress({ job, position }: JobProgressProps) {
  const determinate = job.status === "processing" && job.progress > 0;
  // Waiting in the provider's own queue (fal tells the place).
  const atProvider = job.status === "processing" && job.queue_position != null && !determinate;
  const label = job.local
    ? "Sending…"
    : job.status === "pending"
    ? position ? `Queued · #${position} in line` : "Queued"
    : atProvider
    ? `Queued at ${job.provider ?? "the provider"} · #${job.queue_position! + 1} in line`
    : determinate
    ? `${Math.round(job.progress)} %`
    : "Starting…";
  return (
    <div class="progress-row">
      {determinate
        ? <progress max={100} value={job.progress} aria-label="Progress" />
        : <progress aria-label={label} />}
      <span class="progress-label">{label}</span>
    </div>
  );
}
