/**
 * A worker killed with `kill -9` mid-prediction: another worker takes the job over once the queue
 * lock expires and resumes the same provider prediction — exactly one prediction is paid for.
 */
import assert from "node:assert/strict";
import { connectPostgres, sql } from "../shared/db/db.ts";
import { startService, startStack } from "../shared/testing/processes.ts";

Deno.test({
  name: "crash: kill -9 of a worker mid-prediction → resumed elsewhere, one prediction created",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    // Replicate answers the create after 1 s (`Prefer: wait=1`) while the prediction runs 3 s: the
    // worker is killed while it polls. (Killed while the create is held: the next test.)
    const t = await startStack(3000, { QUEUE_LOCK_MS: "2000", REPLICATE_PREFER_WAIT_S: "1" });
    const first = await startService("worker", t.env);
    let second: Awaited<ReturnType<typeof startService>> | undefined;
    try {
      const jobId = await t.submit("survive a crash");
      // Kill once the prediction exists and its id is stored: from then on a crash must not
      // cost a second prediction. (The window between the provider's answer and that write is
      // a few milliseconds; see the README's reliability notes.)
      const db = connectPostgres(t.databaseUrl, { max: 1 });
      const until = Date.now() + 20_000;
      try {
        while (true) {
          const [row] = await db.query<{ p: string | null }>(
            sql`SELECT provider_prediction_id AS p FROM jobs WHERE id = ${jobId}`,
          );
          if (row?.p) break;
          if (Date.now() > until) throw new Error(`no prediction stored\n${first.output()}`);
          await new Promise((r) => setTimeout(r, 20));
        }
      } finally {
        await db.close();
      }
      first.child.kill("SIGKILL");
      const killedAt = Date.now();
      await first.stop();
      second = await startService("worker", t.env);
      const job = await t.waitStatus(jobId, ["completed", "failed"], 30_000);
      const recoveryMs = Date.now() - killedAt;
      console.log(
        `recovered ${recoveryMs} ms after kill -9; predictions created: ${t.fake.createdCount}`,
      );
      assert.equal(job.status, "completed", job.error_message ?? undefined);
      assert.equal(t.fake.createdCount, 1, "exactly one prediction was created");
      assert.match(second.output(), /resuming prediction/);
    } finally {
      await second?.stop();
      await first.stop();
      await t.cleanup();
    }
  },
});

Deno.test({
  name: "crash: kill -9 while Replicate holds the create → the prediction is found, not paid twice",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    // The default `Prefer: wait` holds the create for the prediction's 3 s: its id never arrives.
    const t = await startStack(3000, { QUEUE_LOCK_MS: "2000" });
    const first = await startService("worker", t.env);
    let second: Awaited<ReturnType<typeof startService>> | undefined;
    try {
      const jobId = await t.submit("survive a held create");
      const until = Date.now() + 20_000;
      while (t.fake.createdCount === 0) {
        if (Date.now() > until) throw new Error(`no prediction created\n${first.output()}`);
        await new Promise((r) => setTimeout(r, 20));
      }
      first.child.kill("SIGKILL");
      await first.stop();
      second = await startService("worker", t.env);
      const job = await t.waitStatus(jobId, ["completed", "failed"], 30_000);
      assert.equal(job.status, "completed", job.error_message ?? undefined);
      assert.equal(t.fake.createdCount, 1, "exactly one prediction was created");
      assert.equal(job.predictions, 1);
      assert.match(second.output(), /create answer was lost/);
    } finally {
      await second?.stop();
      await first.stop();
      await t.cleanup();
    }
  },
});
