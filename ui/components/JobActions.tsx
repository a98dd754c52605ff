/** Cancel / retry buttons, shown only when the API offers them in `job.actions`. */
import { cancelJob, retryJob } from "../state/live.ts";
import type { Job } from "../state/jobs.ts";
import { Icon } from "./Icon.tsx";

export interface JobActionsProps {
  job: Job;
}

export function JobActions({ job }: JobActionsProps) {
  const a = job.actions;
  if (!a?.cancel && !a?.retry) return null;
  return (
    <div class="job-actions">
      {a.cancel && (
        <button type="button" class="btn btn-small" onClick={() => cancelJob(job.id)}>
          <Icon name="stop" size={14} /> Cancel
        </button>
      )}
      {a.retry && (
        <button type="button" class="btn btn-small" onClick={() => retryJob(job.id)}>
          <Icon name="retry" size={14} /> Retry
        </button>
      )}
    </div>
  );
}
