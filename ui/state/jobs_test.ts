import assert from "node:assert/strict";
import type { JobJson } from "../api_client.ts";
import {
  afterAction,
  createJobsStore,
  type Job,
  jobSize,
  newestFirst,
  runSeconds,
} from "./jobs.ts";

function job(id: string, patch: Partial<JobJson> = {}): JobJson {
  return {
    id,
    prompt: `prompt ${id}`,
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
    created_at: "2025-01-01T00:00:00.000Z",
    started_at: null,
    completed_at: null,
    updated_at: "2025-01-01T00:00:00.000Z",
    ...patch,
  };
}

Deno.test("store keeps jobs newest first, stable for equal times", () => {
  const store = createJobsStore();
  store.upsert(job("b", { created_at: "2025-01-01T00:00:02Z" }));
  store.upsert(job("a", { created_at: "2025-01-01T00:00:01Z" }));
  store.upsert(job("c", { created_at: "2025-01-01T00:00:03Z" }));
  store.upsert(job("d", { created_at: "2025-01-01T00:00:03Z" }));
  assert.deepEqual(store.sorted.value.map((j) => j.id), ["d", "c", "b", "a"]);
  assert.equal([job("x"), job("y")].sort(newestFirst)[0].id, "y");
});

Deno.test("upsert replaces with newer JSON and ignores stale or identical JSON", () => {
  const store = createJobsStore();
  store.upsert(
    job("a", { status: "processing", progress: 40, updated_at: "2025-01-01T00:00:05Z" }),
  );
  const stale = store.upsert(job("a", { status: "pending", updated_at: "2025-01-01T00:00:01Z" }));
  assert.equal(stale.changed, false);
  assert.equal(store.byId.value.get("a")!.progress, 40);
  const same = store.upsert(
    job("a", { status: "processing", progress: 40, updated_at: "2025-01-01T00:00:05Z" }),
  );
  assert.equal(same.changed, false);
  const newer = store.upsert(job("a", {
    status: "completed",
    progress: 100,
    updated_at: "2025-01-01T00:00:09Z",
  }));
  assert.equal(newer.changed, true);
  assert.equal(newer.previous?.status, "processing");
  assert.equal(store.byId.value.get("a")!.status, "completed");
});

Deno.test("running, queue positions and remove", () => {
  const store = createJobsStore();
  store.upsertMany([
    job("p1", { created_at: "2025-01-01T00:00:01Z" }),
    job("p2", { created_at: "2025-01-01T00:00:02Z" }),
    job("r", { status: "processing", created_at: "2025-01-01T00:00:00Z" }),
    job("done", { status: "completed", created_at: "2025-01-01T00:00:03Z" }),
  ]);
  assert.deepEqual(store.running.value.map((j) => j.id), ["p2", "p1", "r"]);
  assert.equal(store.queuePositions.value.get("p1"), 1);
  assert.equal(store.queuePositions.value.get("p2"), 2);
  assert.equal(store.queuePositions.value.get("r"), undefined);
  store.remove("p1");
  assert.equal(store.queuePositions.value.get("p2"), 1);
  store.remove("missing");
  assert.equal(store.sorted.value.length, 3);
});

Deno.test("a removed job stays removed: a list read from before its delete does not bring it back", () => {
  const store = createJobsStore();
  const doomed = job("doomed", { status: "completed" });
  store.upsertMany([doomed, job("kept", { status: "completed" })]);
  store.remove("doomed");
  // The list read that started before the DELETE answers after it, with the job still in it.
  store.upsertMany([{ ...doomed }, job("kept", { status: "completed" })]);
  store.upsert({ ...doomed, updated_at: "2030-01-01T00:00:00Z" });
  assert.deepEqual(store.sorted.value.map((j) => j.id), ["kept"]);
  // Removed before it was ever held (a delete heard while the first list read is in flight).
  store.remove("early");
  store.upsert(job("early"));
  assert.equal(store.byId.value.has("early"), false);
  // A refused delete takes the removal back.
  store.restore(doomed);
  assert.equal(store.byId.value.get("doomed")?.status, "completed");
  store.upsert({ ...doomed, status: "failed", updated_at: "2030-01-01T00:00:00Z" });
  assert.equal(store.byId.value.get("doomed")?.status, "failed");
  // Another key: the page starts over.
  store.remove("kept");
  store.clear();
  store.upsert(job("kept"));
  assert.equal(store.byId.value.has("kept"), true);
});

