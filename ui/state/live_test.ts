import assert from "node:assert/strict";
import type { JobJson } from "../api_client.ts";
import { jobsStore } from "./jobs.ts";
import { receiveJob, titleFor } from "./live.ts";
import { announcement } from "./toasts.ts";

function job(patch: Partial<JobJson>): JobJson {
  return {
    id: "live-1",
    prompt: "a fox",
    negative_prompt: null,
    model: "local/aurora",
    parameters: {},
    status: "pending",
    progress: 0,
    media_path: null,
    images: [],
    image_url: null,
    error_message: null,
    retry_count: 0,
    created_at: "2025-01-01T00:00:00Z",
    started_at: null,
    completed_at: null,
    updated_at: "2025-01-01T00:00:00Z",
    ...patch,
  };
}

Deno.test("the tab title counts running jobs", () => {
  assert.equal(titleFor(0), "Darkroom");
  assert.equal(titleFor(3), "(3) Darkroom");
});

Deno.test("receiveJob stores updates and announces a finished job once", async () => {
  receiveJob(job({ status: "processing", progress: 50, updated_at: "2025-01-01T00:00:01Z" }));
  assert.equal(jobsStore.running.value.length, 1);
  announcement.value = "";
  receiveJob(job({ status: "completed", progress: 100, updated_at: "2025-01-01T00:00:02Z" }));
  await Promise.resolve();
  assert.equal(announcement.value, "Job “a fox” finished");
  assert.equal(jobsStore.running.value.length, 0);
  announcement.value = "";
  receiveJob(job({ status: "completed", progress: 100, updated_at: "2025-01-01T00:00:02Z" }));
  await Promise.resolve();
  assert.equal(announcement.value, "", "a repeated event is not announced again");
  jobsStore.remove("live-1");
});
