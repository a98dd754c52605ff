/**
 * Cancel / retry / delete buttons, shown only when the API offers them in `job.actions`. Delete
 * asks for a confirmation in place (focus goes to "Keep"; Esc keeps the job).
 */
import { useSignal } from "@preact/signals";
import { useEffect, useRef } from "preact/hooks";
import { cancelJob, deleteJob, retryJob } from "../state/live.ts";
import type { Job } from "../state/jobs.ts";
import { Icon } from "./Icon.tsx";

export interface JobActionsProps {
  job: Job;
}

export function JobActions({ job }: JobActionsProps) {
  const confirming = useSignal(false);
  const keepRef = useRef<HTMLButtonElement>(null);
  const deleteRef = useRef<HTMLButtonElement>(null);
  /** Where focus goes when the question closes: back to "Delete" only if it was there. */
  const refocus = useRef(false);

  useEffect(() => {
    if (confirming.value) keepRef.current?.focus();
    else if (refocus.current) deleteRef.current?.focus();
    refocus.current = false;
  }, [confirming.value]);

  const a = job.actions;
  if (job.local || (!a?.cancel && !a?.retry && !a?.delete)) return null;

  const keep = () => {
    refocus.current = true;
    confirming.value = false;
  };

  if (confirming.value) {
    return (
      <div
        class="job-actions job-confirm"
        role="group"
        aria-label="Confirm delete"
        onKeyDown={(e) => {
          if (e.key === "Escape") {
            e.preventDefault();
            e.stopPropagation();
            keep();
          }
        }}
      >
        <span class="confirm-text">Delete this job and its images?</span>
        <button
          type="button"
          class="btn btn-small btn-danger"
          onClick={() => {
            confirming.value = false;
            void deleteJob(job.id);
          }}
        >
          <Icon name="trash" size={14} /> Yes, delete
        </button>
        <button ref={keepRef} type="button" class="btn btn-small" onClick={keep}>
          Keep
        </button>
      </div>
    );
  }

  return (
    <div class="job-actions">
      {a?.cancel && (
        <button
          type="button"
          class="btn btn-small"
          onClick={() => void cancelJob(job.id)}
        >
          <Icon name="stop" size={14} /> Cancel
        </button>
      )}
      {a?.retry && (
        <button
          type="button"
          class="btn btn-small"
          onClick={() => void retryJob(job.id)}
        >
          <Icon name="retry" size={14} /> Retry
        </button>
      )}
      {a?.delete && (
        <button
          ref={deleteRef}
          type="button"
          class="btn btn-small btn-quiet"
          onClick={() => confirming.value = true}
        >
          <Icon name="trash" size={14} /> Delete
        </button>
      )}
    </div>
  );
}