Deno.test("an optimistic job appears at once, on top, and is replaced by the server's", () => {
  const store = createJobsStore();
  store.upsert(job("old", { status: "completed", created_at: "2025-01-01T00:00:00Z" }));
  const localId = store.addOptimistic(
    { prompt: "a cat", model: "local/aurora", parameters: { width: 768, height: 512 } },
    Date.parse("2025-01-01T00:01:00Z"),
  );
  let top = store.sorted.value[0];
  assert.equal(top.id, localId);
  assert.equal(top.local, true);
  assert.equal(top.status, "pending");
  assert.equal(store.running.value.length, 1);

  store.confirmOptimistic(localId, "real-1");
  top = store.sorted.value[0];
  assert.equal(top.id, "real-1");
  assert.equal(store.byId.value.has(localId), false);

  // The server's JSON replaces the placeholder even if its clock says "earlier".
  store.upsert(job("real-1", {
    prompt: "a cat",
    created_at: "2025-01-01T00:00:59Z",
    updated_at: "2025-01-01T00:00:59Z",
  }));
  const real = store.byId.value.get("real-1")!;
  assert.equal(real.local, undefined);
  assert.equal(real.created_at, "2025-01-01T00:00:59Z");
});

Deno.test("confirmOptimistic keeps a server copy that arrived first (SSE beat the 202)", () => {
  const store = createJobsStore();
  const localId = store.addOptimistic({ prompt: "x", model: "local/aurora", parameters: {} });
  store.upsert(job("real", { status: "processing", progress: 10 }));
  store.confirmOptimistic(localId, "real");
  assert.equal(store.sorted.value.length, 1);
  assert.equal(store.byId.value.get("real")!.status, "processing");
});

Deno.test("jobSize and runSeconds", () => {
  const withImage: Job = {
    ...job("a", { parameters: { width: 512, height: 512 } }),
    images: [{ url: "/i", content_type: "image/png", width: 768, height: 512, bytes: 1 }],
  };
  assert.deepEqual(jobSize(withImage), { width: 768, height: 512 });
  assert.deepEqual(jobSize(job("b", { parameters: { width: 832, height: 1216 } })), {
    width: 832,
    height: 1216,
  });
  assert.deepEqual(jobSize(job("c")), { width: 1024, height: 1024 });
  assert.deepEqual(jobSize(job("d", { parameters: { width: 2048, height: 64 } })), {
    width: 2048,
    height: 512,
  });
  assert.equal(
    runSeconds(job("e", {
      started_at: "2025-01-01T00:00:01Z",
      completed_at: "2025-01-01T00:00:04Z",
    })),
    3,
  );
  assert.equal(runSeconds(job("f")), null);
});

Deno.test("afterAction: what a card shows while cancel or retry is on its way", () => {
  const running = job("a", {
    status: "processing",
    progress: 40,
    actions: { cancel: true, retry: false, delete: true },
  });
  const canceled = afterAction(running, "cancel");
  assert.equal(canceled.status, "canceled");
  assert.equal(canceled.progress, 40);
  assert.deepEqual(canceled.actions, { cancel: false, retry: true, delete: true });
  assert.equal(running.status, "processing", "the held job is not changed");

  const failed = job("b", {
    status: "failed",
    progress: 70,
    error_message: "boom",
    started_at: "2025-01-01T00:00:01Z",
    completed_at: "2025-01-01T00:00:02Z",
    images: [{ url: "/images/x.png", content_type: "image/png", width: 1, height: 1, bytes: 9 }],
    actions: { cancel: false, retry: true, delete: true },
  });
  const again = afterAction(failed, "retry");
  assert.equal(again.status, "pending");
  assert.equal(again.progress, 0);
  assert.equal(again.error_message, null);
  assert.deepEqual(again.images, []);
  assert.equal(again.completed_at, null);
  assert.deepEqual(again.actions, { cancel: true, retry: false, delete: true });
});

Deno.test("an optimistic change goes back by upsert; clear empties the store", () => {
  const store = createJobsStore();
  const held = job("a", { status: "processing", actions: { cancel: true, retry: false } });
  store.upsert(held);
  const shown = afterAction(held, "cancel");
  assert.equal(store.upsert(shown).changed, true);
  assert.equal(store.running.value.length, 0);
  assert.equal(store.upsert(held).changed, true, "the refusal puts the held copy back");
  assert.equal(store.byId.value.get("a")?.status, "processing");
  // Only `actions.delete` changed: still news.
  const deletable = job("a", {
    status: "processing",
    actions: { cancel: true, retry: false, delete: true },
  });
  assert.equal(store.upsert(deletable).changed, true);
  store.upsert(job("b"));
  store.clear();
  assert.equal(store.byId.value.size, 0);
  assert.deepEqual(store.sorted.value, []);
});
