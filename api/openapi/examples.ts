/** Example values shared by several parts of the document. */
import type { JobJson } from "../../shared/jobs/json.ts";

/** The job id of every example. */
export const JOB_ID = "5b7c3f0e-8a1d-4c2b-9e6f-0123456789ab";
/** The time of every example. */
export const TIME = "2025-03-04T05:06:07.000Z";

const IMAGE_JSON = {
  url: `/images/${JOB_ID}-0.png`,
  thumbnail_url: `/images/${JOB_ID}-0.thumb.webp`,
  content_type: "image/png",
  width: 768,
  height: 512,
  bytes: 81234,
};

/** A completed job, as GET /jobs/{job_id} shows it. */
export const JOB_EXAMPLE = {
  id: JOB_ID,
  prompt: "a lighthouse on a cliff at dusk",
  negative_prompt: "blurry",
  model: "local/aurora",
  parameters: { width: 768, height: 512, num_outputs: 1, seed: 42 },
  status: "completed",
  progress: 100,
  media_path: `generated/${JOB_ID}-0.png`,
  images: [IMAGE_JSON],
  image_url: IMAGE_JSON.url,
  thumbnail_url: IMAGE_JSON.thumbnail_url,
  input_images: [],
  error_message: null,
  retry_count: 0,
  created_at: TIME,
  started_at: TIME,
  completed_at: TIME,
  updated_at: TIME,
  priority: "normal",
  webhook_url: null,
  webhook_events: null,
  provider: "local",
  provider_model: "local/aurora",
  route: null,
  inputs_validated: true,
  predictions: 1,
  predict_time_s: 0.812,
  cost_usd: 0,
  actions: { cancel: false, retry: false, delete: true },
  starred: false,
  eta_s: null,
  queue_position: null,
} satisfies JobJson;

/** The same job, pending. */
export const PENDING_JOB = {
  ...JOB_EXAMPLE,
  status: "pending",
  progress: 0,
  media_path: null,
  images: [],
  image_url: null,
  thumbnail_url: null,
  started_at: null,
  completed_at: null,
  predictions: 0,
  predict_time_s: null,
  cost_usd: null,
  actions: { cancel: true, retry: false, delete: true },
  eta_s: 4.5,
  queue_position: 3,
} satisfies JobJson;
