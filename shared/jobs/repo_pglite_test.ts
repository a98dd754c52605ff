/**
 * The jobs repository and the migrations on PGlite: the same SQL as on Postgres
 * (jobs_repo_test.ts, migrations_test.ts), run on the embedded database.
 */
import assert from "node:assert/strict";
import { type Db, sql } from "../db/db.ts";
import { openPglite } from "../db/pglite.ts";
import { sha256Hex } from "../hash.ts";
import {
  clearPrediction,
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
  type NewJob,
  recentStats,
  removeHeartbeat,
  setPrediction,
  setProgress,
} from "./repo.ts";
import { checkBatchedJobCalls } from "../testing/jobs_batch_suite.ts";
import {
  migrate,
  type Migration,
  migrationsCurrent,
  migrationStatus,
  readMigrations,
} from "../db/migrations.ts";

function newJob(prompt = "a lighthouse at dusk"): NewJob {
  return {
    id: crypto.randomUUID(),
    prompt,
    model: "local/abstract",
    parameters: { width: 256, nested: { list: [1, "two"] } },
    provider: "local",
  };
}

async function migration(version: number, name: string, text: string): Promise<Migration> {
  const checksum = await sha256Hex(text);
  return { version, name: `${String(version).padStart(5, "0")}_${name}.sql`, sql: text, checksum };
}

/**
 * Runs `fn` in a schema of its own on the shared instance (PGlite is one session, so
 * search_path applies to every later statement), migrated unless told otherwise.
 */
async function inSchema(
  db: Db,
  fn: (schema: string) => Promise<void>,
  options: { migrate?: boolean } = {},
): Promise<void> {
  const schema = `t_${crypto.randomUUID().replaceAll("-", "").slice(0, 16)}`;
  await db.exec(`CREATE SCHEMA "${schema}"; SET search_path TO "${schema}", public`);
  try {
    if (options.migrate !== false) await migrate(db);
    await fn(schema);
  } finally {
    await db.exec(`RESET search_path; DROP SCHEMA "${schema}" CASCADE`);
  }
}

