import assert from "node:assert/strict";
import { silentLogger } from "../logger.ts";
import { deleteQueueKeys, testQueuePrefix, testRedisUrl } from "../testing/db.ts";
import { defineQueueContract } from "../testing/queue_contract.ts";
import { createBullmqQueue } from "./bullmq.ts";
import { PRIORITIES } from "./queue.ts";

defineQueueContract("bullmq", (retry) => {
  const prefix = testQueuePrefix();
  const queue = createBullmqQueue({
    redisUrl: testRedisUrl(),
    prefix,
    retry,
    logger: silentLogger,
  });
  return Promise.resolve({
    ...queue,
    close: async () => {
      await queue.close();
      await deleteQueueKeys(prefix);
    },
  });
});

Deno.test({
  name: "bullmq: enqueue fails fast (not hangs) when Redis is unreachable",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const q = createBullmqQueue({
      redisUrl: "redis://127.0.0.1:1",
      prefix: testQueuePrefix(),
      retry: { maxRetries: 1, backoffBase: 2 },
      logger: silentLogger,
      enqueueTimeoutMs: 1500,
    });
    const started = Date.now();
    await assert.rejects(q.enqueue({ jobId: "x" }));
    assert.ok(Date.now() - started < 5000);
    await assert.rejects(q.ping());
    await q.close();
  },
});

Deno.test({
  name: "bullmq: high runs before normal, normal before low",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const prefix = testQueuePrefix();
    const q = createBullmqQueue({
      redisUrl: testRedisUrl(),
      prefix,
      retry: { maxRetries: 0, backoffBase: 1 },
      logger: silentLogger,
    });
    const order: string[] = [];
    try {
      await q.enqueue({ jobId: "low" }, { priority: PRIORITIES.low });
      await q.enqueue({ jobId: "normal-1" }, { priority: PRIORITIES.normal });
      await q.enqueue({ jobId: "normal-2" });
      await q.enqueue({ jobId: "high" }, { priority: PRIORITIES.high });
      const listener = q.listenQueue((m) => {
        order.push(m.jobId);
        return Promise.resolve();
      }, { concurrency: 1 });
      const until = Date.now() + 10_000;
      while (order.length < 4 && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
      await listener.close();
      assert.deepEqual(order, ["high", "normal-1", "normal-2", "low"]);
    } finally {
      await q.close();
      await deleteQueueKeys(prefix);
    }
  },
});
