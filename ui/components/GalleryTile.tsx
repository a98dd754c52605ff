/**
 * One tile of the gallery: an image (its thumbnail), or a job still without one (its progress or
 * why it failed). Hovering or focusing it shows the prompt, date/model/size chips and quick
 * actions; a menu holds the rest, delete among them. Selection: the box at the top left, or a
 * click anywhere once something is selected (shift extends from the last one).
 */
import { formatDate, formatExact, formatRelative, truncate } from "../state/format.ts";
import type { Tile } from "../state/gallery.ts";
import { onImageError, onImageLoad, tileSources } from "../state/images.ts";
import { isRunning } from "../state/jobs.ts";
import { openLightbox } from "../state/lightbox.ts";
import { now } from "../state/clock.ts";
import { Icon } from "./Icon.tsx";
import { JobProgress } from "./JobProgress.tsx";
import { LIBRARY_ICONS } from "./library_icons.ts";
import { TileMenu } from "./TileMenu.tsx";
import type { TileActions } from "./tile_actions.ts";

export interface GalleryTileProps {
  tile: Tile;
  /** Position of the tile in the page (for shift-click ranges). */
  at: number;
  /** Job ids of the page, in order (the lightbox steps through them). */
  list: string[];
  /** Drawn width (the row sets the height). */
  width: number;
  selected: boolean;
  /** Something is selected: a click selects instead of opening. */
  selecting: boolean;
  eager: boolean;
  /** Queue position of a pending job. */
  position?: number;
  actions: TileActions;
  onSelect(at: number, shift: boolean): void;
}

/** The model's short name: `flux-schnell` for `black-forest-labs/flux-schnell:abc…`. */
function shortModel(model: string): string {
  return model.replace(/:.*$/, "").replace(/^.*\//, "");
}

export function GalleryTile(props: GalleryTileProps) {
  const { tile, at, width, selected, selecting, actions } = props;
  const { job, img, index } = tile;
  const n = job.images.length;
  const running = isRunning(job.status);
  const alt = truncate(job.prompt, 120);
  const compact = width < 210;
  const size = img?.width && img.height
    ? `${img.width}×${img.height}`
    : typeof job.parameters?.width === "number"
    ? `${job.parameters.width}×${job.parameters.height}`
    : "";
  const day = job.created_at.slice(0, 10);

  const onOpen = (e: MouseEvent) => {
    if (selecting || e.shiftKey || e.ctrlKey || e.metaKey) {
      e.preventDefault();
      // A job still being sent has no id yet: nothing to act on.
      if (!job.local) props.onSelect(at, e.shiftKey);
      return;
    }
    if (!job.local) openLightbox(job.id, index, props.list);
  };

  const sources = img ? tileSources(img, tile) : null;
  return (
    <div
      class={`tile tile-${job.status}${selected ? " selected" : ""}${
        job.starred ? " starred" : ""
      }${compact ? " compact" : ""}`}
      data-job={job.id}
      data-index={index}
    >
      <button
        type="button"
        class="tile-open"
        onClick={onOpen}
        aria-label={img
          ? `${selecting ? "Select" : "Open"} image ${index + 1} of ${n}`
          : `${selecting ? "Select" : "Open"} job details`}
        aria-describedby={`tp-${tile.key}`}
      >
        {img && sources
          ? (
            <img
              loading={props.eager ? "eager" : "lazy"}
              decoding="async"
              width={sources.width}
              height={sources.height}
              sizes={sources.srcset ? `${Math.ceil(width)}px` : undefined}
              srcset={sources.srcset}
              src={sources.src}
              alt={n > 1 ? `${alt} (${index + 1} of ${n})` : alt}
              onError={(e) => onImageError(e.currentTarget, img.url)}
              onLoad={(e) => onImageLoad(e.currentTarget)}
            />
          )
          : (
            <span class={`tile-ph ph-${job.status}`}>
              <Icon
                name={running ? "sparkles" : job.status === "failed" ? "alert" : "image"}
                size={26}
              />
            </span>
          )}
      </button>

      {!job.local && (
        <label class="tile-check" title="Select (shift-click: a range)">
          <input
            type="checkbox"
            checked={selected}
            // No preventDefault: the browser would put the box back after the re-render. The
            // render that follows sets every box from the selection.
            onClick={(e) => props.onSelect(at, e.shiftKey)}
            aria-label={`Select ${n > 1 ? `image ${index + 1} of ${n}` : "image"}: ${
              truncate(job.prompt, 60)
            }`}
          />
        </label>
      )}

      <div class="tile-top">
        {job.starred !== undefined && !job.local && (
          <button
            type="button"
            class={`tile-btn tile-star${job.starred ? " on" : ""}`}
            aria-pressed={job.starred}
            aria-label={job.starred ? "Unstar" : "Star"}
            title={job.starred ? "Unstar" : "Star"}
            onClick={() => actions.star(job, !job.starred)}
          >
            <Icon d={LIBRARY_ICONS.star} size={16} />
          </button>
        )}
        {!job.local && <TileMenu tile={tile} list={props.list} actions={actions} />}
      </div>

      <div class="tile-info">
        {running && <JobProgress job={job} position={props.position} />}
        {job.status === "failed" && job.error_message && (
          <p class="tile-error">{truncate(job.error_message, 140)}</p>
        )}
        <p class="tile-prompt" id={`tp-${tile.key}`}>{job.prompt}</p>
        <div class="tile-bar">
          <span class="tile-chips">
            <button
              type="button"
              class="tile-chip"
              tabIndex={-1}
              title={`${formatExact(job.created_at)}: show only this day`}
              onClick={() => actions.filter({ from: day, to: day })}
            >
              {compact ? formatDate(job.created_at, now.value) : formatRelative(
                job.created_at,
                now.value,
              )}
            </button>
            <button
              type="button"
              class="tile-chip"
              tabIndex={-1}
              title={`${job.model}: show only this model`}
              onClick={() => actions.filter({ model: job.route ?? job.model.replace(/:.*$/, "") })}
            >
              {shortModel(job.route ?? job.model)}
            </button>
            {size && !compact && <span class="tile-chip">{size}</span>}
          </span>
          {img && !compact && (
            <span class="tile-quick">
              <a
                class="tile-btn"
                href={img.url}
                download={actions.fileName(job, index)}
                tabIndex={-1}
                title="Download"
                aria-label="Download"
              >
                <Icon name="download" size={16} />
              </a>
              <button
                type="button"
                class="tile-btn"
                tabIndex={-1}
                title="Reuse all settings"
                aria-label="Reuse all settings"
                onClick={() => actions.reuse(job)}
              >
                <Icon name="reuse" size={16} />
              </button>
              <button
                type="button"
                class="tile-btn"
                tabIndex={-1}
                title="Variations: the same settings, a new seed"
                aria-label="Variations"
                onClick={() => actions.variations(job)}
              >
                <Icon d={LIBRARY_ICONS.variations} size={16} />
              </button>
            </span>
          )}
        </div>
      </div>
    </div>
  );
}
