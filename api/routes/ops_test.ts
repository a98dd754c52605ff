import assert from "node:assert/strict";
import { connectPostgres } from "../../shared/db.ts";
import { createLogger } from "../../shared/logger.ts";
import { createTestDeps } from "../../shared/testing/app_deps.ts";
import { processJob } from "../../worker/process_job.ts";
import { createApp } from "../app.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

/** Parses Prometheus text into sample → value; throws on a malformed line. */
function parseMetrics(text: string): Map<string, number> {
  const samples = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{[^}]*\})?) (-?[0-9.e+-]+|NaN|\+Inf|-Inf)$/.exec(line);
    if (!m) throw new Error(`Malformed metrics line: ${line}`);
    samples.set(m[1], Number(m[2]));
  }
  return samples;
}

function find(samples: Map<string, number>, prefix: string, ...labels: string[]): number {
  let total = 0;
  for (const [key, value] of samples) {
    if (key.startsWith(prefix) && labels.every((l) => key.includes(l))) total += value;
  }
  return total;
}

Deno.test({
  name: "metrics: text parses and moves when a job runs; request ids reach the worker's logs",
  ...opts,
  fn: async () => {
    const lines: string[] = [];
    const logger = createLogger({ level: "debug", write: (l) => lines.push(l) });
    const deps = await createTestDeps({ logger });
    try {
      const app = createApp(deps);
      const before = parseMetrics(await (await app.request("/metrics")).text());
      const res = await app.request("/api/v1/generate", {
        method: "POST",
        headers: { "content-type": "application/json", "x-request-id": "req-trace-42" },
        body: JSON.stringify({
          prompt: "metrics",
          model: "local/abstract",
          parameters: { width: 64, height: 64 },
        }),
      });
      assert.equal(res.headers.get("x-request-id"), "req-trace-42");
      const { job_id } = await res.json();
      await processJob(deps, { jobId: job_id, requestId: "req-trace-42" }, {
        attempt: 1,
        maxAttempts: 3,
        signal: new AbortController().signal,
        pauseAll: () => Promise.resolve(),
      });
      const metricsRes = await app.request("/metrics");
      assert.match(metricsRes.headers.get("content-type") ?? "", /text\/plain/);
      const after = parseMetrics(await metricsRes.text());
      assert.equal(
        find(after, "darkroom_http_requests_total", 'route="/api/v1/generate"', 'status="202"') -
          find(before, "darkroom_http_requests_total", 'route="/api/v1/generate"', 'status="202"'),
        1,
      );
      assert.equal(find(after, "darkroom_jobs_finished_total", 'status="completed"'), 1);
      assert.equal(find(after, "darkroom_job_duration_seconds_count", 'status="completed"'), 1);
      assert.equal(find(after, "darkroom_queue_wait_seconds_count"), 1);
      assert.equal(
        find(after, "darkroom_jobs{", 'status="completed"', 'model="local/abstract"'),
        1,
      );
      assert.ok(find(after, "darkroom_queue_jobs{", 'state="waiting"') >= 0);
      assert.ok(find(after, "darkroom_process_resident_memory_bytes") > 10_000_000);

      // Every log line is JSON; the job's path can be followed by its request id.
      const records = lines.map((l) => JSON.parse(l));
      const traced = records.filter((r) => r.requestId === "req-trace-42").map((r) => r.msg);
      assert.ok(traced.includes("job accepted"), traced.join(", "));
      assert.ok(traced.includes("job started"), traced.join(", "));
      assert.ok(traced.includes("job completed"), traced.join(", "));
      assert.ok(
        records.some((r) => r.msg === "job completed" && r.jobId === job_id && r.predictionId),
      );
    } finally {
      await deps.cleanup();
    }
  },
});

Deno.test({
  name: "ready: 200 when everything is up; 503 when the database is unreachable",
  ...opts,
  fn: async () => {
    const deps = await createTestDeps();
    const deadDb = connectPostgres("postgres://postgres@127.0.0.1:1/none", { connectTimeoutS: 1 });
    try {
      const ok = await createApp(deps).request("/api/v1/ready");
      const body = await ok.json();
      assert.equal(ok.status, 200, JSON.stringify(body));
      assert.equal(body.status, "ready");
      const down = await createApp({ ...deps, db: deadDb }).request("/api/v1/ready");
      assert.equal(down.status, 503);
      const downBody = await down.json();
      assert.equal(downBody.status, "not_ready");
      assert.equal(downBody.checks.database.ok, false);
      assert.equal(downBody.checks.queue.ok, true);
    } finally {
      await deadDb.close(1).catch(() => {});
      await deps.cleanup();
    }
  },
});

Deno.test({
  name: "security: headers on every answer; CORS only for the allow-listed origins",
  ...opts,
  fn: async () => {
    const deps = await createTestDeps();
    try {
      const app = createApp({
        ...deps,
        config: { ...deps.config, CORS_ORIGINS: ["https://app.example.com"] },
      });
      for (const path of ["/", "/api/v1/models", "/api/v1/nothing", "/images/x.png"]) {
        const res = await app.request(path);
        assert.equal(res.headers.get("x-content-type-options"), "nosniff", path);
        assert.equal(res.headers.get("x-frame-options"), "DENY", path);
        await res.body?.cancel();
      }
      const page = await app.request("/");
      assert.match(page.headers.get("content-security-policy") ?? "", /script-src 'self'/);
      const allowed = await app.request("/api/v1/models", {
        headers: { origin: "https://app.example.com" },
      });
      assert.equal(allowed.headers.get("access-control-allow-origin"), "https://app.example.com");
      const other = await app.request("/api/v1/models", {
        headers: { origin: "https://evil.test" },
      });
      assert.equal(other.headers.get("access-control-allow-origin"), null);
      const boom = await app.request("/api/v1/generate", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: "{bad",
      });
      const text = await boom.text();
      assert.doesNotMatch(text, /at .*\.ts:\d+|SELECT|INSERT/);
    } finally {
      await deps.cleanup();
    }
  },
});
