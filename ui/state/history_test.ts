import assert from "node:assert/strict";
import type { JobJson } from "../api_client.ts";
import { historyPage, historyView, loadHistory, matchesSearch, PAGE_SIZE } from "./history.ts";
import { createJobsStore, type Job } from "./jobs.ts";

function job(id: string, created: number, patch: Partial<Job> = {}): Job {
  const at = new Date(Date.UTC(2025, 0, 1, 0, 0, created)).toISOString();
  return {
    id,
    prompt: `prompt ${id}`,
    negative_prompt: null,
    model: "local/aurora",
    parameters: {},
    status: "completed",
    progress: 100,
    media_path: null,
    images: [],
    image_url: null,
    error_message: null,
    retry_count: 0,
    created_at: at,
    started_at: null,
    completed_at: null,
    updated_at: at,
    ...patch,
  };
}

Deno.test("history view: fetched page plus newer live jobs on page 1 only", () => {
  const byId = new Map<string, Job>([
    ["old", job("old", 1)],
    ["p1", job("p1", 10)],
    ["p2", job("p2", 9)],
    ["new", job("new", 20, { status: "processing" })],
    ["local", job("local", 0, { status: "pending", local: true })],
  ]);
  const page1 = historyView(byId, ["p1", "p2"], { page: 1, status: "", q: "" });
  assert.deepEqual(page1.jobs.map((j) => j.id), ["new", "p1", "p2", "local"]);
  assert.equal(page1.added, 2);
  const page2 = historyView(byId, ["p2"], { page: 2, status: "", q: "" });
  assert.deepEqual(page2.jobs.map((j) => j.id), ["p2"]);
  const failedOnly = historyView(byId, [], { page: 1, status: "failed", q: "" });
  assert.deepEqual(failedOnly.jobs, []);
  const search = historyView(byId, ["p1", "p2"], { page: 1, status: "", q: "P2" });
  assert.deepEqual(search.jobs.map((j) => j.id), ["p2"]);
});

Deno.test("search matches prompt, negative prompt and model, case-insensitively", () => {
  const j = job("a", 1, { prompt: "A Red Fox", negative_prompt: "blurry", model: "owner/flux" });
  assert.ok(matchesSearch(j, "red fox"));
  assert.ok(matchesSearch(j, "BLUR"));
  assert.ok(matchesSearch(j, "flux"));
  assert.ok(matchesSearch(j, "  "));
  assert.ok(!matchesSearch(j, "cat"));
});

Deno.test("loadHistory pages with skip/limit and keeps only the latest answer", async () => {
  const store = createJobsStore();
  const calls: unknown[] = [];
  let release: () => void = () => {};
  const slow = new Promise<void>((r) => release = r);
  const client = {
    listJobs: async (q: { skip: number; limit: number; status?: string }) => {
      calls.push(q);
      if (q.skip === 0) await slow;
      return {
        jobs: [job(`s${q.skip}`, q.skip) as JobJson],
        total: 100,
      };
    },
  };
  const first = loadHistory(client, store, { status: "", page: 1 });
  await loadHistory(client, store, { status: "failed", page: 3 });
  release();
  await first;
  assert.deepEqual(calls, [
    { skip: 0, limit: PAGE_SIZE, status: "" },
    { skip: 2 * PAGE_SIZE, limit: PAGE_SIZE, status: "failed" },
  ]);
  assert.equal(historyPage.value.key, "failed|3");
  assert.deepEqual(historyPage.value.ids, [`s${2 * PAGE_SIZE}`]);
  assert.equal(historyPage.value.total, 100);
  assert.equal(store.byId.value.size, 1);

  const failing = { listJobs: () => Promise.reject(new Error("Cannot reach the server")) };
  await loadHistory(failing, store, { status: "failed", page: 3 });
  assert.equal(historyPage.value.error, "Cannot reach the server");
  assert.deepEqual(historyPage.value.ids, [`s${2 * PAGE_SIZE}`]);
});

Deno.test("history view and load: the provider filter narrows live arrivals and is sent to the API", async () => {
  const byId = new Map<string, Job>([
    ["p1", job("p1", 10, { provider: "fal" })],
    ["live-fal", job("live-fal", 20, { provider: "fal", status: "processing" })],
    ["live-rep", job("live-rep", 21, { provider: "replicate", status: "processing" })],
    ["local", job("local", 0, { status: "pending", local: true })],
  ]);
  const fal = historyView(byId, ["p1"], { page: 1, status: "", q: "", provider: "fal" });
  assert.deepEqual(fal.jobs.map((j) => j.id), ["live-fal", "p1"]);
  assert.equal(fal.added, 1);

  const calls: unknown[] = [];
  const client = {
    listJobs: (q: { skip: number; limit: number; status?: string; provider?: string }) => {
      calls.push(q);
      return Promise.resolve({ jobs: [], total: 0 });
    },
  };
  await loadHistory(client, createJobsStore(), { status: "completed", page: 2, provider: "fal" });
  assert.deepEqual(calls, [{
    skip: PAGE_SIZE,
    limit: PAGE_SIZE,
    status: "completed",
    provider: "fal",
  }]);
  assert.equal(historyPage.value.key, "completed|2|fal");
});
