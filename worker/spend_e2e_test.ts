/**
 * Spend end to end, with the real `api` and `worker` processes and a fake Replicate at a price
 * set by PRICING: two one-second jobs show their cost and predict time, `/usage` totals them,
 * each costs one create and no GET, and `Prefer: wait` gives the finished job in the submit.
 */
import assert from "node:assert/strict";
import type { JobJson } from "../shared/jobs/json.ts";
import { startService, startStack } from "../shared/testing/processes.ts";

Deno.test({
  name: "spend: two priced jobs show cost and predict time, /usage totals them, no GET each",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const t = await startStack(1000, { PRICING: '{"acme/painter": {"per_image": 0.004}}' });
    const worker = await startService("worker", t.env);
    try {
      const queued = await t.submit("a lighthouse");
      const res = await fetch(`${t.api}/generate`, {
        method: "POST",
        headers: { "content-type": "application/json", prefer: "wait=20" },
        body: JSON.stringify({ prompt: "a harbour", model: "acme/painter" }),
      });
      assert.equal(res.status, 201, await res.clone().text());
      const waited: JobJson & { job_id: string } = await res.json();
      assert.equal(waited.status, "completed");
      const other = await t.waitStatus(queued, ["completed", "failed"]);
      assert.equal(other.status, "completed", other.error_message ?? undefined);
      for (const job of [waited, other]) {
        assert.equal(job.cost_usd, 0.004, JSON.stringify(job));
        assert.ok(job.predict_time_s !== null && Math.abs(job.predict_time_s - 0.9) < 0.1);
        assert.equal(job.predictions, 1);
      }
      assert.equal(t.fake.createdCount, 2);
      const gets = t.fake.requestsTo("GET", /^\/v1\/predictions\/[^/]+$/).length;
      assert.ok(gets <= 2, `at most one GET per job (got ${gets})`);
      const usage = await (await fetch(`${t.api}/usage?group_by=model`)).json();
      assert.equal(usage.total_usd, 0.008);
      assert.equal(usage.jobs, 2);
      assert.equal(usage.predictions, 2);
      assert.deepEqual(usage.groups.map((g: { model: string }) => g.model), ["acme/painter"]);
      console.log(`provider GETs for 2 one-second jobs: ${gets}`);
    } finally {
      await worker.stop();
      await t.cleanup();
    }
  },
});
