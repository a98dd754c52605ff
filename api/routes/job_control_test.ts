import assert from "node:assert/strict";
import { countJobs, getJob, markFailed, markProcessing } from "../../shared/jobs/repo.ts";
import { postGenerate, withApp } from "../app_testing.ts";

const submit = postGenerate;

const BODY = {
  prompt: "a tidal pool",
  model: "local/abstract",
  parameters: { seed: 1, width: 64 },
};

withApp(
  "idempotency: same key and body give the same job; another body is 409",
  async (deps, app) => {
    const first = await submit(app, BODY, { "idempotency-key": "order-42" });
    assert.equal(first.status, 202);
    const a = await first.json();
    // Same body with keys in another order is the same request.
    const again = await submit(app, {
      parameters: { width: 64, seed: 1 },
      model: "local/abstract",
      prompt: "a tidal pool",
    }, {
      "idempotency-key": "order-42",
    });
    assert.equal(again.status, 202);
    assert.equal(again.headers.get("idempotent-replayed"), "true");
    assert.equal((await again.json()).job_id, a.job_id);
    const other = await submit(app, { ...BODY, prompt: "something else" }, {
      "idempotency-key": "order-42",
    });
    assert.equal(other.status, 409);
    assert.equal((await other.json()).error.code, "idempotency_conflict");
    assert.equal(await countJobs(deps.db), 1);
    const bad = await submit(app, BODY, { "idempotency-key": "has space" });
    assert.equal(bad.status, 422);
    assert.equal(await countJobs(deps.db), 1);
  },
);

withApp(
  "idempotency: twenty concurrent retries of one request create one job",
  async (deps, app) => {
    const responses = await Promise.all(
      Array.from({ length: 20 }, () => submit(app, BODY, { "idempotency-key": "burst-1" })),
    );
    const ids = new Set<string>();
    for (const res of responses) {
      assert.equal(res.status, 202);
      ids.add((await res.json()).job_id);
    }
    assert.equal(ids.size, 1);
    assert.equal(await countJobs(deps.db), 1);
    assert.equal((await deps.queue.stats()).waiting, 1);
  },
);

withApp(
  "cancel: a queued job is canceled and leaves the queue; a finished one is 409",
  async (deps, app) => {
    const { job_id } = await (await submit(app, BODY)).json();
    assert.equal((await deps.queue.stats()).waiting, 1);
    const res = await app.request(`/api/v1/jobs/${job_id}/cancel`, { method: "POST" });
    assert.equal(res.status, 200);
    const job = await res.json();
    assert.equal(job.status, "canceled");
    assert.deepEqual(job.actions, { cancel: false, retry: true, delete: true });
    assert.equal((await deps.queue.stats()).waiting, 0);
    const twice = await app.request(`/api/v1/jobs/${job_id}/cancel`, { method: "POST" });
    assert.equal(twice.status, 409);
    const missing = await app.request(`/api/v1/jobs/${crypto.randomUUID()}/cancel`, {
      method: "POST",
    });
    assert.equal(missing.status, 404);
  },
);

withApp("retry: a failed job goes back to pending and onto the queue", async (deps, app) => {
  const { job_id } = await (await submit(app, BODY)).json();
  const pending = await app.request(`/api/v1/jobs/${job_id}/retry`, { method: "POST" });
  assert.equal(pending.status, 409, "a pending job cannot be retried");
  await deps.queue.remove(job_id);
  await markProcessing(deps.db, job_id);
  await markFailed(deps.db, job_id, "provider exploded");
  const res = await app.request(`/api/v1/jobs/${job_id}/retry`, { method: "POST" });
  assert.equal(res.status, 202);
  const job = await res.json();
  assert.equal(job.status, "pending");
  assert.equal(job.error_message, null);
  assert.equal(job.retry_count, 0);
  assert.equal((await deps.queue.stats()).waiting, 1);
});

withApp("delete: removes the row, its queue entry and its files", async (deps, app) => {
  const { job_id } = await (await submit(app, BODY)).json();
  const file = `${job_id}-0.png`;
  const png = new Uint8Array([
    0x89,
    0x50,
    0x4e,
    0x47,
    0x0d,
    0x0a,
    0x1a,
    0x0a,
    ...new Array(24).fill(0),
  ]);
  await deps.storage.save(ReadableStream.from([png]), { name: `${job_id}-0`, maxBytes: 1000 });
  const thumbnail = `${job_id}-0.thumb.webp`;
  await deps.storage.put(thumbnail, new Uint8Array([1]), "image/webp");
  await markProcessing(deps.db, job_id);
  await deps.db.query({
    text: "UPDATE jobs SET status = 'completed', images = $2 WHERE id = $1",
    values: [job_id, [{
      file,
      content_type: "image/png",
      width: 0,
      height: 0,
      bytes: 32,
      thumbnail,
    }]],
  });
  assert.ok(await deps.storage.stat(file));
  const res = await app.request(`/api/v1/jobs/${job_id}`, { method: "DELETE" });
  assert.equal(res.status, 204);
  assert.equal(await getJob(deps.db, job_id), null);
  assert.equal(await deps.storage.stat(file), null);
  assert.equal(await deps.storage.stat(thumbnail), null, "the thumbnail goes too");
  assert.equal((await deps.queue.stats()).waiting, 0);
  assert.equal((await app.request(`/api/v1/jobs/${job_id}`, { method: "DELETE" })).status, 404);
  assert.equal((await app.request(`/images/${file}`)).status, 404);
});

withApp("priority: stored on the job and validated", async (deps, app) => {
  const { job_id } = await (await submit(app, { ...BODY, priority: "high" })).json();
  assert.equal((await getJob(deps.db, job_id))?.priority, "high");
  const bad = await submit(app, { ...BODY, priority: "urgent" });
  assert.equal(bad.status, 422);
  const job = await (await app.request(`/api/v1/status/${job_id}`)).json();
  assert.equal(job.priority, "high");
  assert.deepEqual(job.actions, { cancel: true, retry: false, delete: true });
});
