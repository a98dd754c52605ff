/**
 * A worker killed with `kill -9` while fal runs its requests: another worker takes the jobs over
 * and resumes the same fal requests (a `fal:` model, and an alias job placed at fal because
 * Replicate answered 5xx) — exactly one fal request per job, none at Replicate.
 */
import assert from "node:assert/strict";
import { connectPostgres, sql } from "../shared/db/db.ts";
import { startFakeFal } from "../shared/testing/fake_fal.ts";
import { startService, startStack } from "../shared/testing/processes.ts";

Deno.test({
  name: "crash: kill -9 of a worker mid fal request → resumed elsewhere, no second submit",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const fal = await startFakeFal({ latencyMs: 3000 });
    const t = await startStack(3000, {
      QUEUE_LOCK_MS: "2000",
      FAL_KEY: fal.key,
      FAL_QUEUE_URL: fal.url,
    });
    t.fake.failNextCreates(1000, 503);
    const first = await startService("worker", t.env);
    let second: Awaited<ReturnType<typeof startService>> | undefined;
    try {
      const submit = async (model: string) => {
        const res = await fetch(`${t.api}/generate`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ prompt: "survive a crash", model }),
        });
        const body = await res.json();
        assert.equal(res.status, 202, JSON.stringify(body));
        return body.job_id as string;
      };
      const ids = [await submit("fal:fal-ai/flux/schnell"), await submit("flux-schnell")];
      // Kill once both requests exist at fal and their ids are stored.
      const db = connectPostgres(t.databaseUrl, { max: 1 });
      const until = Date.now() + 20_000;
      try {
        while (true) {
          const rows = await db.query<{ p: string | null; provider: string }>(
            sql`SELECT provider_prediction_id AS p, provider FROM jobs`,
          );
          if (rows.length === 2 && rows.every((r) => r.p && r.provider === "fal")) break;
          if (Date.now() > until) throw new Error(`no requests stored\n${first.output()}`);
          await new Promise((r) => setTimeout(r, 20));
        }
      } finally {
        await db.close();
      }
      first.child.kill("SIGKILL");
      await first.stop();
      assert.equal(fal.submittedCount, 2);
      second = await startService("worker", t.env);
      for (const id of ids) {
        const job = await t.waitStatus(id, ["completed", "failed"], 30_000);
        assert.equal(job.status, "completed", job.error_message ?? undefined);
        assert.equal(job.provider, "fal");
        assert.equal(job.images.length, 1);
      }
      assert.equal(fal.submittedCount, 2, "one fal request per job");
      assert.equal(t.fake.createdCount, 0, "nothing billed at Replicate");
      assert.match(second.output(), /resuming prediction/);
    } finally {
      await second?.stop();
      await first.stop();
      await t.cleanup();
      await fal.close();
    }
  },
});
