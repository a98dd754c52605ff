/**
 * The submit's store: with the queue up, INSERT and enqueue together (nothing in the outbox);
 * a refused enqueue keeps the job in the outbox; a queue known to be away is not even tried (one
 * statement stores job and outbox row); a refused outbox write removes the job (503).
 */
import assert from "node:assert/strict";
import { sql } from "../shared/db/db.ts";
import { outboxSize } from "../shared/jobs/outbox.ts";
import { getJob, type NewJob } from "../shared/jobs/repo.ts";
import { silentLogger } from "../shared/logger.ts";
import type { JobQueue, QueueMessage } from "../shared/queue/queue.ts";
import { createTestDeps, type TestDeps } from "../shared/testing/app_deps.ts";
import { createJobStore } from "./job_store.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

/** The real queue, with switches: refuse enqueues, or say it is away. */
function switchable(queue: JobQueue) {
  const state = { refuse: false, away: false, enqueued: [] as QueueMessage[] };
  const wrapped: JobQueue = {
    ...queue,
    available: () => !state.away,
    async enqueue(message, options) {
      if (state.refuse || state.away) throw new Error("Connection is closed.");
      state.enqueued.push(message);
      await queue.enqueue(message, options);
    },
  };
  return { queue: wrapped, state };
}

function newJob(prompt = "p"): NewJob {
  return {
    id: crypto.randomUUID(),
    prompt,
    model: "local/abstract",
    parameters: {},
    provider: "local",
    request_id: `req-${prompt}`,
  };
}

function withStore(
  name: string,
  fn: (deps: TestDeps, s: ReturnType<typeof switchable>) => Promise<void>,
) {
  Deno.test({
    name,
    ...opts,
    fn: async () => {
      const deps = await createTestDeps();
      try {
        await fn(deps, switchable(deps.queue));
      } finally {
        await deps.cleanup();
      }
    },
  });
}

withStore("job store: queue up → stored and queued, the outbox untouched", async (deps, s) => {
  const store = createJobStore({ db: deps.db, queue: s.queue });
  const jobs = [newJob("a"), newJob("b"), newJob("c")];
  await Promise.all(jobs.map((j) => store.store(j, j.request_id!, silentLogger)));
  assert.equal(s.state.enqueued.length, 3);
  assert.equal(await outboxSize(deps.db), 0);
  assert.equal((await deps.queue.stats()).waiting, 3);
  for (const j of jobs) assert.equal((await getJob(deps.db, j.id))?.status, "pending");
});

withStore("job store: a refused enqueue keeps the stored job in the outbox", async (deps, s) => {
  const store = createJobStore({ db: deps.db, queue: s.queue });
  s.state.refuse = true;
  const jobs = [newJob("a"), newJob("b")];
  await Promise.all(jobs.map((j) => store.store(j, j.request_id!, silentLogger)));
  assert.equal(await outboxSize(deps.db), 2);
  const rows = await deps.db.query<{ job_id: string; request_id: string }>(
    sql`SELECT job_id, request_id FROM job_outbox ORDER BY request_id`,
  );
  assert.deepEqual(rows.map((r) => r.request_id), ["req-a", "req-b"]);
  for (const j of jobs) assert.equal((await getJob(deps.db, j.id))?.status, "pending");
});

withStore("job store: a queue known to be away is not tried at all", async (deps, s) => {
  const store = createJobStore({ db: deps.db, queue: s.queue });
  s.state.away = true;
  const jobs = Array.from({ length: 20 }, (_, i) => newJob(`j${i}`));
  await Promise.all(jobs.map((j) => store.store(j, j.request_id!, silentLogger)));
  assert.equal(s.state.enqueued.length, 0);
  assert.equal(await outboxSize(deps.db), 20);
  // An already stored job (an idempotent submit, a retry) goes the same way.
  const stored = newJob("stored");
  await deps.db.query(sql`INSERT INTO jobs (id, prompt, model, provider)
    VALUES (${stored.id}, 'x', 'local/abstract', 'local')`);
  await store.queueStored({ id: stored.id }, "req-stored", silentLogger);
  assert.equal(await outboxSize(deps.db), 21);
  // Twice is once.
  await store.queueStored({ id: stored.id }, "req-stored", silentLogger);
  assert.equal(await outboxSize(deps.db), 21);
});

withStore(
  "job store: neither queue nor outbox → the job is removed and the submit refused (503)",
  async (deps, s) => {
    const store = createJobStore({ db: deps.db, queue: s.queue });
    s.state.refuse = true;
    // The outbox refuses writes (a stand-in for Postgres failing right after the INSERT).
    await deps.db.exec(`CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN RAISE EXCEPTION 'no outbox today'; END $$;
      CREATE TRIGGER refuse BEFORE INSERT ON job_outbox FOR EACH ROW EXECUTE FUNCTION refuse();`);
    const job = newJob("doomed");
    const err = await store.store(job, "r", silentLogger).then(() => null, (e) => e);
    assert.equal(err?.status, 503);
    assert.equal(await getJob(deps.db, job.id), null, "the stored row was removed");
  },
);
