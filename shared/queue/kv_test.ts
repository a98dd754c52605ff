import assert from "node:assert/strict";
import { join } from "node:path";
import { silentLogger } from "../logger.ts";
import { defineQueueContract, waitFor } from "../testing/queue_contract.ts";
import { openKvQueue } from "./kv.ts";
import type { DeliveryContext, QueueMessage } from "./queue.ts";
import type { RetryPolicy } from "./retry.ts";

defineQueueContract("kv", (retry) => openKvQueue({ retry, logger: silentLogger }));

const fast: RetryPolicy = { maxRetries: 2, backoffBase: 1 };

/** Runs `fn` with a fresh KV file path in a temp folder removed afterwards. */
async function withKvFile(fn: (path: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "darkroom-kv-test-" });
  try {
    await fn(join(dir, "queue.kv"));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Writes a `["q","msg",id]` record as a process that died mid-delivery would have left it. */
async function writeOrphan(
  path: string,
  id: string,
  fields: { attempt: number; recoveries?: number },
): Promise<void> {
  const kv = await Deno.openKv(path);
  try {
    await kv.set(["q", "msg", id], {
      message: { jobId: id },
      attempt: fields.attempt,
      state: "active",
      runAt: Date.now() - 5000,
      priority: 0,
      enqueuedAt: Date.now() - 5000,
      recoveries: fields.recoveries ?? 0,
    });
  } finally {
    kv.close();
  }
}

interface Delivery {
  jobId: string;
  attempt: number;
  at: number;
}

/** A handler that records deliveries and acknowledges them. */
function recorder(): {
  seen: Delivery[];
  handler: (m: QueueMessage, c: DeliveryContext) => Promise<void>;
} {
  const seen: Delivery[] = [];
  return {
    seen,
    handler: (m, c) => {
      seen.push({ jobId: m.jobId, attempt: c.attempt, at: Date.now() });
      return Promise.resolve();
    },
  };
}

Deno.test("kv: queued messages survive close and reopen of the file", async () => {
  await withKvFile(async (path) => {
    const first = await openKvQueue({ path, retry: fast, logger: silentLogger });
    await first.enqueue({ jobId: "keep", requestId: "req-1" });
    await first.enqueue({ jobId: "later" }, { delayMs: 300 });
    await first.close();

    const second = await openKvQueue({ path, retry: fast, logger: silentLogger });
    try {
      const stats = await second.stats();
      assert.equal(stats.waiting + stats.delayed, 2);
      const got: QueueMessage[] = [];
      const listener = second.listenQueue((m) => {
        got.push(m);
        return Promise.resolve();
      }, { concurrency: 2 });
      await waitFor(() => got.length === 2, 5000, "both delivered after reopen");
      await listener.close();
      assert.deepEqual(got, [{ jobId: "keep", requestId: "req-1" }, { jobId: "later" }]);
      assert.deepEqual(await second.stats(), {
        waiting: 0,
        active: 0,
        delayed: 0,
        failed: 0,
        completed: 2,
      });
    } finally {
      await second.close();
    }
  });
});

Deno.test("kv: a process killed mid-delivery has its message redelivered at once on reopen", async () => {
  await withKvFile(async (path) => {
    // A child process takes the message, signals it is inside the handler, and is killed -9.
    const script = join(path, "..", "crash.ts");
    await Deno.writeTextFile(
      script,
      `import { openKvQueue } from ${JSON.stringify(import.meta.resolve("./kv.ts"))};
const logger = { debug() {}, info() {}, warn() {}, error() {}, child: () => logger };
const q = await openKvQueue({ path: ${
        JSON.stringify(path)
      }, retry: { maxRetries: 2, backoffBase: 1 }, logger });
await q.enqueue({ jobId: "crash" });
q.listenQueue(async () => {
  console.log("handling");
  await new Promise(() => {});
}, { concurrency: 1 });
`,
    );
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--unstable-kv", "--no-config", script],
      stdout: "piped",
      stderr: "null",
      env: { RUST_BACKTRACE: "0" },
    }).spawn();
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let out = "";
    while (!out.includes("handling")) {
      const { value, done } = await reader.read();
      if (done) break;
      out += value;
    }
    child.kill("SIGKILL");
    await child.status;
    reader.releaseLock();
    await child.stdout.cancel().catch(() => {});
    assert.ok(out.includes("handling"), "the child started handling the message");

    const opened = Date.now();
    const q = await openKvQueue({ path, retry: fast, logger: silentLogger });
    try {
      const { seen, handler } = recorder();
      const listener = q.listenQueue(handler, { concurrency: 1 });
      await waitFor(() => seen.length === 1, 5000, "redelivery");
      await listener.close();
      // The interrupted delivery is not counted as a failed attempt: attempt 1 again.
      assert.equal(seen[0].jobId, "crash");
      assert.equal(seen[0].attempt, 1);
      assert.ok(seen[0].at - opened < 1000, `redelivered after ${seen[0].at - opened} ms`);
      assert.equal((await q.stats()).completed, 1);
    } finally {
      await q.close();
    }
  });
});

