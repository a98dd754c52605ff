/** A job's status as a coloured badge. */
import type { JobStatus } from "../../shared/jobs/repo.ts";

const LABELS: Record<JobStatus, string> = {
  pending: "Queued",
  processing: "Running",
  completed: "Done",
  failed: "Failed",
  canceled: "Canceled",
};

export interface StatusBadgeProps {
  status: JobStatus;
  /** Marks an optimistic job not yet confirmed by the server. */
  sending?: boolean;
}

export function StatusBadge({ status, sending }: StatusBadgeProps) {
  return (
    <span class={`badge badge-${status}`}>
      {sending ? "Sending" : LABELS[status] ?? status}
    </span>
  );
}
