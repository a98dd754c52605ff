/**
 * A worker killed with `kill -9` mid-prediction: another worker takes the job over once the queue
 * lock expires and resumes the same provider prediction — exactly one prediction is paid for.
 */
import assert from "node:assert/strict";
import { connectPostgres, sql } from "../shared/db.ts";
import { startFakeReplicate } from "../shared/testing/fake_replicate.ts";
import {
  createTestDatabase,
  runTask,
  serviceEnv,
  startService,
  waitForHttp,
} from "../shared/testing/processes.ts";

Deno.test({
  name: "crash: kill -9 of a worker mid-prediction → resumed elsewhere, one prediction created",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const database = await createTestDatabase();
    const storage = await Deno.makeTempDir({ prefix: "darkroom-crash-" });
    const fake = await startFakeReplicate({ latencyMs: 3000 });
    const env = serviceEnv({
      databaseUrl: database.url,
      storagePath: storage,
      extra: {
        REPLICATE_API_TOKEN: fake.token,
        REPLICATE_BASE_URL: fake.url,
        QUEUE_LOCK_MS: "2000",
      },
    });
    const base = `http://127.0.0.1:${env.PORT}`;
    assert.equal((await runTask(["migrate"], env)).code, 0);
    const api = await startService("api", env);
    let first = await startService("worker", env);
    let second: Awaited<ReturnType<typeof startService>> | undefined;
    try {
      await waitForHttp(`${base}/api/v1/health`, 30_000, api);
      const res = await fetch(`${base}/api/v1/generate`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ prompt: "survive a crash", model: "acme/painter" }),
      });
      const { job_id } = await res.json();
      // Kill once the prediction exists and its id is stored: from then on a crash must not
      // cost a second prediction. (The window between the provider's answer and that write is
      // a few milliseconds; see the README's reliability notes.)
      const db = connectPostgres(database.url, { max: 1 });
      const until = Date.now() + 20_000;
      try {
        while (true) {
          const [row] = await db.query<{ p: string | null }>(
            sql`SELECT provider_prediction_id AS p FROM jobs WHERE id = ${job_id}`,
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
      second = await startService("worker", env);
      let job;
      while (true) {
        job = await (await fetch(`${base}/api/v1/status/${job_id}`)).json();
        if (["completed", "failed"].includes(job.status)) break;
        if (Date.now() - killedAt > 30_000) throw new Error(`not recovered\n${second.output()}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      const recoveryMs = Date.now() - killedAt;
      console.log(
        `recovered ${recoveryMs} ms after kill -9; predictions created: ${fake.createdCount}`,
      );
      assert.equal(job.status, "completed", job.error_message);
      assert.equal(fake.createdCount, 1, "exactly one prediction was created");
      assert.match(second.output(), /resuming prediction/);
      first = second;
    } finally {
      await second?.stop();
      await api.stop();
      await fake.close();
      await database.drop();
      await Deno.remove(storage, { recursive: true });
    }
  },
});