// One in-memory instance for the file (creating one costs ~2.5 s and ~600 MB).
Deno.test("jobs repo and migrations on PGlite", async (t) => {
  const db = await openPglite(undefined);
  try {
    await t.step("migrations: apply once, record checksums, second run is a no-op", async () => {
      await inSchema(db, async () => {
        const files = await readMigrations();
        const first = await migrate(db);
        assert.deepEqual(first, files.map((f) => f.name));
        assert.deepEqual(await migrate(db), []);
        const status = await migrationStatus(db);
        assert.deepEqual(status.map((s) => s.name), files.map((f) => f.name));
        assert.ok(status.every((s) => s.applied && s.appliedAt instanceof Date));
        assert.equal(await migrationsCurrent(db), true);
        assert.equal(await countJobs(db), 0);
      }, { migrate: false });
    });

    await t.step("batched submits, reads, statuses and progress", async () => {
      await inSchema(db, () => checkBatchedJobCalls(db));
    });

    await t.step("migrations: two runners at once apply each file exactly once", async () => {
      await inSchema(db, async () => {
        const files = [
          await migration(1, "a", "CREATE TABLE a (id int); SELECT pg_sleep(0.1);"),
          await migration(2, "b", "CREATE TABLE b (id int);"),
        ];
        const [x, y] = await Promise.all([migrate(db, files), migrate(db, files)]);
        assert.deepEqual([...x, ...y].sort(), ["00001_a.sql", "00002_b.sql"]);
        const rows = await db.query(sql`SELECT version FROM schema_migrations ORDER BY version`);
        assert.deepEqual(rows.map((r) => r.version), [1, 2]);
      }, { migrate: false });
    });

    await t.step("migrations: an edited file is refused; a failing file rolls back", async () => {
      await inSchema(db, async (schema) => {
        const a = await migration(1, "a", "CREATE TABLE a (id int);");
        await migrate(db, [a]);
        await assert.rejects(
          migrate(db, [await migration(1, "a", "CREATE TABLE a (id bigint);")]),
          /was edited after it was applied/,
        );
        await assert.rejects(
          migrate(db, [
            a,
            await migration(2, "bad", "CREATE TABLE c (id int); SELECT nope FROM nowhere;"),
          ]),
          /Cannot apply migration 00002_bad.sql/,
        );
        const tables = await db.query(sql`
          SELECT table_name FROM information_schema.tables
          WHERE table_schema = ${schema} ORDER BY table_name`);
        assert.deepEqual(tables.map((r) => r.table_name), ["a", "schema_migrations"]);
        const status = await migrationStatus(db, [a, await migration(2, "b", "SELECT 1;")]);
        assert.deepEqual(status.map((s) => s.applied), [true, false]);
        assert.equal(await migrationsCurrent(db, [a]), true);
      }, { migrate: false });
    });

    await t.step("lifecycle pending → processing → completed", async () => {
      await inSchema(db, async () => {
        const job = await insertJob(db, newJob());
        assert.equal(job.status, "pending");
        assert.deepEqual(job.parameters, { width: 256, nested: { list: [1, "two"] } });
        assert.deepEqual(job.images, []);
        assert.equal(job.progress, 0);
        assert.equal(job.retry_count, 0);
        assert.ok(job.created_at instanceof Date);
        assert.equal(job.started_at, null);
        const [kinds] = await db.query(sql`
          SELECT jsonb_typeof(parameters) AS p, jsonb_typeof(images) AS i FROM jobs`);
        assert.deepEqual(kinds, { p: "object", i: "array" });

        const p = await markProcessing(db, job.id);
        assert.equal(p?.status, "processing");
        assert.ok(p?.started_at instanceof Date);
        const again = await markProcessing(db, job.id);
        assert.equal(again?.started_at?.getTime(), p?.started_at?.getTime(), "keeps started_at");
        await setPrediction(db, job.id, "pred-1");
        assert.equal(await setProgress(db, job.id, 40.5), true);
        assert.equal(await setProgress(db, job.id, 40.5), false, "unchanged progress");
        assert.equal((await getJob(db, job.id))?.progress, 40.5);
        const image = {
          file: `${job.id}-0.png`,
          content_type: "image/png",
          width: 256,
          height: 256,
          bytes: 10,
        };
        const done = await markCompleted(db, job.id, [image]);
        assert.equal(done?.status, "completed");
        assert.equal(done?.progress, 100);
        assert.deepEqual(done?.images, [image]);
        assert.equal(done?.provider_prediction_id, "pred-1");
        assert.ok(done?.completed_at instanceof Date);
        // Terminal jobs do not move again.
        assert.equal(await markFailed(db, job.id, "late"), null);
        assert.equal(await markProcessing(db, job.id), null);
        assert.equal(await markRetrying(db, job.id, "late"), null);
        assert.equal(await setProgress(db, job.id, 10), false);
        assert.equal((await getJob(db, job.id))?.status, "completed");
        assert.equal(await getJob(db, crypto.randomUUID()), null);
      });
    });

    await t.step("retrying bumps retry_count and keeps the prediction id", async () => {
      await inSchema(db, async () => {
        const job = await insertJob(db, { ...newJob(), negative_prompt: "blurry" });
        assert.equal(job.negative_prompt, "blurry");
        await markProcessing(db, job.id);
        await setPrediction(db, job.id, "pred-9");
        const r = await markRetrying(db, job.id, "network down");
        assert.equal(r?.status, "pending");
        assert.equal(r?.retry_count, 1);
        assert.equal(r?.error_message, "network down");
        assert.equal(r?.provider_prediction_id, "pred-9");
        const p = await markProcessing(db, job.id);
        assert.equal(p?.error_message, null, "a new attempt clears the last error");
        await clearPrediction(db, job.id);
        assert.equal((await getJob(db, job.id))?.provider_prediction_id, null);
        const f = await markFailed(db, job.id, "x".repeat(5000));
        assert.equal(f?.status, "failed");
        assert.equal(f?.error_message?.length, 4000);
        const other = await insertJob(db, newJob());
        assert.equal((await markFailed(db, other.id, "user", "canceled"))?.status, "canceled");
      });
    });

    await t.step("newest-first listing, status filter, counts, delete", async () => {
      await inSchema(db, async () => {
        const ids: string[] = [];
        for (let i = 0; i < 5; i++) {
          const j = newJob(`prompt ${i}`);
          ids.push(j.id);
          await insertJob(db, j);
          await db.query(sql`UPDATE jobs SET created_at = now() + make_interval(secs => ${i})
                             WHERE id = ${j.id}`);
        }
        await markFailed(db, ids[1], "nope");
        const page = await listJobs(db, { skip: 1, limit: 2 });
        assert.deepEqual(page.map((j) => j.prompt), ["prompt 3", "prompt 2"]);
        const failed = await listJobs(db, { skip: 0, limit: 10, status: "failed" });
        assert.deepEqual(failed.map((j) => j.id), [ids[1]]);
        assert.deepEqual(await listJobs(db, { skip: 5, limit: 10 }), []);
        assert.equal(await countJobs(db), 5);
        assert.equal(await countJobs(db, "pending"), 4);
        assert.equal(await countJobs(db, "completed"), 0);
        assert.equal(await deleteJob(db, ids[0]), true);
        assert.equal(await deleteJob(db, ids[0]), false);
        const stats = await recentStats(db);
        assert.deepEqual(stats.byStatus, { pending: 3, failed: 1 });
        assert.equal(stats.medianDurationS, null);
      });
    });

    await t.step("recentStats: per-status counts and the median duration", async () => {
      await inSchema(db, async () => {
        for (const seconds of [10, 20, 60]) {
          const job = await insertJob(db, newJob());
          await markProcessing(db, job.id);
          await markCompleted(db, job.id, []);
          await db.query(sql`
            UPDATE jobs SET completed_at = created_at + make_interval(secs => ${seconds})
            WHERE id = ${job.id}`);
        }
        const old = await insertJob(db, newJob());
        await db.query(sql`UPDATE jobs SET created_at = now() - interval '2 hours'
                           WHERE id = ${old.id}`);
        await insertJob(db, newJob());
        const stats = await recentStats(db);
        assert.deepEqual(stats.byStatus, { completed: 3, pending: 1 });
        assert.equal(stats.medianDurationS, 20); // percentile_cont(0.5) of 10, 20, 60
        const wider = await recentStats(db, 3);
        assert.deepEqual(wider.byStatus, { completed: 3, pending: 2 });
      });
    });

    await t.step("the status check constraint refuses unknown statuses", async () => {
      await inSchema(db, async () => {
        const job = await insertJob(db, newJob());
        await assert.rejects(
          db.query(sql`UPDATE jobs SET status = 'lost' WHERE id = ${job.id}`),
          /check constraint/,
        );
        await assert.rejects(insertJob(db, { ...newJob(), id: job.id }), /duplicate key/);
      });
    });

    await t.step("worker heartbeats and live workers", async () => {
      await inSchema(db, async () => {
        const w = { workerId: "w1", hostname: "h", pid: 1, concurrency: 8, active: 2 };
        await heartbeat(db, w);
        await heartbeat(db, { ...w, active: 3 });
        await heartbeat(db, { ...w, workerId: "w2", active: 0 });
        const live = await liveWorkers(db);
        assert.deepEqual(live, [
          { worker_id: "w1", hostname: "h", active: 3, concurrency: 8 },
          { worker_id: "w2", hostname: "h", active: 0, concurrency: 8 },
        ]);
        await db.query(sql`UPDATE worker_heartbeats SET last_seen = now() - interval '1 minute'
                           WHERE worker_id = 'w1'`);
        assert.deepEqual((await liveWorkers(db)).map((r) => r.worker_id), ["w2"]);
        assert.deepEqual((await liveWorkers(db, 120)).map((r) => r.worker_id), ["w1", "w2"]);
        await removeHeartbeat(db, "w2");
        assert.deepEqual(await liveWorkers(db), []);
      });
    });

    await t.step("repository calls inside a transaction commit or roll back together", async () => {
      await inSchema(db, async () => {
        const kept = newJob("kept");
        await db.transaction(async (tx) => {
          await insertJob(tx, kept);
          await markProcessing(tx, kept.id);
        });
        await assert.rejects(
          db.transaction(async (tx) => {
            await insertJob(tx, newJob("dropped"));
            throw new Error("queue unavailable");
          }),
          /queue unavailable/,
        );
        const all = await listJobs(db, { skip: 0, limit: 10 });
        assert.deepEqual(all.map((j) => [j.prompt, j.status]), [["kept", "processing"]]);
      });
    });

    await t.step("concurrent repository calls from many callers", async () => {
      await inSchema(db, async () => {
        const jobs = await Promise.all(
          Array.from({ length: 50 }, (_, i) => insertJob(db, newJob(`p${i}`))),
        );
        await Promise.all(jobs.map(async (j, i) => {
          await markProcessing(db, j.id);
          await setProgress(db, j.id, i);
          if (i % 2 === 0) await markCompleted(db, j.id, []);
          else await markRetrying(db, j.id, "again");
        }));
        assert.equal(await countJobs(db, "completed"), 25);
        assert.equal(await countJobs(db, "pending"), 25);
      });
    });
  } finally {
    await db.close();
  }
});
