/** The worker's HTTP face: /metrics moves when a job runs, and its logs carry the request id. */
import assert from "node:assert/strict";
import { insertJob } from "../shared/jobs/repo.ts";
import { createLogger } from "../shared/logger.ts";
import { createTestDeps } from "../shared/testing/app_deps.ts";
import { parseMetrics, sumSamples } from "../shared/testing/metrics.ts";
import { workerHealthHandler } from "./health.ts";
import { processJob } from "./process_job.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

Deno.test({
  name: "worker health: metrics text parses and moves when a job runs; request ids reach the " +
    "worker's logs",
  ...opts,
  fn: async () => {
    const lines: string[] = [];
    const logger = createLogger({ level: "debug", write: (l) => lines.push(l) });
    const deps = await createTestDeps({ logger });
    const handler = workerHealthHandler(deps, {
      id: "worker-test",
      close: () => Promise.resolve(),
    });
    try {
      // A job as the API stores it for a request (api/routes/ops_test.ts checks that side).
      const job = await insertJob(deps.db, {
        id: crypto.randomUUID(),
        prompt: "metrics",
        model: "local/abstract",
        parameters: { width: 64, height: 64 },
        provider: "local",
        request_id: "req-trace-42",
      });
      await processJob(deps, { jobId: job.id, requestId: "req-trace-42" }, {
        attempt: 1,
        maxAttempts: 3,
        signal: new AbortController().signal,
        pauseAll: () => Promise.resolve(),
      });
      const res = await handler(new Request("http://worker/metrics"));
      assert.equal(res.status, 200);
      assert.match(res.headers.get("content-type") ?? "", /text\/plain/);
      const after = parseMetrics(await res.text());
      assert.equal(sumSamples(after, "darkroom_jobs_finished_total", 'status="completed"'), 1);
      assert.equal(
        sumSamples(after, "darkroom_job_duration_seconds_count", 'status="completed"'),
        1,
      );
      assert.equal(sumSamples(after, "darkroom_queue_wait_seconds_count"), 1);
      assert.equal(
        sumSamples(after, "darkroom_jobs{", 'status="completed"', 'model="local/abstract"'),
        1,
      );

      // Every log line is JSON; the job's path can be followed by its request id.
      const records = lines.map((l) => JSON.parse(l));
      const traced = records.filter((r) => r.requestId === "req-trace-42").map((r) => r.msg);
      assert.ok(traced.includes("job started"), traced.join(", "));
      assert.ok(traced.includes("job completed"), traced.join(", "));
      assert.ok(
        records.some((r) => r.msg === "job completed" && r.jobId === job.id && r.predictionId),
      );

      const health = await handler(new Request("http://worker/health"));
      assert.equal(health.status, 200);
      assert.deepEqual(await health.json(), {
        status: "ok",
        worker_id: "worker-test",
        checks: { database: true, queue: true },
      });
    } finally {
      await deps.cleanup();
    }
  },
});
