/**
 * The outbox dispatcher against a private Redis that is stopped and started again: jobs kept in
 * the outbox while Redis is away are on the queue within a second of its return, each once even
 * with two dispatchers; a new row wakes a dispatcher at once (NOTIFY); a job canceled meanwhile
 * leaves the outbox without being queued.
 */
import assert from "node:assert/strict";
import { silentLogger } from "../logger.ts";
import { createBullmqQueue } from "../queue/bullmq.ts";
import type { JobQueue } from "../queue/queue.ts";
import { createTestDb, testQueuePrefix } from "../testing/db.ts";
import { startPrivateRedis } from "../testing/private_services.ts";
import { waitFor } from "../testing/queue_contract.ts";
import { startOutboxDispatcher } from "./dispatcher.ts";
import { outboxSize } from "./outbox.ts";
import { addJobs, cancelJob, type NewJob } from "./repo.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

function newJobs(n: number): NewJob[] {
  return Array.from({ length: n }, (_, i) => ({
    id: crypto.randomUUID(),
    prompt: `kept ${i}`,
    model: "local/abstract",
    parameters: {},
    provider: "local",
    request_id: `req-${i}`,
  }));
}

/** Counts the enqueues that reached Redis, by job id. */
function counted(queue: JobQueue, counts: Map<string, number>): JobQueue {
  return {
    ...queue,
    async enqueue(message, options) {
      await queue.enqueue(message, options);
      counts.set(message.jobId, (counts.get(message.jobId) ?? 0) + 1);
    },
  };
}

Deno.test({
  name: "dispatcher: jobs kept while Redis is away are queued within 1 s of its return, once",
  ...opts,
  fn: async () => {
    const t = await createTestDb();
    const redis = await startPrivateRedis();
    const prefix = testQueuePrefix();
    const open = () =>
      createBullmqQueue({
        redisUrl: redis.url,
        prefix,
        retry: { maxRetries: 1, backoffBase: 1 },
        logger: silentLogger,
        enqueueTimeoutMs: 1000,
      });
    const queues = [open(), open()];
    const counts = new Map<string, number>();
    const dispatchers = queues.map((q) =>
      startOutboxDispatcher({ db: t.db, queue: counted(q, counts), logger: silentLogger }, {
        sweepMs: 60_000,
      })
    );
    try {
      await Promise.all(queues.map((q) => q.ping()));
      await redis.stop();
      await waitFor(() => queues.every((q) => q.available?.() === false), 5000, "Redis away");
      const jobs = newJobs(300);
      // As the API does while the queue is away: job and outbox row in one statement, in batches.
      for (let i = 0; i < jobs.length; i += 50) {
        await addJobs(t.db, jobs.slice(i, i + 50), { outbox: true });
      }
      await new Promise((r) => setTimeout(r, 500));
      assert.equal(await outboxSize(t.db), 300, "nothing leaves while Redis is away");
      await redis.start();
      const back = performance.now();
      await waitFor(async () => await outboxSize(t.db) === 0, 5000, "outbox drained");
      const ms = performance.now() - back;
      await Promise.all(dispatchers.map((d) => d.idle()));
      console.log(`outbox drained ${Math.round(ms)} ms after Redis returned`);
      assert.ok(ms < 1000, `drained after ${Math.round(ms)} ms`);
      assert.equal(counts.size, 300, "every job was queued");
      assert.ok([...counts.values()].every((n) => n === 1), "no job was queued twice");
      assert.equal((await queues[0].stats()).waiting, 300);
    } finally {
      await Promise.all(dispatchers.map((d) => d.close()));
      await Promise.all(queues.map((q) => q.close()));
      await redis.close();
      await t.cleanup();
    }
  },
});

Deno.test({
  name: "dispatcher: a new outbox row wakes it at once; canceled jobs are not queued",
  ...opts,
  fn: async () => {
    const t = await createTestDb();
    const redis = await startPrivateRedis();
    const queue = createBullmqQueue({
      redisUrl: redis.url,
      prefix: testQueuePrefix(),
      retry: { maxRetries: 1, backoffBase: 1 },
      logger: silentLogger,
    });
    const counts = new Map<string, number>();
    const dispatcher = startOutboxDispatcher(
      { db: t.db, queue: counted(queue, counts), logger: silentLogger },
      { sweepMs: 60_000 },
    );
    try {
      await queue.ping();
      await dispatcher.idle();
      // Let LISTEN settle (it runs beside the first drain).
      await new Promise((r) => setTimeout(r, 300));
      const [canceled, kept] = newJobs(2);
      await addJobs(t.db, [canceled], { outbox: false });
      await cancelJob(t.db, canceled.id);
      const started = performance.now();
      await t.db.transaction(async (tx) => {
        await addJobs(tx, [kept], { outbox: true });
        await tx.query({
          text: "INSERT INTO job_outbox (job_id, request_id) VALUES ($1, 'r')",
          values: [canceled.id],
        });
      });
      await waitFor(async () => await outboxSize(t.db) === 0, 3000, "outbox drained");
      assert.ok(performance.now() - started < 1000, "the notification woke the dispatcher");
      await dispatcher.idle();
      assert.deepEqual([...counts.keys()], [kept.id], "only the pending job was queued");
    } finally {
      await dispatcher.close();
      await queue.close();
      await redis.close();
      await t.cleanup();
    }
  },
});
