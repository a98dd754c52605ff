/**
 * The batched jobs-repository calls (group commit on submit, shared reads and progress writes),
 * checked the same way on Postgres (jobs_repo_test.ts) and PGlite (jobs_repo_pglite_test.ts).
 */
import assert from "node:assert/strict";
import { type Db, sql } from "../db/db.ts";
import {
  addJobs,
  batchedAddJob,
  batchedGetJob,
  batchedWorkerQueries,
  cancelJob,
  checkInMany,
  getJob,
  getJobs,
  insertJob,
  markCompletedMany,
  markProcessing,
  markProcessingMany,
  type NewJob,
  setPredictions,
} from "../jobs/repo.ts";

function newJob(prompt: string, extra: Partial<NewJob> = {}): NewJob {
  return {
    id: crypto.randomUUID(),
    prompt,
    model: "local/abstract",
    parameters: { width: 256, nested: { list: [1, "two"] }, quote: 'say "hi"\n' },
    provider: "local",
    ...extra,
  };
}

/** Runs every check against `db` (a migrated, empty jobs table). */
export async function checkBatchedJobCalls(db: Db): Promise<void> {
  // addJobs: every field of every row, one statement, rows in the order given.
  const many = [
    newJob("first", { negative_prompt: "blur", priority: "high", request_id: "req-1" }),
    newJob("second ✓ \u00e9\u{1F600}", {
      webhook_url: "https://example.com/hook",
      webhook_events: ["completed", "failed"],
    }),
    newJob("third"),
  ];
  await addJobs(db, many);
  const stored = await getJobs(db, many.map((j) => j.id));
  assert.equal(stored.length, 3);
  const byId = new Map(stored.map((row) => [row.id, row]));
  for (const job of many) {
    const row = byId.get(job.id)!;
    assert.equal(row.prompt, job.prompt);
    assert.equal(row.status, "pending");
    assert.deepEqual(row.parameters, job.parameters);
    assert.equal(row.negative_prompt, job.negative_prompt ?? null);
    assert.equal(row.priority, job.priority ?? "normal");
    assert.equal(row.request_id, job.request_id ?? null);
    assert.equal(row.webhook_url, job.webhook_url ?? null);
    assert.deepEqual(row.webhook_events, job.webhook_events ?? null);
  }
  const times = many.map((j) => byId.get(j.id)!.created_at.getTime());
  assert.ok(times[0] <= times[1] && times[1] <= times[2], "created_at follows the batch order");

  // batchedAddJob: concurrent submits all land; a bad row fails alone.
  const add = batchedAddJob(db);
  const fresh = Array.from({ length: 20 }, (_, i) => newJob(`concurrent ${i}`));
  fresh[3].prompt = "a lone \ud800 surrogate"; // JSON cannot carry it into jsonb: row by row
  const duplicate = { ...newJob("duplicate"), id: many[0].id };
  const outcomes = await Promise.allSettled([
    ...fresh.slice(0, 10).map(add),
    add(duplicate),
    ...fresh.slice(10).map(add),
  ]);
  assert.equal(outcomes[10].status, "rejected", "the duplicate id is refused");
  assert.equal(outcomes.filter((o) => o.status === "fulfilled").length, 20);
  assert.equal((await getJobs(db, fresh.map((j) => j.id))).length, 20);
  assert.equal((await getJob(db, many[0].id))?.prompt, "first", "the existing row is untouched");

  // A row JSON cannot carry (a lone surrogate) goes in row by row, with its batch.
  const odd = [newJob("lone \udc00 surrogate"), newJob("plain")];
  await Promise.all(odd.map(add));
  assert.equal((await getJobs(db, odd.map((j) => j.id))).length, 2);

  // batchedGetJob: concurrent reads, missing ids, and a read right after a commit.
  const read = batchedGetJob(db);
  const missing = crypto.randomUUID();
  const reads = await Promise.all([...fresh.map((j) => read(j.id)), read(missing), read(missing)]);
  assert.deepEqual(
    reads.slice(0, 20).map((r) => r?.id),
    fresh.map((j) => j.id),
  );
  assert.deepEqual(reads.slice(20), [null, null]);
  const late = await insertJob(db, newJob("late"));
  assert.equal((await read(late.id))?.id, late.id, "a read sees what was committed before it");

  // Statuses and progress for a worker's running jobs.
  const [a, b, c] = fresh;
  await markProcessing(db, a.id);
  await markProcessing(db, b.id);
  await cancelJob(db, c.id);
  const statuses = await checkInMany(db, [
    { id: a.id, progress: 30 },
    { id: a.id, progress: 40 }, // the last value for a job wins
    { id: b.id, progress: 250 }, // clamped to 100
    { id: c.id, progress: 50 }, // canceled: left alone
    { id: missing, progress: null },
  ]);
  assert.deepEqual(
    [...statuses].sort(),
    [[a.id, "processing"], [b.id, "processing"], [c.id, "canceled"]].sort(),
  );
  assert.equal((await getJob(db, a.id))?.progress, 40);
  assert.equal((await getJob(db, b.id))?.progress, 100);
  assert.equal((await getJob(db, c.id))?.progress, 0);
  const before = (await getJob(db, b.id))!.updated_at;
  await checkInMany(db, [{ id: b.id, progress: 100 }, { id: a.id, progress: null }]);
  assert.deepEqual(
    (await getJob(db, b.id))!.updated_at,
    before,
    "an unchanged progress is not written",
  );
  assert.equal((await getJob(db, a.id))?.progress, 40, "null progress writes nothing");

  const q = batchedWorkerQueries(db);
  const answers = await Promise.all([
    q.checkIn(a.id, 55),
    q.checkIn(c.id, 10),
    q.checkIn(missing, null),
    q.checkIn(b.id, null),
  ]);
  assert.deepEqual(answers, ["processing", "canceled", null, "processing"]);
  const [row] = await db.query<{ progress: number }>(
    sql`SELECT progress FROM jobs WHERE id = ${a.id}`,
  );
  assert.equal(row.progress, 55);
  assert.equal((await getJob(db, c.id))?.progress, 0);

  // A worker's whole run of statements, for several jobs at once.
  const [d, e, f] = fresh.slice(4, 7);
  const claimed = await Promise.all([
    q.claim(d.id),
    q.claim(e.id),
    q.claim(c.id),
    q.claim(missing),
  ]);
  assert.deepEqual(claimed.map((r) => r?.status ?? null), ["processing", "processing", null, null]);
  assert.equal(claimed[0]?.prompt, d.prompt, "the claim returns the whole row");
  assert.ok(claimed[0]?.started_at, "the claim starts the clock");
  await Promise.all([q.setPrediction(d.id, "pred-d"), q.setPrediction(e.id, "pred-e")]);
  const image = (id: string) => ({
    file: `${id}-0.png`,
    content_type: "image/png",
    width: 64,
    height: 64,
    bytes: 120,
  });
  const completed = await Promise.all([
    q.complete(d.id, [image(d.id)]),
    q.complete(e.id, [image(e.id), { ...image(e.id), file: `${e.id}-1.png` }]),
    q.complete(c.id, [image(c.id)]), // canceled: stays canceled
  ]);
  assert.deepEqual(completed, [true, true, false]);
  const rows = new Map((await getJobs(db, [d.id, e.id, c.id])).map((r) => [r.id, r]));
  assert.equal(rows.get(d.id)?.status, "completed");
  assert.equal(rows.get(d.id)?.provider_prediction_id, "pred-d");
  assert.equal(rows.get(d.id)?.progress, 100);
  assert.ok(rows.get(d.id)?.completed_at);
  assert.deepEqual(rows.get(e.id)?.images.map((i) => i.file), [`${e.id}-0.png`, `${e.id}-1.png`]);
  assert.equal(rows.get(e.id)?.provider_prediction_id, "pred-e");
  assert.equal(rows.get(c.id)?.status, "canceled");
  assert.deepEqual(rows.get(c.id)?.images, []);

  // The multi-row statements on their own.
  assert.deepEqual(await markProcessingMany(db, []), []);
  const [many1] = await markProcessingMany(db, [f.id, d.id]);
  assert.equal(many1.id, f.id, "a completed job is not claimed again");
  await setPredictions(db, [{ id: f.id, predictionId: "pred-f" }, { id: d.id, predictionId: "x" }]);
  assert.equal((await getJob(db, f.id))?.provider_prediction_id, "pred-f");
  assert.equal((await getJob(db, d.id))?.provider_prediction_id, "pred-d", "finished: untouched");
  const done = await markCompletedMany(db, [{ id: f.id, images: [image(f.id)] }]);
  assert.deepEqual([...done], [f.id]);
}
