import assert from "node:assert/strict";
import { connectPostgres } from "../../shared/db/db.ts";
import { createLogger } from "../../shared/logger.ts";
import { createTestDeps } from "../../shared/testing/app_deps.ts";
import { markCompleted, markProcessing } from "../../shared/jobs/repo.ts";
import type { JobQueue, QueueMessage } from "../../shared/queue/queue.ts";
import { parseMetrics, sumSamples } from "../../shared/testing/metrics.ts";
import { createApp } from "../app.ts";
import { deleteQueueKeys, testQueuePrefix, testRedisUrl } from "../../shared/testing/db.ts";
import { adminQueueRoutes } from "./admin_queues.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

Deno.test({
  name: "metrics: text parses and moves when a job is accepted and finishes; the request id " +
    "travels on the queue message",
  ...opts,
  fn: async () => {
    const lines: string[] = [];
    const logger = createLogger({ level: "debug", write: (l) => lines.push(l) });
    const deps = await createTestDeps({ logger });
    try {
      // What the API puts on the queue: the worker logs under the message's request id
      // (worker/health_test.ts follows it from there).
      const sent: QueueMessage[] = [];
      const queue: JobQueue = {
        ...deps.queue,
        enqueue: (message, options) => {
          sent.push(message);
          return deps.queue.enqueue(message, options);
        },
      };
      const app = createApp({ ...deps, queue });
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
      assert.deepEqual(
        sent.map((m) => [m.jobId, m.requestId]),
        [[job_id, "req-trace-42"]],
      );
      // The job finishes as a worker would leave it (the worker's own figures: health_test.ts).
      await markProcessing(deps.db, job_id);
      await markCompleted(deps.db, job_id, []);
      const metricsRes = await app.request("/metrics");
      assert.match(metricsRes.headers.get("content-type") ?? "", /text\/plain/);
      const after = parseMetrics(await metricsRes.text());
      assert.equal(
        sumSamples(
          after,
          "darkroom_http_requests_total",
          'route="/api/v1/generate"',
          'status="202"',
        ) -
          sumSamples(
            before,
            "darkroom_http_requests_total",
            'route="/api/v1/generate"',
            'status="202"',
          ),
        1,
      );
      assert.equal(
        sumSamples(after, "darkroom_jobs{", 'status="completed"', 'model="local/abstract"'),
        1,
      );
      assert.ok(sumSamples(after, "darkroom_queue_jobs{", 'state="waiting"') >= 0);
      assert.ok(sumSamples(after, "darkroom_process_resident_memory_bytes") > 10_000_000);

      // Every log line is JSON; the job's path can be followed by its request id.
      const records = lines.map((l) => JSON.parse(l));
      const traced = records.filter((r) => r.requestId === "req-trace-42").map((r) => r.msg);
      assert.ok(traced.includes("job accepted"), traced.join(", "));
      assert.ok(records.some((r) => r.msg === "job accepted" && r.jobId === job_id));
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

Deno.test({
  name: "security: every kind of answer carries the security headers and a request id",
  ...opts,
  fn: async () => {
    const deps = await createTestDeps();
    const boardPrefix = testQueuePrefix();
    const board = adminQueueRoutes({ redisUrl: testRedisUrl(), prefix: boardPrefix });
    try {
      // With and without CORS: its middleware reads c.res early, which changes how Hono builds
      // answers, so both must carry the headers.
      for (const origins of [["https://app.example.com"], []]) {
        const app = createApp({
          ...deps,
          config: { ...deps.config, CORS_ORIGINS: origins },
          mounted: [board],
        });
        const json = { "content-type": "application/json" };
        const job = { prompt: "a harbour", model: "local/abstract" };
        const requests: [string, RequestInit?][] = [
          ["/"],
          ["/assets/missing.js"],
          ["/api/v1/models"],
          ["/api/v1/health"],
          ["/api/v1/ready"],
          ["/api/v1/stats"],
          ["/api/v1/me"],
          ["/api/v1/jobs"],
          ["/api/v1/jobs?limit=0"],
          ["/api/v1/status/not-a-uuid"],
          [`/api/v1/status/${crypto.randomUUID()}`],
          ["/api/v1/generate", { method: "POST", headers: json, body: JSON.stringify(job) }],
          ["/api/v1/generate", { method: "POST", headers: json, body: "{bad" }],
          ["/api/v1/generate", { method: "POST", headers: { "content-type": "text/plain" } }],
          ["/api/v1/generate", { method: "POST", headers: json, body: "x".repeat(2_000_000) }],
          ["/api/v1/generate", { method: "POST", headers: json, body: "{}" }],
          ["/api/v1/models", { method: "DELETE" }],
          ["/api/v1/nothing"],
          ["/api/v1/openapi.json"],
          ["/api/v1/docs"],
          ["/api/v1/docs/init.js"],
          ["/api/v1/events"],
          ["/metrics"],
          ["/images/x.png"],
          ["/images/x.png", { method: "HEAD" }],
          ["/api/v1/models", {
            method: "OPTIONS",
            headers: { origin: "https://app.example.com", "access-control-request-method": "POST" },
          }],
          ["/admin/queues"],
          ["/admin/queues/"],
          ["/admin/queues/api/queues"],
          ["/admin/queues/api/nothing"],
        ];
        const statuses: number[] = [];
        for (const [path, init] of requests) {
          const res = await app.request(path, init);
          const what = `${init?.method ?? "GET"} ${path} (${res.status}, CORS ${origins.length})`;
          statuses.push(res.status);
          assert.equal(res.headers.get("x-content-type-options"), "nosniff", what);
          assert.equal(res.headers.get("x-frame-options"), "DENY", what);
          assert.equal(res.headers.get("referrer-policy"), "no-referrer", what);
          assert.match(res.headers.get("x-request-id") ?? "", /^[0-9a-f-]{36}$/, what);
          await res.body?.cancel();
        }
        // The list covers successes, client errors and streams alike.
        const expected = [200, 202, 400, 404, 413, 415, 422, ...origins.length ? [204] : []];
        for (const status of expected) {
          assert.ok(statuses.includes(status), `no answer with status ${status}: ${statuses}`);
        }
        const given = await app.request("/api/v1/models", { headers: { "x-request-id": "abc-1" } });
        assert.equal(given.headers.get("x-request-id"), "abc-1", "a sane incoming id is kept");
        await given.body?.cancel();
      }
    } finally {
      await board.close();
      await deleteQueueKeys(boardPrefix);
      await deps.cleanup();
    }
  },
});
