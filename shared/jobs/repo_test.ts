import assert from "node:assert/strict";
import { sql } from "../db/db.ts";
import {
  countJobs,
  deleteJob,
  getJob,
  heartbeat,
  insertJob,
  listJobs,
  liveWorkers,
  markCompleted,
  markFailed,
  markProcessing,
  markRetrying,
  recentStats,
  removeHeartbeat,
  setPrediction,
  setProgress,
} from "./repo.ts";
import { createTestDb } from "../testing/db.ts";
import { checkBatchedJobCalls } from "../testing/jobs_batch_suite.ts";

function newJob(prompt = "a lighthouse at dusk") {
  return {
    id: crypto.randomUUID(),
    prompt,
    model: "local/abstract",
    parameters: { width: 256, nested: { list: [1, "two"] } },
    provider: "local",
  };
}

Deno.test("jobs repo: lifecycle pending → processing → completed", async () => {
  const t = await createTestDb();
  try {
    const job = await insertJob(t.db, newJob());
    assert.equal(job.status, "pending");
    assert.deepEqual(job.parameters, { width: 256, nested: { list: [1, "two"] } });
    assert.deepEqual(job.images, []);
    assert.ok(job.created_at instanceof Date);

    const p = await markProcessing(t.db, job.id);
    assert.equal(p?.status, "processing");
    assert.ok(p?.started_at);
    await setPrediction(t.db, job.id, "pred-1");
    assert.equal(await setProgress(t.db, job.id, 40), true);
    assert.equal(await setProgress(t.db, job.id, 40), false, "unchanged progress is not written");
    const image = {
      file: `${job.id}-0.png`,
      content_type: "image/png",
      width: 256,
      height: 256,
      bytes: 10,
    };
    const done = await markCompleted(t.db, job.id, [image]);
    assert.equal(done?.status, "completed");
    assert.equal(done?.progress, 100);
    assert.deepEqual(done?.images, [image]);
    assert.equal(done?.provider_prediction_id, "pred-1");
    assert.ok(done?.completed_at);
    // Terminal jobs do not move again.
    assert.equal(await markFailed(t.db, job.id, "late"), null);
    assert.equal(await markProcessing(t.db, job.id), null);
    assert.equal((await getJob(t.db, job.id))?.status, "completed");
  } finally {
    await t.cleanup();
  }
});

Deno.test("jobs repo: retrying bumps retry_count and keeps the prediction id", async () => {
  const t = await createTestDb();
  try {
    const job = await insertJob(t.db, newJob());
    await markProcessing(t.db, job.id);
    await setPrediction(t.db, job.id, "pred-9");
    const r = await markRetrying(t.db, job.id, "network down");
    assert.equal(r?.status, "pending");
    assert.equal(r?.retry_count, 1);
    assert.equal(r?.provider_prediction_id, "pred-9");
    const f = await markFailed(t.db, job.id, "x".repeat(5000));
    assert.equal(f?.status, "failed");
    assert.equal(f?.error_message?.length, 4000);
  } finally {
    await t.cleanup();
  }
});

Deno.test("jobs repo: newest-first listing, status filter, counts, delete", async () => {
  const t = await createTestDb();
  try {
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const j = newJob(`prompt ${i}`);
      ids.push(j.id);
      await insertJob(t.db, j);
      await t.db.query(sql`UPDATE jobs SET created_at = now() + make_interval(secs => ${i})
                           WHERE id = ${j.id}`);
    }
    await markFailed(t.db, ids[1], "nope");
    const page = await listJobs(t.db, { skip: 1, limit: 2 });
    assert.deepEqual(page.map((j) => j.prompt), ["prompt 3", "prompt 2"]);
    const failed = await listJobs(t.db, { skip: 0, limit: 10, status: "failed" });
    assert.deepEqual(failed.map((j) => j.id), [ids[1]]);
    assert.equal(await countJobs(t.db), 5);
    assert.equal(await countJobs(t.db, "pending"), 4);
    assert.equal(await deleteJob(t.db, ids[0]), true);
    assert.equal(await deleteJob(t.db, ids[0]), false);
    const stats = await recentStats(t.db);
    assert.deepEqual(stats.byStatus, { pending: 3, failed: 1 });
    assert.equal(stats.medianDurationS, null);
  } finally {
    await t.cleanup();
  }
});

Deno.test("jobs repo: the status check constraint refuses unknown statuses", async () => {
  const t = await createTestDb();
  try {
    const job = await insertJob(t.db, newJob());
    await assert.rejects(t.db.query(sql`UPDATE jobs SET status = 'lost' WHERE id = ${job.id}`));
  } finally {
    await t.cleanup();
  }
});

Deno.test("jobs repo: worker heartbeats", async () => {
  const t = await createTestDb();
  try {
    const w = { workerId: "w1", hostname: "h", pid: 1, concurrency: 8, active: 2 };
    await heartbeat(t.db, w);
    await heartbeat(t.db, { ...w, active: 3 });
    const live = await liveWorkers(t.db);
    assert.deepEqual(live, [{ worker_id: "w1", hostname: "h", active: 3, concurrency: 8 }]);
    await t.db.query(sql`UPDATE worker_heartbeats SET last_seen = now() - interval '1 minute'`);
    assert.deepEqual(await liveWorkers(t.db), []);
    await removeHeartbeat(t.db, "w1");
  } finally {
    await t.cleanup();
  }
});

Deno.test("jobs repo: batched submits, reads, statuses and progress", async () => {
  const t = await createTestDb();
  try {
    await checkBatchedJobCalls(t.db);
  } finally {
    await t.cleanup();
  }
});
