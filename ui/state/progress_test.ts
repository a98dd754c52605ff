import assert from "node:assert/strict";
import { createJobsStore, type Job } from "./jobs.ts";
import { progressLabel, secondsLeft, secondsSince } from "./progress.ts";

const T0 = Date.parse("2025-03-12T12:00:00Z");
const at = (s: number) => new Date(T0 + s * 1000).toISOString();

function job(patch: Partial<Job>): Job {
  return {
    id: "j",
    prompt: "p",
    negative_prompt: null,
    model: "local/aurora",
    parameters: {},
    status: "processing",
    progress: 0,
    media_path: null,
    images: [],
    image_url: null,
    error_message: null,
    retry_count: 0,
    created_at: at(0),
    started_at: at(2),
    completed_at: null,
    updated_at: at(2),
    ...patch,
  };
}

Deno.test("progress: the clock runs while a job waits or runs, even when progress stalls", () => {
  const queued = job({ status: "pending", started_at: null });
  assert.equal(progressLabel(queued, T0 + 5_000, 3), "Queued · #3 in line · 5 s");
  assert.equal(progressLabel(queued, T0 + 65_000), "Queued · 1 min 05 s");
  assert.equal(progressLabel(job({}), T0 + 3_500), "Starting… · 1 s");
  // 58 % for a while: the elapsed time and the estimate keep moving.
  const stalled = job({ progress: 58, updated_at: at(6) });
  assert.equal(progressLabel(stalled, T0 + 6_000), "58 % · 4 s · ~3 s left");
  assert.equal(progressLabel(stalled, T0 + 9_100), "58 % · 7 s · ~6 s left");
  assert.equal(progressLabel(job({ local: true }), T0), "Sending…");
  const fal = job({ queue_position: 2, provider: "fal" });
  assert.equal(progressLabel(fal, T0 + 12_000), "Queued at fal · #3 in line · 10 s");
});

Deno.test("progress: the server's eta_s wins over the projection, counted from its arrival", () => {
  const store = createJobsStore(() => T0 + 10_000);
  store.upsert(job({ progress: 10, eta_s: 30, updated_at: at(4) }));
  const j = store.byId.value.get("j")!;
  assert.equal(j.eta_at, T0 + 40_000);
  assert.equal(secondsLeft(j, T0 + 10_000), 30);
  assert.equal(secondsLeft(j, T0 + 25_000), 15);
  assert.equal(secondsLeft(j, T0 + 60_000), 0);
  assert.equal(progressLabel(j, T0 + 60_000), "10 % · 58 s · almost done");
  // A queued job: the API's place in the line (1: next) wins over the page's own count.
  store.upsert(job({ id: "q", status: "pending", started_at: null, queue_position: 4, eta_s: 12 }));
  assert.equal(
    progressLabel(store.byId.value.get("q")!, T0 + 10_000, 2),
    "Queued · #4 in line · 10 s · ~12 s left",
  );
  // Too early to project: nothing rather than a wild guess.
  assert.equal(secondsLeft(job({ progress: 3 }), T0 + 30_000), null);
  assert.equal(secondsLeft(job({ progress: 50 }), T0 + 3_000), null);
  assert.equal(secondsLeft(job({ status: "pending", progress: 50 }), T0 + 30_000), null);
  // A clock behind the server's never shows negative times.
  assert.equal(secondsSince(at(5), T0), 0);
  assert.equal(secondsSince(null, T0), 0);
});
