/** The job as the API shows it: the old stack's fields plus Darkroom's additions. */
import { thumbnailName } from "../media/thumbnails.ts";
import type { PriorityName } from "../queue/queue.ts";
import { type InputImage, inputImages } from "../models/image_refs.ts";
import type { JobRow, JobStatus } from "./repo.ts";
import { type LiveTiming, NO_TIMING } from "./timing.ts";

export interface ImageJson {
  url: string;
  /** A WebP of at most 512 px on the long side (made on first request for older images). */
  thumbnail_url: string;
  content_type: string;
  width: number | null;
  height: number | null;
  bytes: number;
}

export interface JobJson {
  id: string;
  prompt: string;
  negative_prompt: string | null;
  model: string;
  parameters: Record<string, unknown>;
  status: JobStatus;
  progress: number;
  /** Old field: the first stored image, relative to STORAGE_PATH. */
  media_path: string | null;
  images: ImageJson[];
  /** The first image, as a URL this service serves. */
  image_url: string | null;
  /** The first image's thumbnail. */
  thumbnail_url: string | null;
  /**
   * The images the job was given as inputs (uploads, https URLs, data: URIs). Always in the API's
   * answers; optional for jobs a client makes up before the server answers.
   */
  input_images?: InputImage[];
  error_message: string | null;
  retry_count: number;
  created_at: string;
  started_at: string | null;
  completed_at: string | null;
  updated_at: string;
  priority: PriorityName;
  webhook_url: string | null;
  webhook_events: string[] | null;
  /** Who holds (or, for a route not placed yet, will be asked first for) the job's prediction. */
  provider: string;
  /** The model as its provider knows it: what actually served the job (null until a route places it). */
  provider_model: string | null;
  /** The alias the job was submitted with, or null. */
  route: string | null;
  /**
   * True when the inputs were checked against the model's input schema at submit; false when
   * they passed on unchecked (a route alias, or a model whose schema could not be had); null for
   * jobs older than the check's record. Always in the API's answers; optional for jobs a client
   * makes up before the server answers.
   */
  inputs_validated?: boolean | null;
  /**
   * The job's place in a line, else null: while it is processing at a provider with a queue of
   * its own (fal), its place in that queue as the provider last said it (fal counts from 0);
   * while it is pending, its place among the pending jobs here (1: next; shared/jobs/timing.ts).
   */
  queue_position: number | null;
  /** Provider predictions made for the job (more than 1 only after a lost prediction). */
  predictions: number;
  /** The provider's predict time summed over the job's predictions (s); null until known. */
  predict_time_s: number | null;
  /** Estimated cost in USD from the price table (an estimate); null until known. */
  cost_usd: number | null;
  /** What can be done to the job now (the UI shows buttons for these). */
  actions: { cancel: boolean; retry: boolean; delete: boolean };
  /**
   * Starred by its owner. This and `eta_s` are always in the API's answers; optional for
   * jobs a client makes up before the server answers.
   */
  starred?: boolean;
  /** Seconds until an unfinished job should be done (see shared/jobs/timing.ts); else null. */
  eta_s?: number | null;
}

/** URL path under which stored images are served. */
export function imageUrl(file: string): string {
  return `/images/${encodeURIComponent(file)}`;
}

/** Maps a jobs row to its JSON shape; `timing` from shared/jobs/timing.ts when known. */
export function jobToJson(row: JobRow, timing: LiveTiming = NO_TIMING): JobJson {
  const images = row.images.map((img) => ({
    url: imageUrl(img.file),
    thumbnail_url: imageUrl(img.thumbnail ?? thumbnailName(img.file)),
    content_type: img.content_type,
    width: img.width,
    height: img.height,
    bytes: img.bytes,
  }));
  return {
    id: row.id,
    prompt: row.prompt,
    negative_prompt: row.negative_prompt,
    model: row.model,
    parameters: row.parameters,
    status: row.status,
    progress: Math.round(row.progress * 10) / 10,
    media_path: row.images[0] ? `generated/${row.images[0].file}` : null,
    images,
    image_url: images[0]?.url ?? null,
    thumbnail_url: images[0]?.thumbnail_url ?? null,
    input_images: inputImages(row.parameters),
    error_message: row.error_message,
    retry_count: row.retry_count,
    created_at: iso(row.created_at),
    started_at: row.started_at ? iso(row.started_at) : null,
    completed_at: row.completed_at ? iso(row.completed_at) : null,
    updated_at: iso(row.updated_at),
    priority: row.priority ?? "normal",
    webhook_url: row.webhook_url ?? null,
    webhook_events: row.webhook_events ?? null,
    provider: row.provider,
    provider_model: row.provider_model ?? (row.route ? null : row.model),
    route: row.route ?? null,
    inputs_validated: row.inputs_validated ?? null,
    // One place in line: the provider's queue while processing there, else among the pending.
    queue_position: row.status === "processing" && row.provider_queue_position != null
      ? row.provider_queue_position
      : timing.queue_position,
    predictions: row.predictions ?? 0,
    predict_time_s: row.predict_time_s === null || row.predict_time_s === undefined
      ? null
      : Math.round(row.predict_time_s * 1000) / 1000,
    cost_usd: row.cost_usd === null || row.cost_usd === undefined ? null : Number(row.cost_usd),
    actions: {
      cancel: row.status === "pending" || row.status === "processing",
      retry: row.status === "failed" || row.status === "canceled",
      delete: true,
    },
    starred: row.starred ?? false,
    eta_s: timing.eta_s,
  };
}

function iso(value: Date | string): string {
  return (value instanceof Date ? value : new Date(value)).toISOString();
}
