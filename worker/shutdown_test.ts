/**
 * Graceful shutdown: SIGTERM lets a running job finish; past SHUTDOWN_TIMEOUT_S the job is
 * handed back and another worker resumes the same prediction; a second signal exits at once.
 */
import assert from "node:assert/strict";
import { startService, startStack } from "../shared/testing/processes.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

Deno.test({
  name: "shutdown: SIGTERM lets the running job finish before the worker exits",
  ...opts,
  fn: async () => {
    const t = await startStack(1500);
    const worker = await startService("worker", t.env);
    try {
      const id = await t.submit("drain me");
      await t.waitStatus(id, ["processing"]);
      while (t.fake.createdCount === 0) await new Promise((r) => setTimeout(r, 20));
      worker.child.kill("SIGTERM");
      const exit = await worker.child.status;
      assert.equal(exit.code, 0, worker.output());
      const job = await t.waitStatus(id, ["completed", "failed"], 5000);
      assert.equal(job.status, "completed", "finished during the drain");
      assert.match(worker.output(), /worker draining/);
    } finally {
      await worker.stop();
      await t.cleanup();
    }
  },
});

Deno.test({
  name: "shutdown: past the drain time the job is handed back and resumed elsewhere",
  ...opts,
  fn: async () => {
    const t = await startStack(6000, { SHUTDOWN_TIMEOUT_S: "1", RETRY_BACKOFF_BASE: "1" });
    const first = await startService("worker", t.env);
    let second: Awaited<ReturnType<typeof startService>> | undefined;
    try {
      const id = await t.submit("drain me");
      await t.waitStatus(id, ["processing"]);
      while (t.fake.createdCount === 0) await new Promise((r) => setTimeout(r, 20));
      const stoppedAt = Date.now();
      first.child.kill("SIGTERM");
      const exit = await first.child.status;
      assert.equal(exit.code, 0, first.output());
      assert.ok(Date.now() - stoppedAt < 8000, "exited soon after the drain time");
      second = await startService("worker", t.env);
      const job = await t.waitStatus(id, ["completed", "failed"], 30_000);
      assert.equal(job.status, "completed", job.error_message ?? undefined);
      assert.equal(t.fake.createdCount, 1, "the same prediction was resumed");
    } finally {
      await second?.stop();
      await first.stop();
      await t.cleanup();
    }
  },
});

Deno.test({
  name: "shutdown: a second signal exits at once",
  ...opts,
  fn: async () => {
    const t = await startStack(20_000);
    const worker = await startService("worker", t.env);
    try {
      const id = await t.submit("drain me");
      await t.waitStatus(id, ["processing"]);
      worker.child.kill("SIGTERM");
      // A signal within 200 ms counts as the same one (Ctrl+C under dev arrives twice).
      await new Promise((r) => setTimeout(r, 50));
      worker.child.kill("SIGINT");
      await new Promise((r) => setTimeout(r, 500));
      assert.match(worker.output(), /worker draining/);
      assert.doesNotMatch(worker.output(), /second signal/);
      const at = Date.now();
      worker.child.kill("SIGINT");
      const exit = await worker.child.status;
      assert.ok(Date.now() - at < 3000, "exited promptly");
      assert.equal(exit.code, 130);
    } finally {
      await worker.stop();
      await t.cleanup();
    }
  },
});
