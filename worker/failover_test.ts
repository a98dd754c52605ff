/**
 * fal jobs and model routes end to end, on the real Postgres and Redis, against the fake
 * Replicate and the fake fal: a `fal:` model completes (images stored and served, queue position
 * and progress shown, cancel forwarded); an alias job completes on fal while Replicate answers
 * 5xx and on Replicate while fal's port is closed, with exactly one billed request per job; health
 * and metrics say which provider is down.
 */
import assert from "node:assert/strict";
import { createApp } from "../api/app.ts";
import {
  cancelJob,
  getJob,
  type JobRow,
  markProcessing,
  setPrediction,
} from "../shared/jobs/repo.ts";
import type { JobJson } from "../shared/jobs/json.ts";
import { silentLogger } from "../shared/logger.ts";
import { registerProviderGauge } from "../shared/providers/health.ts";
import { createProviderRegistry, type ProviderRegistry } from "../shared/providers/registry.ts";
import { createTestDeps, type TestDeps } from "../shared/testing/app_deps.ts";
import { type FakeFal, startFakeFal } from "../shared/testing/fake_fal.ts";
import { type FakeReplicate, startFakeReplicate } from "../shared/testing/fake_replicate.ts";
import { processJob } from "./process_job.ts";
import { startWorker } from "./worker.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

interface Ctx {
  deps: TestDeps & { providers: ProviderRegistry };
  app: ReturnType<typeof createApp>;
  replicate: FakeReplicate;
  fal: FakeFal;
  submit(model: string, parameters?: Record<string, unknown>): Promise<string>;
  job(id: string): Promise<JobJson>;
  /** One delivery of the job, in this process. */
  run(id: string, attempt?: number): Promise<void>;
}

function withProviders(
  name: string,
  options: { routes?: Record<string, unknown>; failures?: number },
  fn: (t: Ctx) => Promise<void>,
) {
  Deno.test({
    name,
    ...opts,
    fn: async () => {
      const replicate = await startFakeReplicate({ latencyMs: 150 });
      const fal = await startFakeFal({ latencyMs: 150 });
      const base = await createTestDeps({ logger: silentLogger });
      const providers = createProviderRegistry({
        REPLICATE_API_TOKEN: replicate.token,
        REPLICATE_BASE_URL: replicate.url,
        FAL_KEY: fal.key,
        FAL_QUEUE_URL: fal.url,
        FAL_OPENAPI_URL: fal.openapiUrl,
        PROVIDER_TIMEOUT_MS: 2000,
        LOCAL_STEP_MS: 5,
        MODEL_ROUTES: options.routes ? JSON.stringify(options.routes) : undefined,
        PROVIDER_CIRCUIT_FAILURES: options.failures ?? 5,
      });
      const deps = { ...base, providers };
      registerProviderGauge(deps.metrics, {
        db: deps.db,
        providers: () => providers.describe().providers,
      });
      const app = createApp(deps);
      const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, Math.min(ms, 50)));
      const t: Ctx = {
        deps,
        app,
        replicate,
        fal,
        async submit(model, parameters = {}) {
          const res = await app.request("/api/v1/generate", {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: JSON.stringify({ prompt: "a harbour at dawn", model, parameters }),
          });
          const body = await res.json();
          assert.equal(res.status, 202, JSON.stringify(body));
          // The test runs each job itself: take it off the queue.
          await deps.queue.remove(body.job_id);
          return body.job_id;
        },
        async job(id) {
          return await (await app.request(`/api/v1/jobs/${id}`)).json();
        },
        run(id, attempt = 1) {
          return processJob({ ...deps, sleep }, { jobId: id }, {
            attempt,
            maxAttempts: 3,
            signal: new AbortController().signal,
            pauseAll: () => Promise.resolve(),
          });
        },
      };
      try {
        await fn(t);
      } finally {
        await base.cleanup();
        await replicate.close();
        await fal.close();
      }
    },
  });
}

