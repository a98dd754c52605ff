import assert from "node:assert/strict";
import type { JobJson } from "../api_client.ts";
import { jobsStore } from "./jobs.ts";
import { lightbox } from "./lightbox.ts";
import {
  auth,
  cancelJob,
  deleteJob,
  forgetJob,
  receiveJob,
  resyncTick,
  retryJob,
  titleFor,
} from "./live.ts";
import { announcement, toasts } from "./toasts.ts";

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

/** Replaces the global fetch the page's client uses; answers by `answer`, records each call. */
function stubFetch(answer: (url: string, method: string) => Response) {
  const calls: { url: string; method: string; authorization: string | null }[] = [];
  const original = globalThis.fetch;
  globalThis.fetch = ((input: RequestInfo | URL, init?: RequestInit) => {
    const method = init?.method ?? "GET";
    calls.push({
      url: String(input),
      method,
      authorization: new Headers(init?.headers).get("authorization"),
    });
    return Promise.resolve(answer(String(input), method));
  }) as typeof fetch;
  return { calls, restore: () => void (globalThis.fetch = original) };
}

const settle = () => new Promise((r) => setTimeout(r, 0));
const apiError = (status: number, message: string) =>
  Response.json({ error: { code: status === 409 ? "conflict" : "error", message } }, { status });

// Toasts leave their 6 s dismissal timers behind: not a leak of the code under test.
const actionTest = (name: string, fn: () => Promise<void>) =>
  Deno.test({ name, sanitizeOps: false, sanitizeResources: false, fn });

actionTest("cancel shows at once and applies the server's job", async () => {
  const held = job({
    id: "act-1",
    status: "processing",
    actions: { cancel: true, retry: false, delete: true },
  });
  jobsStore.upsert(held);
  const answer = { ...held, status: "canceled", updated_at: "2025-01-01T00:00:09Z" };
  const server = stubFetch(() => Response.json(answer));
  try {
    const done = cancelJob("act-1");
    assert.equal(jobsStore.byId.value.get("act-1")?.status, "canceled", "optimistic");
    assert.equal(jobsStore.byId.value.get("act-1")?.actions?.cancel, false, "no second click");
    await done;
    assert.deepEqual(server.calls.map((c) => [c.method, c.url]), [
      ["POST", "/api/v1/jobs/act-1/cancel"],
    ]);
    assert.equal(jobsStore.byId.value.get("act-1")?.updated_at, answer.updated_at);
  } finally {
    server.restore();
    jobsStore.remove("act-1");
  }
});

actionTest("a 409 puts the card back, says why in a toast and shows where the job is", async () => {
  const held = job({
    id: "act-2",
    status: "processing",
    actions: { cancel: true, retry: false, delete: true },
  });
  jobsStore.upsert(held);
  const now = { ...held, status: "completed", progress: 100, updated_at: "2025-01-01T00:00:09Z" };
  const server = stubFetch((url) =>
    url.endsWith("/cancel") ? apiError(409, "Job act-2 is already completed") : Response.json(now)
  );
  try {
    await cancelJob("act-2");
    assert.equal(jobsStore.byId.value.get("act-2")?.status, "processing", "reverted");
    const toast = toasts.value.at(-1);
    assert.equal(toast?.kind, "error");
    assert.equal(toast?.title, "Cannot cancel");
    assert.equal(toast?.body, "Job act-2 is already completed");
    await settle();
    assert.equal(server.calls.at(-1)?.url, "/api/v1/status/act-2");
    assert.equal(jobsStore.byId.value.get("act-2")?.status, "completed");
  } finally {
    server.restore();
    jobsStore.remove("act-2");
  }
});

actionTest("retry shows the job queued again at once", async () => {
  const held = job({
    id: "act-3",
    status: "failed",
    error_message: "boom",
    actions: { cancel: false, retry: true, delete: true },
  });
  jobsStore.upsert(held);
  const server = stubFetch(() =>
    Response.json({ ...held, status: "pending", error_message: null }, { status: 202 })
  );
  try {
    const done = retryJob("act-3");
    assert.equal(jobsStore.byId.value.get("act-3")?.status, "pending");
    assert.equal(jobsStore.byId.value.get("act-3")?.error_message, null);
    await done;
    assert.equal(server.calls[0].url, "/api/v1/jobs/act-3/retry");
  } finally {
    server.restore();
    jobsStore.remove("act-3");
  }
});

