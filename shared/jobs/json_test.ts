import assert from "node:assert/strict";
import { jobToJson } from "./json.ts";
import type { JobRow } from "./repo.ts";

const T = new Date("2025-01-02T03:04:05.000Z");

function row(images: JobRow["images"]): JobRow {
  return {
    id: "00000000-0000-4000-8000-000000000001",
    prompt: "p",
    negative_prompt: null,
    model: "local/plasma",
    parameters: {},
    status: images.length ? "completed" : "pending",
    progress: images.length ? 100 : 0,
    provider: "local",
    provider_prediction_id: null,
    images,
    error_message: null,
    retry_count: 0,
    created_at: T,
    started_at: null,
    completed_at: null,
    updated_at: T,
    priority: "normal",
    request_id: null,
    owner_key_id: null,
    webhook_url: null,
    webhook_events: null,
    provider_model: null,
    route: null,
    provider_queue_position: null,
    inputs_validated: null,
    starred: false,
  };
}

const base = { content_type: "image/png", width: 1024, height: 1024, bytes: 1_200_000 };

Deno.test("job JSON: every image has a thumbnail_url, the job one for its first image", () => {
  const json = jobToJson(row([
    { ...base, file: "j-0.png", thumbnail: "j-0.thumb.webp" },
    // Stored before thumbnails existed: the URL is the same, the API makes it on request.
    { ...base, file: "j-1.jpg" },
    // The worker could not make it: still offered (a later request may succeed).
    { ...base, file: "j-2.png", thumbnail: null },
  ]));
  assert.deepEqual(json.images.map((i) => [i.url, i.thumbnail_url]), [
    ["/images/j-0.png", "/images/j-0.thumb.webp"],
    ["/images/j-1.jpg", "/images/j-1.thumb.webp"],
    ["/images/j-2.png", "/images/j-2.thumb.webp"],
  ]);
  assert.equal(json.thumbnail_url, "/images/j-0.thumb.webp");
  assert.equal(json.image_url, "/images/j-0.png");
  assert.ok(!("thumbnail" in json.images[0]), "the file name itself is not exposed");

  const pending = jobToJson(row([]));
  assert.equal(pending.thumbnail_url, null);
  assert.deepEqual(pending.images, []);
});

Deno.test("job JSON: provider, provider_model, route and the provider's queue position", () => {
  const plain = jobToJson(row([]));
  assert.equal(plain.provider, "local");
  assert.equal(plain.provider_model, "local/plasma", "older rows: the model itself");
  assert.equal(plain.route, null);
  assert.equal(plain.queue_position, null);
  const routed = jobToJson({
    ...row([]),
    model: "flux-schnell",
    route: "flux-schnell",
    provider: "replicate",
    status: "processing",
    provider_queue_position: 3,
  });
  assert.equal(routed.provider_model, null, "not placed yet");
  assert.equal(routed.route, "flux-schnell");
  assert.equal(routed.queue_position, 3);
  const placed = jobToJson({
    ...row([]),
    model: "flux-schnell",
    route: "flux-schnell",
    provider: "fal",
    provider_model: "fal:fal-ai/flux/schnell",
    provider_queue_position: 3,
  });
  assert.equal(placed.provider, "fal");
  assert.equal(placed.provider_model, "fal:fal-ai/flux/schnell");
  assert.equal(placed.queue_position, null, "only while processing");
});
