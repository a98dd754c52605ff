/**
 * Progress that tells the truth (issue 21): a local job's progress is recorded step by step as
 * its provider reports them (it costs nothing to ask), not only where the poll schedule happens
 * to look.
 */
import assert from "node:assert/strict";
import { sql } from "../shared/db/db.ts";
import { getJob, insertJob } from "../shared/jobs/repo.ts";
import { createTestDeps } from "../shared/testing/app_deps.ts";
import { processJob } from "./process_job.ts";

Deno.test({
  name: "a local job's progress is recorded at the provider's pace",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const deps = await createTestDeps({ localStepMs: 50 });
    try {
      assert.equal(deps.providers.byName("local")?.progressPollMs, 100);
      const job = await insertJob(deps.db, {
        id: crypto.randomUUID(),
        prompt: "slow steps",
        model: "local/plasma",
        parameters: { width: 64, height: 64, num_inference_steps: 20, seed: 1 },
        provider: "local",
      });
      const seen = new Set<number>();
      let watching = true;
      const watcher = (async () => {
        while (watching) {
          const [row] = await deps.db.query<{ progress: number }>(
            sql`SELECT progress FROM jobs WHERE id = ${job.id}`,
          );
          seen.add(Math.round(row.progress));
          await new Promise((r) => setTimeout(r, 20));
        }
      })();
      // No expected run time is known: the schedule alone would first look after 250 ms and
      // then wait for the estimated end (up to 3 s); 20 steps of 50 ms take one second.
      await processJob(deps, { jobId: job.id }, {
        attempt: 1,
        maxAttempts: 1,
        signal: new AbortController().signal,
        pauseAll: () => Promise.resolve(),
      });
      watching = false;
      await watcher;
      assert.equal((await getJob(deps.db, job.id))?.status, "completed");
      const between = [...seen].filter((p) => p > 0 && p < 100).sort((a, b) => a - b);
      assert.ok(between.length >= 5, `progress seen: ${[...seen].sort((a, b) => a - b)}`);
    } finally {
      await deps.cleanup();
    }
  },
});