Deno.test("kv: an orphaned active record keeps its attempt number when redelivered", async () => {
  await withKvFile(async (path) => {
    await writeOrphan(path, "orphan", { attempt: 2 });
    const q = await openKvQueue({ path, retry: fast, logger: silentLogger });
    try {
      assert.equal((await q.stats()).waiting, 1);
      const { seen, handler } = recorder();
      const listener = q.listenQueue(handler, { concurrency: 1 });
      await waitFor(() => seen.length === 1, 2000, "redelivery");
      await listener.close();
      assert.deepEqual(seen.map((s) => [s.jobId, s.attempt]), [["orphan", 2]]);
    } finally {
      await q.close();
    }
  });
});

Deno.test("kv: a message interrupted more than maxRecoveries times is dead-lettered", async () => {
  await withKvFile(async (path) => {
    await writeOrphan(path, "poison", { attempt: 1, recoveries: 2 });
    const q = await openKvQueue({ path, retry: fast, logger: silentLogger, maxRecoveries: 2 });
    try {
      const { seen, handler } = recorder();
      const listener = q.listenQueue(handler, { concurrency: 1 });
      await new Promise((r) => setTimeout(r, 100));
      await listener.close();
      assert.equal(seen.length, 0);
      assert.deepEqual(await q.stats(), {
        waiting: 0,
        active: 0,
        delayed: 0,
        failed: 1,
        completed: 0,
      });
    } finally {
      await q.close();
    }
  });
});

Deno.test("kv: a handler that ignores the abort leaves its message for the next open", async () => {
  await withKvFile(async (path) => {
    const first = await openKvQueue({
      path,
      retry: fast,
      logger: silentLogger,
      drainTimeoutMs: 50,
      abortGraceMs: 50,
    });
    let started = false;
    first.listenQueue(() => {
      started = true;
      return new Promise<void>(() => {});
    }, { concurrency: 1 });
    await first.enqueue({ jobId: "stuck" });
    await waitFor(() => started, 2000, "handler start");
    const closing = Date.now();
    await first.close();
    assert.ok(Date.now() - closing < 1000, "close gave up after drain + grace");

    const second = await openKvQueue({ path, retry: fast, logger: silentLogger });
    try {
      const { seen, handler } = recorder();
      const listener = second.listenQueue(handler, { concurrency: 1 });
      await waitFor(() => seen.length === 1, 2000, "redelivery");
      await listener.close();
      assert.deepEqual(seen.map((s) => [s.jobId, s.attempt]), [["stuck", 1]]);
    } finally {
      await second.close();
    }
  });
});

