/**
 * A native <progress>: indeterminate while queued or at 0 %, determinate once steps report. The
 * label under it counts the seconds while the job runs (see state/progress.ts).
 */
import { useSignal } from "@preact/signals";
import { useEffect } from "preact/hooks";
import { isRunning, type Job } from "../state/jobs.ts";
import { progressLabel } from "../state/progress.ts";

export interface JobProgressProps {
  job: Job;
  /** Queue position of a pending job, when known. */
  position?: number;
}

export function JobProgress({ job, position }: JobProgressProps) {
  const now = useSignal(Date.now());
  const running = isRunning(job.status);
  useEffect(() => {
    if (!running) return;
    const timer = setInterval(() => now.value = Date.now(), 1000);
    return () => clearInterval(timer);
  }, [running]);
  const determinate = job.status === "processing" && job.progress > 0;
  const label = progressLabel(job, Math.max(now.value, Date.now()), position);
  return (
    <div class="progress-row">
      {determinate
        ? <progress max={100} value={job.progress} aria-label="Progress" />
        : <progress aria-label={label.split(" · ")[0]} />}
      <span class="progress-label">{label}</span>
    </div>
  );
}