async function waitFor<T>(
  what: string,
  read: () => Promise<T>,
  ok: (v: T) => boolean,
  ms = 10_000,
) {
  const until = Date.now() + ms;
  for (;;) {
    const value = await read();
    if (ok(value)) return value;
    if (Date.now() > until) {
      throw new Error(`${what}: never happened (last: ${JSON.stringify(value)})`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}

withProviders(
  "fal: a fal: model completes end to end, its queue position and progress shown, images stored and served",
  {},
  async (t) => {
    t.fal.queueMs = 400;
    t.fal.queueAhead = 3;
    t.fal.latencyMs = 400;
    const id = await t.submit("fal:fal-ai/flux/schnell", { width: 96, height: 64, num_outputs: 2 });
    const seen: JobJson[] = [];
    let watching = true;
    const watcher = (async () => {
      while (watching) {
        seen.push(await t.job(id));
        await new Promise((r) => setTimeout(r, 25));
      }
    })();
    try {
      await t.run(id);
    } finally {
      watching = false;
      await watcher;
    }
    const done = await t.job(id);
    assert.equal(done.status, "completed", done.error_message ?? "");
    assert.equal(done.provider, "fal");
    assert.equal(done.provider_model, "fal:fal-ai/flux/schnell");
    assert.equal(done.route, null);
    assert.equal(done.queue_position, null);
    assert.equal(t.fal.submittedCount, 1);
    assert.equal(t.replicate.createdCount, 0);
    // The form's vocabulary reached fal in fal's.
    const [submit] = t.fal.requestsTo("POST", "/fal-ai/flux/schnell");
    assert.deepEqual(submit.body, {
      prompt: "a harbour at dawn",
      image_size: { width: 96, height: 64 },
      num_images: 2,
    });
    assert.ok(
      seen.some((j) => j.status === "processing" && (j.queue_position ?? 0) > 0),
      `queue position shown: ${seen.map((j) => j.queue_position)}`,
    );
    assert.ok(seen.some((j) => j.progress > 0 && j.progress < 100), "progress from fal's logs");
    assert.equal(done.images.length, 2);
    for (const image of done.images) {
      assert.deepEqual([image.width, image.height], [96, 64]);
      const res = await t.app.request(image.url);
      assert.equal(res.status, 200);
      assert.equal(res.headers.get("content-type"), "image/png");
      assert.equal((await res.arrayBuffer()).byteLength, image.bytes);
    }
    // History can be filtered by provider.
    const byFal = await t.app.request("/api/v1/jobs?provider=fal");
    assert.equal(byFal.headers.get("x-total-count"), "1");
    assert.deepEqual((await byFal.json()).map((j: JobJson) => j.id), [id]);
    const byReplicate = await t.app.request("/api/v1/jobs?provider=replicate");
    assert.deepEqual(await byReplicate.json(), []);
    assert.equal((await t.app.request("/api/v1/jobs?provider=nope")).status, 422);
  },
);

withProviders("fal: a cancel while the request runs is forwarded to fal", {}, async (t) => {
  t.fal.latencyMs = 5000;
  const id = await t.submit("fal:fal-ai/flux/dev");
  const running = t.run(id);
  const row = await waitFor(
    "request stored",
    () => getJob(t.deps.db, id),
    (r: JobRow | null) => r?.provider_prediction_id != null,
  );
  await cancelJob(t.deps.db, id);
  await running;
  assert.equal((await t.job(id)).status, "canceled");
  const requestId = row!.provider_prediction_id!;
  assert.equal(t.fal.requestsTo("PUT", `/fal-ai/flux/requests/${requestId}/cancel`).length, 1);
  assert.ok(t.fal.queue.get(requestId)?.canceledAt);
});

withProviders(
  "routes: an alias job completes on fal while Replicate answers every create with 5xx; one billed request per job",
  { failures: 2 },
  async (t) => {
    t.replicate.failNextCreates(1000, 503);
    const ids: string[] = [];
    for (let n = 0; n < 3; n++) {
      const id = await t.submit("flux-schnell", { aspect_ratio: "16:9", num_outputs: 1, seed: n });
      const pending = await t.job(id);
      assert.equal(pending.route, "flux-schnell");
      assert.equal(pending.provider_model, null, "not placed yet");
      await t.run(id);
      ids.push(id);
    }
    for (const id of ids) {
      const job = await t.job(id);
      assert.equal(job.status, "completed", job.error_message ?? "");
      assert.equal(job.provider, "fal");
      assert.equal(job.provider_model, "fal:fal-ai/flux/schnell");
      assert.equal(job.route, "flux-schnell");
      assert.equal(job.model, "flux-schnell");
    }
    // Exactly one billed request per job: three at fal, none at Replicate.
    assert.equal(t.fal.submittedCount, 3);
    assert.equal(t.replicate.createdCount, 0);
    // Two faults opened Replicate's circuit: the third job was not even sent there.
    assert.equal(t.replicate.requestsTo("POST", /predictions$/).length, 2);
    assert.equal(t.deps.providers.circuits?.of("replicate").state(), "open");
    // fal got the parameters in its own words.
    const [first] = t.fal.requestsTo("POST", "/fal-ai/flux/schnell");
    assert.deepEqual(first.body, {
      prompt: "a harbour at dawn",
      image_size: "landscape_16_9",
      num_images: 1,
      seed: 0,
    });
  },
);

withProviders(
  "routes: an alias job completes on Replicate while fal is down (its port closed)",
  { routes: { "flux-fal-first": ["fal:fal-ai/flux/schnell", "black-forest-labs/flux-schnell"] } },
  async (t) => {
    await t.fal.close();
    const ids = [
      await t.submit("flux-fal-first", { image_size: "square_hd", num_images: 1 }),
      await t.submit("flux-fal-first", { aspect_ratio: "1:1" }),
    ];
    for (const id of ids) await t.run(id);
    for (const id of ids) {
      const job = await t.job(id);
      assert.equal(job.status, "completed", job.error_message ?? "");
      assert.equal(job.provider, "replicate");
      assert.equal(job.provider_model, "black-forest-labs/flux-schnell");
      assert.equal(job.route, "flux-fal-first");
    }
    assert.equal(t.replicate.createdCount, 2);
    assert.equal(t.fal.submittedCount, 0);
    // fal's words reached Replicate in Replicate's.
    const [create] = t.replicate.requestsTo(
      "POST",
      "/v1/models/black-forest-labs/flux-schnell/predictions",
    );
    assert.deepEqual((create.body as { input: unknown }).input, {
      prompt: "a harbour at dawn",
      aspect_ratio: "1:1",
      num_outputs: 1,
    });
  },
);

withProviders(
  "routes: once a provider holds the prediction the job stays there, even through its errors",
  {},
  async (t) => {
    const id = await t.submit("flux-schnell");
    // A previous delivery placed it at fal (the second target) and died.
    const fal = t.deps.providers.byName("fal")!;
    const created = await fal.create({
      model: "fal:fal-ai/flux/schnell",
      prompt: "p",
      parameters: {},
    });
    await markProcessing(t.deps.db, id);
    await setPrediction(t.deps.db, id, created.id, {
      provider: "fal",
      model: "fal:fal-ai/flux/schnell",
    });
    // fal stumbles on the next status read: the attempt fails, the job waits for a retry.
    t.fal.failNextStatus(1, 503);
    await assert.rejects(() => t.run(id, 1));
    assert.equal((await t.job(id)).status, "pending");
    await t.run(id, 2);
    const job = await t.job(id);
    assert.equal(job.status, "completed", job.error_message ?? "");
    assert.equal(job.provider, "fal");
    assert.equal(t.fal.submittedCount, 1);
    assert.equal(t.replicate.createdCount, 0, "never sent to Replicate");
  },
);

withProviders(
  "health: /health, /ready and /metrics say which provider is down; the worker publishes its circuits",
  { failures: 2 },
  async (t) => {
    t.replicate.failNextCreates(1000, 500);
    const worker = startWorker({ ...t.deps, concurrency: 4, heartbeatMs: 200 });
    try {
      const ids = [];
      for (let n = 0; n < 3; n++) {
        const res = await t.app.request("/api/v1/generate", {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ prompt: `p${n}`, model: "flux-schnell" }),
        });
        ids.push((await res.json()).job_id);
      }
      for (const id of ids) {
        await waitFor(
          "job done",
          () => t.job(id),
          (j) => j.status === "completed" || j.status === "failed",
        );
        assert.equal((await t.job(id)).provider, "fal");
      }
      const health = await waitFor(
        "replicate reported down",
        async () => await (await t.app.request("/api/v1/health")).json(),
        (h) => h.checks.providers?.down?.includes("replicate"),
      );
      assert.equal(health.status, "degraded");
      const replicate = health.checks.providers.providers.find((p: { name: string }) =>
        p.name === "replicate"
      );
      assert.equal(replicate.status, "down");
      assert.equal(replicate.circuit, "open");
      assert.match(replicate.last_error, /status 500/);
      assert.equal(
        health.checks.providers.providers.find((p: { name: string }) => p.name === "fal").status,
        "up",
      );
      const ready = await t.app.request("/api/v1/ready");
      assert.equal(ready.status, 200, "degraded, not down, while fal works");
      const readyBody = await ready.json();
      assert.equal(readyBody.status, "degraded");
      assert.deepEqual(readyBody.checks.providers.down, ["replicate"]);
      const metrics = await (await t.app.request("/metrics")).text();
      assert.match(metrics, /darkroom_provider_up\{provider="replicate"[^}]*\} 0/);
      assert.match(metrics, /darkroom_provider_up\{provider="fal"[^}]*\} 1/);
      assert.match(metrics, /darkroom_provider_up\{provider="local"[^}]*\} 1/);
      const stats = await (await t.app.request("/api/v1/stats")).json();
      assert.equal(
        stats.providers.find((p: { name: string }) => p.name === "replicate").status,
        "down",
      );
    } finally {
      await worker.close();
    }
    // A stopped worker's reports are gone: nothing says Replicate is down any more.
    const after = await (await t.app.request("/api/v1/health")).json();
    assert.deepEqual(after.checks.providers.down, []);
  },
);
