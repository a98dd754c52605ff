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
    const t = await startStack(3000, { QUEUE_LOCK_MS: "2000" });
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
