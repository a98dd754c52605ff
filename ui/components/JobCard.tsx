/** One job in a grid: its image(s) or a placeholder, prompt, model, status, progress and times. */
import { formatDuration, truncate } from "../state/format.ts";
import { onImageError, onImageLoad, tileSources } from "../state/images.ts";
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

/** Drawn width of a tile: a card, or half of one for a job of several images. */
const TILE_SIZES = "(max-width: 640px) 50vw, 300px";
const HALF_TILE_SIZES = "(max-width: 640px) 25vw, 150px";

export function JobCard({ job, list, position, eager }: JobCardProps) {
  const size = jobSize(job);
  const { width, height } = size;
  const n = job.images.length;
  const running = isRunning(job.status);
  const duration = job.status === "completed" ? formatDuration(runSeconds(job)) : "";
  const alt = truncate(job.prompt, 120);
  return (
    <article class={`card card-${job.status}`} aria-busy={running} data-job={job.id}>
      {n > 0
        ? (
          <div class={`thumbs n${Math.min(n, 4)}`}>
            {job.images.slice(0, 4).map((img, i) => {
              const tile = tileSources(img, size);
              return (
                <button
                  key={img.url}
                  type="button"
                  class="thumb"
                  onClick={() => openLightbox(job.id, i, list)}
                  aria-label={`Open image ${i + 1} of ${n}`}
                >
                  <img
                    loading={eager ? "eager" : "lazy"}
                    decoding="async"
                    width={tile.width}
                    height={tile.height}
                    sizes={tile.srcset ? (n > 1 ? HALF_TILE_SIZES : TILE_SIZES) : undefined}
                    srcset={tile.srcset}
                    src={tile.src}
                    alt={n > 1 ? `${alt} (${i + 1} of ${n})` : alt}
                    onError={(e) => onImageError(e.currentTarget, img.url)}
                    onLoad={(e) => onImageLoad(e.currentTarget)}
                  />
                </button>
              );
            })}
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
