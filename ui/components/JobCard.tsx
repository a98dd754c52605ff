/** One job in a grid: its image(s) or a placeholder, prompt, model, status, progress and times. */
import { formatDuration, truncate } from "../state/format.ts";
import { isRunning, type Job, jobSize, runSeconds } from "../state/jobs.ts";
import { openLightbox } from "../state/lightbox.ts";
import { Icon } from "./Icon.tsx";
import { JobActions } from "./JobActions.tsx";
import { JobProgress } from "./JobProgress.tsx";
import { RelativeTime } from "./RelativeTime.tsx";
import { StatusBadge } from "./StatusBadge.tsx";

export interface JobCardProps {
  job: Job;
  /** Ids of the list the card is in, so the lightbox can step through it. */
  list: string[];
  position?: number;
  /** Eager-load the first images of the page (above the fold). */
  eager?: boolean;
}

export function JobCard({ job, list, position, eager }: JobCardProps) {
  const { width, height } = jobSize(job);
  const n = job.images.length;
  const running = isRunning(job.status);
  const duration = job.status === "completed" ? formatDuration(runSeconds(job)) : "";
  const alt = truncate(job.prompt, 120);
  return (
    <article class={`card card-${job.status}`} aria-busy={running}>
      {n > 0
        ? (
          <div class={`thumbs n${Math.min(n, 4)}`}>
            {job.images.slice(0, 4).map((img, i) => (
              <button
                key={img.url}
                type="button"
                class="thumb"
                onClick={() => openLightbox(job.id, i, list)}
                aria-label={`Open image ${i + 1} of ${n}`}
              >
                <img
                  src={img.url}
                  width={img.width ?? width}
                  height={img.height ?? height}
                  loading={eager ? "eager" : "lazy"}
                  decoding="async"
                  alt={n > 1 ? `${alt} (${i + 1} of ${n})` : alt}
                />
              </button>
            ))}
          </div>
        )
        : (
          <button
            type="button"
            class={`placeholder ph-${job.status}`}
            onClick={() => job.local ? undefined : openLightbox(job.id, 0, list)}
            aria-label="Open job details"
          >
            <svg
              class="ph-sizer"
              viewBox={running ? `0 0 ${width} ${height}` : "0 0 3 1"}
              aria-hidden="true"
            />
            <span class="ph-icon">
              <Icon
                name={running ? "sparkles" : job.status === "failed" ? "alert" : "image"}
                size={28}
              />
            </span>
          </button>
        )}
      <div class="card-body">
        <div class="card-meta">
          <StatusBadge status={job.status} sending={job.local} />
          {job.priority && job.priority !== "normal" && (
            <span class={`tag tag-${job.priority}`}>{job.priority} priority</span>
          )}
          <span class="model" title={job.model}>{job.model}</span>
        </div>
        <p class="prompt" title={job.prompt}>{job.prompt}</p>
        {running && <JobProgress job={job} position={position} />}
        {job.status === "failed" && job.error_message && (
          <p class="error-text">{truncate(job.error_message, 300)}</p>
        )}
        <div class="card-foot">
          <RelativeTime iso={job.created_at} />
          {duration && <span class="muted">· {duration}</span>}
          {job.retry_count > 0 && (
            <span class="muted">
              · {job.retry_count} {job.retry_count === 1 ? "retry" : "retries"}
            </span>
          )}
        </div>
        <JobActions job={job} />
      </div>
    </article>
  );
}
