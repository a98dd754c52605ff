import assert from "node:assert/strict";
import { ApiError, type BulkItemResult, type JobJson } from "../api_client.ts";
import { createJobsStore, type Job } from "./jobs.ts";
import {
  bulkMessage,
  bulkResults,
  type LibraryDeps,
  missingRoute,
  runBulk,
  seedOf,
  setStar,
  variationBody,
} from "./library.ts";

function job(id: string, patch: Partial<Job> = {}): Job {
  const at = "2025-03-12T12:00:00.000Z";
  return {
    id,
    prompt: `prompt ${id}`,
    negative_prompt: null,
    model: "local/aurora",
    parameters: { width: 1024, height: 1024, seed: 7 },
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
    starred: false,
    ...patch,
  };
}

const NO_ROUTE = new ApiError(404, "not_found", "No route for POST /api/v1/jobs/bulk");

function deps(api: Partial<LibraryDeps["api"]>) {
  const store = createJobsStore();
  store.upsertMany([job("a"), job("b"), job("c")]);
  const forgotten: string[] = [];
  const notes: string[] = [];
  const d: LibraryDeps = {
    api: api as LibraryDeps["api"],
    store,
    forget: (id) => {
      forgotten.push(id);
      store.remove(id);
    },
    notify: (kind, title, body) => void notes.push(`${kind}: ${title}${body ? ` (${body})` : ""}`),
  };
  return { d, store, forgotten, notes };
}

Deno.test("bulk: the API's per-id results; stars and deletes reach the page", async () => {
  const sent: unknown[] = [];
  const { d, store, forgotten } = deps({
    bulk: (body) => {
      sent.push(body);
      return Promise.resolve(
        body.ids.map((id): BulkItemResult =>
          id === "c" ? { id, ok: false, error: "Job c not found" } : { id, ok: true }
        ),
      );
    },
  });
  const starred = await runBulk(d, ["a", "b", "c"], "star");
  assert.deepEqual(starred.done, ["a", "b"]);
  assert.deepEqual(starred.failed, [{ id: "c", ok: false, error: "Job c not found" }]);
  assert.equal(store.byId.value.get("a")?.starred, true);
  assert.equal(store.byId.value.get("c")?.starred, false);
  assert.equal(bulkMessage("star", starred), "Starred 2 jobs; 1 not: Job c not found");

  const added = await runBulk(d, ["a"], "add_to", "col-1");
  assert.deepEqual(sent[1], { ids: ["a"], action: "add_to", collection: "col-1" });
  assert.equal(bulkMessage("add_to", added, "Cats"), "Added 1 job to Cats");

  const deleted = await runBulk(d, ["a", "b"], "delete");
  assert.deepEqual(deleted.done, ["a", "b"]);
  assert.deepEqual(forgotten, ["a", "b"]);
});

Deno.test("bulk: a server without /jobs/bulk deletes and stars job by job, not collections", async () => {
  const calls: string[] = [];
  const { d, store, forgotten } = deps({
    bulk: () => Promise.reject(NO_ROUTE),
    deleteJob: (id) => {
      calls.push(`delete ${id}`);
      return id === "b"
        ? Promise.reject(new ApiError(404, "not_found", "Job b not found"))
        : Promise.resolve();
    },
    star: (id, on) => {
      calls.push(`${on ? "star" : "unstar"} ${id}`);
      return Promise.resolve(null);
    },
  });
  const starred = await runBulk(d, ["a", "c"], "star");
  assert.deepEqual(starred.done, ["a", "c"]);
  assert.equal(store.byId.value.get("c")?.starred, true);
  const deleted = await runBulk(d, ["a", "b"], "delete");
  assert.deepEqual(deleted.done, ["a", "b"], "gone already counts as deleted");
  assert.deepEqual(forgotten, ["a", "b"]);
  assert.deepEqual(calls, ["star a", "star c", "delete a", "delete b"]);
  const none = await runBulk(d, ["c"], "add_to", "x");
  assert.deepEqual(none.done, []);
  assert.equal(none.failed[0].error, "This server has no collections yet.");
  // Other failures are not retried one by one.
  const { d: d2 } = deps({ bulk: () => Promise.reject(new ApiError(503, "unavailable", "down")) });
  assert.deepEqual((await runBulk(d2, ["a"], "delete")).failed, [
    { id: "a", ok: false, error: "down" },
  ]);
  assert.ok(missingRoute(NO_ROUTE));
  assert.ok(!missingRoute(new ApiError(404, "not_found", "Job x not found")));
});

Deno.test("star: shown at once, put back with a message when refused", async () => {
  let answer: Promise<JobJson | null> = Promise.resolve(null);
  const { d, store, notes } = deps({ star: () => answer });
  const a = store.byId.value.get("a")!;
  const pending = setStar(d, a, true);
  assert.equal(store.byId.value.get("a")?.starred, true, "before the API answers");
  assert.equal(await pending, true);
  assert.equal(store.byId.value.get("a")?.starred, true);

  answer = Promise.reject(new ApiError(0, "network", "Cannot reach the server"));
  assert.equal(await setStar(d, store.byId.value.get("a")!, false), false);
  assert.equal(store.byId.value.get("a")?.starred, true, "put back");
  assert.deepEqual(notes, ["error: Cannot unstar (Cannot reach the server)"]);
});

Deno.test("variations: the same settings with a new seed; the seed of a job", () => {
  const j = job("v", {
    negative_prompt: "blurry",
    parameters: { width: 832, height: 1216, num_outputs: 2, seed: 7 },
    priority: "high",
  });
  const body = variationBody(j, () => 0.5);
  assert.deepEqual(body, {
    prompt: "prompt v",
    negative_prompt: "blurry",
    model: "local/aurora",
    parameters: { width: 832, height: 1216, num_outputs: 2, seed: 2147483648 },
    priority: "high",
  });
  assert.equal(variationBody(job("r", { route: "flux-schnell" })).model, "flux-schnell");
  assert.equal(seedOf(j), 7);
  assert.equal(seedOf(job("n", { parameters: {} })), null);
});

Deno.test("bulkResults reads ok flags, HTTP statuses and words", () => {
  assert.deepEqual(
    bulkResults([
      { id: "a", status: 200 },
      { id: "b", status: 404, error: { code: "not_found", message: "Job b not found" } },
      { id: "c", status: "ok" },
      { id: "d", status: "not_found" },
      { id: "e", error: "refused" },
    ]),
    [
      { id: "a", ok: true },
      { id: "b", ok: false, error: "Job b not found" },
      { id: "c", ok: true },
      { id: "d", ok: false, error: "not_found" },
      { id: "e", ok: false, error: "refused" },
    ],
  );
  assert.deepEqual(bulkResults(null), []);
});