actionTest("delete removes the card at once; a refusal brings it back; 404 is done", async () => {
  const ids = ["del-1", "del-2", "del-3"];
  for (const id of ids) jobsStore.upsert(job({ id, status: "completed" }));
  lightbox.value = { jobId: "del-1", index: 0, list: ids };
  const statuses = [204, 500, 404];
  const server = stubFetch((_url, method) => {
    assert.equal(method, "DELETE");
    const status = statuses.shift()!;
    return status === 204 ? new Response(null, { status }) : apiError(status, `status ${status}`);
  });
  try {
    const tick = resyncTick.value;
    const done = deleteJob("del-1");
    assert.equal(jobsStore.byId.value.has("del-1"), false, "gone at once");
    assert.equal(lightbox.value?.jobId, "del-2", "the lightbox moves on to the next job");
    assert.ok(resyncTick.value > tick, "lists refetch");
    await done;
    assert.equal(jobsStore.byId.value.has("del-1"), false);

    const toastCount = toasts.value.length;
    await deleteJob("del-2");
    assert.equal(jobsStore.byId.value.has("del-2"), true, "back after a 500");
    assert.equal(toasts.value.at(-1)?.title, "Cannot delete");

    await deleteJob("del-3");
    assert.equal(jobsStore.byId.value.has("del-3"), false, "a 404: deleted elsewhere already");
    assert.equal(toasts.value.length, toastCount + 1, "no toast for the 404");
    assert.deepEqual(server.calls.map((c) => c.url), ids.map((id) => `/api/v1/jobs/${id}`));

    // The SSE's job_deleted for a job shown in the lightbox, with nothing left to move to.
    lightbox.value = { jobId: "del-2", index: 0, list: ["del-2"] };
    forgetJob("del-2");
    assert.equal(jobsStore.byId.value.has("del-2"), false);
    assert.equal(lightbox.value, null, "closed");
  } finally {
    server.restore();
    lightbox.value = null;
    for (const id of ids) jobsStore.remove(id);
  }
});

actionTest("a 401 opens the key prompt and keeps the card; the key is then sent", async () => {
  const held = job({
    id: "act-401",
    status: "failed",
    actions: { cancel: false, retry: true, delete: true },
  });
  jobsStore.upsert(held);
  const key = "dr_goodgoodgoodgoodgoodgoodgoodgood";
  const server = stubFetch((url) => {
    if (url.endsWith("/me")) {
      return Response.json({
        auth_required: true,
        authenticated: true,
        key: { name: "laptop", prefix: "dr_good", admin: false },
      });
    }
    return apiError(401, "An API key is required: send Authorization: Bearer <key>");
  });
  try {
    const toastCount = toasts.value.length;
    await retryJob("act-401");
    assert.equal(auth.session.value.phase, "locked");
    assert.equal(auth.session.value.reason, "missing");
    assert.equal(jobsStore.byId.value.get("act-401")?.status, "failed", "reverted");
    assert.equal(toasts.value.length, toastCount, "the prompt says it, no toast");

    assert.equal(await auth.submit(key, false), null);
    assert.equal(auth.session.value.phase, "ready");
    assert.equal(auth.session.value.key?.name, "laptop");
    await retryJob("act-401");
    const last = server.calls.at(-1)!;
    assert.equal(last.url, "/api/v1/jobs/act-401/retry");
    assert.equal(last.authorization, `Bearer ${key}`);
    assert.equal(auth.session.value.phase, "locked", "the key was refused: revoked");
    assert.equal(auth.session.value.reason, "refused");
    assert.equal(auth.key(), null);
  } finally {
    server.restore();
    jobsStore.remove("act-401");
  }
});