Deno.test("kv: a handler that stops on the abort hands its message back without using an attempt", async () => {
  const q = await openKvQueue({ retry: fast, logger: silentLogger, drainTimeoutMs: 50 });
  try {
    let started = false;
    const first = q.listenQueue((_m, ctx) => {
      started = true;
      return new Promise<void>((_, reject) => {
        ctx.signal.addEventListener("abort", () => reject(ctx.signal.reason), { once: true });
      });
    }, { concurrency: 1 });
    await q.enqueue({ jobId: "handback" });
    await waitFor(() => started, 2000, "handler start");
    await first.close();
    assert.deepEqual(await q.stats(), {
      waiting: 1,
      active: 0,
      delayed: 0,
      failed: 0,
      completed: 0,
    });
    const { seen, handler } = recorder();
    const second = q.listenQueue(handler, { concurrency: 1 });
    await waitFor(() => seen.length === 1, 2000, "redelivery");
    await second.close();
    assert.equal(seen[0].attempt, 1);
  } finally {
    await q.close();
  }
});

Deno.test("kv: ready messages run by priority (lower first), FIFO among equals", async () => {
  const q = await openKvQueue({ retry: fast, logger: silentLogger });
  try {
    await q.enqueue({ jobId: "p5" }, { priority: 5 });
    await q.enqueue({ jobId: "normal-1" });
    await q.enqueue({ jobId: "p1-a" }, { priority: 1 });
    await q.enqueue({ jobId: "p3" }, { priority: 3 });
    await q.enqueue({ jobId: "p1-b" }, { priority: 1 });
    await q.enqueue({ jobId: "normal-2" });
    const { seen, handler } = recorder();
    const listener = q.listenQueue(handler, { concurrency: 1 });
    await waitFor(() => seen.length === 6, 5000, "six deliveries");
    await listener.close();
    // Like BullMQ, messages without a priority go before prioritized ones.
    assert.deepEqual(seen.map((s) => s.jobId), [
      "normal-1",
      "normal-2",
      "p1-a",
      "p1-b",
      "p3",
      "p5",
    ]);
  } finally {
    await q.close();
  }
});

Deno.test("kv: an id is deduplicated while running and can be enqueued again once acknowledged", async () => {
  const q = await openKvQueue({ retry: fast, logger: silentLogger });
  try {
    const seen: string[] = [];
    let release = () => {};
    const listener = q.listenQueue(async (m) => {
      seen.push(m.jobId);
      if (seen.length === 1) await new Promise<void>((r) => release = r);
    }, { concurrency: 2 });
    await q.enqueue({ jobId: "job-1" }, { id: "same" });
    await waitFor(() => seen.length === 1, 2000, "first delivery");
    await q.enqueue({ jobId: "job-2" }, { id: "same" });
    release();
    await waitFor(async () => (await q.stats()).completed === 1, 2000, "first acknowledged");
    await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(seen, ["job-1"], "the enqueue while running was ignored");

    await q.enqueue({ jobId: "job-3" }, { id: "same" });
    await waitFor(() => seen.length === 2, 2000, "second delivery");
    await listener.close();
    assert.deepEqual(seen, ["job-1", "job-3"]);
    assert.equal((await q.stats()).completed, 2);
  } finally {
    await q.close();
  }
});

Deno.test("kv: re-enqueueing a dead-lettered id takes it out of the dead-letter set", async () => {
  const q = await openKvQueue({ retry: { maxRetries: 0, backoffBase: 1 }, logger: silentLogger });
  try {
    let fail = true;
    const listener = q.listenQueue(
      () => fail ? Promise.reject(new Error("boom")) : Promise.resolve(),
      { concurrency: 1 },
    );
    await q.enqueue({ jobId: "again" });
    await waitFor(async () => (await q.stats()).failed === 1, 2000, "dead letter");
    fail = false;
    await q.enqueue({ jobId: "again" });
    await waitFor(async () => (await q.stats()).completed === 1, 2000, "second run acknowledged");
    await listener.close();
    assert.equal((await q.stats()).failed, 0);
  } finally {
    await q.close();
  }
});

Deno.test("kv: enqueue, listen and ping fail clearly after close", async () => {
  const q = await openKvQueue({ retry: fast, logger: silentLogger });
  await q.close();
  await q.close();
  await assert.rejects(q.enqueue({ jobId: "x" }), /Cannot enqueue job x: the KV queue is closed/);
  await assert.rejects(q.ping(), /closed/);
  assert.throws(() => q.listenQueue(() => Promise.resolve(), { concurrency: 1 }), /closed/);
});
