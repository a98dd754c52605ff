import assert from "node:assert/strict";
import type { JobJson, JobListQuery } from "../api_client.ts";
import {
  cursorFor,
  filtersKey,
  historyPage,
  historyView,
  loadHistory,
  PAGE_SIZE,
  pageKey,
} from "./history.ts";
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

const ALL = { status: "" as const, q: "" };

Deno.test("history view: fetched page plus newer live jobs on page 1 only", () => {
  const byId = new Map<string, Job>([
    ["old", job("old", 1)],
    ["p1", job("p1", 10)],
    ["p2", job("p2", 9)],
    ["new", job("new", 20, { status: "processing" })],
    ["local", job("local", 0, { status: "pending", local: true })],
  ]);
  const page1 = historyView(byId, ["p1", "p2"], { page: 1, filters: ALL });
  assert.deepEqual(page1.jobs.map((j) => j.id), ["new", "p1", "p2", "local"]);
  assert.equal(page1.added, 2);
  const page2 = historyView(byId, ["p2"], { page: 2, filters: ALL });
  assert.deepEqual(page2.jobs.map((j) => j.id), ["p2"]);
  const failedOnly = historyView(byId, [], { page: 1, filters: { ...ALL, status: "failed" } });
  assert.deepEqual(failedOnly.jobs, []);
  const search = historyView(byId, ["p1", "p2"], { page: 1, filters: { ...ALL, q: "P2" } });
  assert.deepEqual(search.jobs.map((j) => j.id), ["p2"]);
  // Oldest first: the server's order, and nothing live (new jobs belong on the last page).
  const oldest = historyView(byId, ["p2", "p1"], {
    page: 1,
    filters: { ...ALL, sort: "oldest" },
  });
  assert.deepEqual(oldest.jobs.map((j) => j.id), ["p2", "p1"]);
  assert.equal(oldest.added, 0);
});

Deno.test("loadHistory pages with skip/limit and keeps only the latest answer", async () => {
  const store = createJobsStore();
  const calls: unknown[] = [];
  let release: () => void = () => {};
  const slow = new Promise<void>((r) => release = r);
  const client = {
    listJobs: async (q: JobListQuery) => {
      calls.push(q);
      if (q.skip === 0) await slow;
      return { jobs: [job(`s${q.skip}`, q.skip ?? 0) as JobJson], total: 100, next: null };
    },
  };
  const first = loadHistory(client, store, { filters: ALL, page: 1 });
  const failed = { ...ALL, status: "failed" as const };
  await loadHistory(client, store, { filters: failed, page: 3 });
  release();
  await first;
  assert.deepEqual(calls, [
    { skip: 0, limit: PAGE_SIZE },
    { skip: 2 * PAGE_SIZE, limit: PAGE_SIZE, status: "failed" },
  ]);
  assert.equal(historyPage.value.key, pageKey({ filters: failed, page: 3 }));
  assert.deepEqual(historyPage.value.ids, [`s${2 * PAGE_SIZE}`]);
  assert.equal(historyPage.value.total, 100);
  assert.equal(store.byId.value.size, 1);

  const failing = { listJobs: () => Promise.reject(new Error("Cannot reach the server")) };
  await loadHistory(failing, store, { filters: failed, page: 3 });
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
  const fal = historyView(byId, ["p1"], { page: 1, filters: { ...ALL, provider: "fal" } });
  assert.deepEqual(fal.jobs.map((j) => j.id), ["live-fal", "p1"]);
  assert.equal(fal.added, 1);

  const calls: unknown[] = [];
  const client = {
    listJobs: (q: JobListQuery) => {
      calls.push(q);
      return Promise.resolve({ jobs: [], total: 0, next: null });
    },
  };
  const filters = { ...ALL, status: "completed" as const, provider: "fal" as const };
  await loadHistory(client, createJobsStore(), { filters, page: 2 });
  assert.deepEqual(calls, [{
    skip: PAGE_SIZE,
    limit: PAGE_SIZE,
    status: "completed",
    provider: "fal",
  }]);
  assert.equal(historyPage.value.key, pageKey({ filters, page: 2 }));
});

Deno.test("loadHistory: the library's filters go to the API; cursors page on and back", async () => {
  const calls: JobListQuery[] = [];
  const client = {
    listJobs: (q: JobListQuery) => {
      calls.push(q);
      const page = q.cursor ? Number(q.cursor.slice(1)) : 1;
      return Promise.resolve({ jobs: [], total: 80, next: page < 4 ? `c${page + 1}` : null });
    },
  };
  const filters = { ...ALL, q: "red car", starred: true, from: "2025-03-01" };
  const store = createJobsStore();
  await loadHistory(client, store, { filters, page: 1 });
  assert.deepEqual(calls[0], {
    skip: 0,
    limit: PAGE_SIZE,
    q: "red car",
    starred: true,
    after: new Date(2025, 2, 1).toISOString(),
  });
  assert.equal(historyPage.value.next, "c2");
  assert.equal(cursorFor(filters, 2), "c2", "learnt from the answer");
  assert.equal(cursorFor(filters, 1), undefined, "page 1 needs none");
  await loadHistory(client, store, { filters, page: 2, cursor: "c2" });
  const { skip: _skip, ...rest } = calls[0];
  assert.deepEqual(calls[1], { ...rest, cursor: "c2" }, "a cursor instead of skip");
  assert.equal(historyPage.value.next, "c3");
  assert.equal(cursorFor(filters, 3), "c3");
  assert.equal(cursorFor({ ...filters, q: "other" }, 2), undefined, "per list");
  // A page reached without a cursor (a shared link, an old server) is read by skip.
  await loadHistory(client, store, { filters, page: 4 });
  assert.equal(calls[2].skip, 3 * PAGE_SIZE);
  assert.equal(calls[2].cursor, undefined);
});

Deno.test("page keys: the same filters in any order give the same key", () => {
  assert.equal(
    filtersKey({ status: "", q: "a", model: "m", starred: true }),
    filtersKey({ starred: true, model: "m", q: "a", status: "" }),
  );
  assert.notEqual(
    pageKey({ filters: ALL, page: 2 }),
    pageKey({ filters: ALL, page: 2, cursor: "x" }),
  );
});
