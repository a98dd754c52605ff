/**
 * The worker's side of spend: each job records its predictions, predict time and estimated cost;
 * `Prefer: wait` lets a prediction that ends within the wait answer in the create call (no GET);
 * and a create whose answer was lost (a shutdown while the provider held the call) is found and
 * resumed on the next attempt instead of paying for a second prediction.
 */
import assert from "node:assert/strict";
import {
  getJob,
  insertJob,
  type JobRow,
  markProcessing,
  setPrediction,
} from "../shared/jobs/repo.ts";
import { createLogger } from "../shared/logger.ts";
import { createReplicateProvider } from "../shared/providers/replicate.ts";
import { createPricing } from "../shared/spend/pricing.ts";
import { createTestDeps, type TestDeps } from "../shared/testing/app_deps.ts";
import { type FakeReplicate, startFakeReplicate } from "../shared/testing/fake_replicate.ts";
import { parseMetrics, sumSamples } from "../shared/testing/metrics.ts";
import { type ProcessDeps, processJob } from "./process_job.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };
const GETS = /^\/v1\/predictions\/[^/]+$/;
const pricing = createPricing({
  "acme/painter": { per_image: 0.003 },
  "acme/clock": { per_second: 0.001 },
});

interface Ctx {
  deps: TestDeps;
  fake: FakeReplicate;
  logs: string[];
  submit(model: string, parameters?: Record<string, unknown>): Promise<JobRow>;
  run(id: string, extra?: { attempt?: number; signal?: AbortSignal }): Promise<void>;
}

function withSpendWorker(
  name: string,
  settings: { latencyMs: number; preferWaitS: number },
  fn: (t: Ctx) => Promise<void>,
) {
  Deno.test({
    name,
    ...opts,
    fn: async () => {
      const fake = await startFakeReplicate({ latencyMs: settings.latencyMs });
      const replicate = createReplicateProvider({
        token: fake.token,
        baseUrl: fake.url,
        timeoutMs: 2000,
        preferWaitS: settings.preferWaitS,
      });
      const logs: string[] = [];
      const logger = createLogger({ level: "debug", write: (line) => void logs.push(line) });
      const deps = await createTestDeps({ replicate, logger });
      try {
        await fn({
          deps,
          fake,
          logs,
          submit: (model, parameters = {}) =>
            insertJob(deps.db, {
              id: crypto.randomUUID(),
              prompt: "a quiet harbour at dawn",
              model,
              parameters,
              provider: model.startsWith("local/") ? "local" : "replicate",
            }),
          run: (id, extra = {}) => {
            const processDeps: ProcessDeps = { ...deps, pricing };
            return processJob(processDeps, { jobId: id }, {
              attempt: extra.attempt ?? 1,
              maxAttempts: 3,
              signal: extra.signal ?? new AbortController().signal,
              pauseAll: () => Promise.resolve(),
            });
          },
        });
      } finally {
        await deps.cleanup();
        await fake.close();
      }
    },
  });
}

withSpendWorker(
  "spend: a one-second prediction costs one create and no GET with Prefer: wait",
  { latencyMs: 1000, preferWaitS: 5 },
  async (t) => {
    const job = await t.submit("acme/painter", { width: 64, height: 64, num_outputs: 2 });
    await t.run(job.id);
    const done = await getJob(t.deps.db, job.id);
    assert.equal(done?.status, "completed", done?.error_message ?? "");
    const creates = t.fake.requestsTo("POST", /\/predictions$/);
    assert.equal(creates.length, 1);
    assert.equal(creates[0].headers.prefer, "wait=5");
    assert.equal(t.fake.requestsTo("GET", GETS).length, 0, "answered in the create call");
    assert.equal(done?.predictions, 1);
    // The fake runs 0.9 s after a 0.1 s start: Replicate's predict_time, two images at $0.003.
    assert.ok(Math.abs((done?.predict_time_s ?? 0) - 0.9) < 0.05, `${done?.predict_time_s}`);
    assert.equal(done?.cost_usd, 0.006);
    const metrics = parseMetrics(await t.deps.metrics.render());
    assert.equal(sumSamples(metrics, "darkroom_spend_usd_total", 'model="acme/painter"'), 0.006);
    assert.ok(sumSamples(metrics, "darkroom_predict_seconds_total", 'model="acme/painter"') > 0.8);
  },
);

withSpendWorker(
  "spend: without Prefer: wait the same prediction needs several GETs",
  { latencyMs: 1000, preferWaitS: 0 },
  async (t) => {
    const job = await t.submit("acme/painter", { width: 64, height: 64 });
    await t.run(job.id);
    assert.equal((await getJob(t.deps.db, job.id))?.status, "completed");
    assert.equal(t.fake.requestsTo("POST", /\/predictions$/)[0].headers.prefer, undefined);
    assert.ok(t.fake.requestsTo("GET", GETS).length >= 2);
  },
);

withSpendWorker(
  "spend: a prediction longer than the wait is polled after the create answers",
  { latencyMs: 1800, preferWaitS: 1 },
  async (t) => {
    const job = await t.submit("acme/clock", { width: 64, height: 64 });
    await t.run(job.id);
    const done = await getJob(t.deps.db, job.id);
    assert.equal(done?.status, "completed");
    assert.equal(t.fake.createdCount, 1);
    assert.ok(t.fake.requestsTo("GET", GETS).length >= 1);
    // Per second: 1.62 s of predict time at $0.001.
    assert.ok(Math.abs((done?.cost_usd ?? 0) - 0.00162) < 0.0001, `${done?.cost_usd}`);
  },
);

withSpendWorker(
  "spend: a local job costs nothing and records its render time",
  { latencyMs: 0, preferWaitS: 5 },
  async (t) => {
    const job = await t.submit("local/plasma", { width: 64, height: 64 });
    await t.run(job.id);
    const done = await getJob(t.deps.db, job.id);
    assert.equal(done?.status, "completed");
    assert.equal(done?.cost_usd, 0);
    assert.equal(done?.predictions, 1);
    assert.ok((done?.predict_time_s ?? -1) >= 0);
  },
);

withSpendWorker(
  "spend: a create whose answer was lost is resumed, not paid for twice",
  { latencyMs: 1500, preferWaitS: 10 },
  async (t) => {
    const job = await t.submit("acme/painter", { width: 64, height: 64, seed: 5 });
    // The worker stops while Replicate holds the create call: the answer never arrives.
    const stop = new AbortController();
    setTimeout(() => stop.abort(new Error("worker is shutting down")), 300);
    await assert.rejects(t.run(job.id, { signal: stop.signal }));
    assert.equal(t.fake.createdCount, 1);
    assert.equal((await getJob(t.deps.db, job.id))?.provider_prediction_id, null);
    // The next attempt finds the prediction by its input and waits for it.
    await t.run(job.id, { attempt: 2 });
    const done = await getJob(t.deps.db, job.id);
    assert.equal(done?.status, "completed", done?.error_message ?? "");
    assert.equal(t.fake.createdCount, 1, "one prediction paid for");
    assert.equal(done?.provider_prediction_id, [...t.fake.predictions.keys()][0]);
    assert.equal(done?.predictions, 1);
    assert.ok(t.logs.some((l) => l.includes("resuming prediction whose create answer was lost")));
  },
);

withSpendWorker(
  "spend: a prediction another job holds is never taken for a lost one",
  { latencyMs: 0, preferWaitS: 5 },
  async (t) => {
    const parameters = { width: 64, height: 64, seed: 9 };
    const twin = await t.submit("acme/painter", parameters);
    await t.run(twin.id);
    assert.equal(t.fake.createdCount, 1);
    // Same input, and it ran before (a retry) with no prediction stored.
    const job = await t.submit("acme/painter", parameters);
    await markProcessing(t.deps.db, job.id);
    await new Promise((r) => setTimeout(r, 20));
    await t.run(job.id, { attempt: 2 });
    assert.equal((await getJob(t.deps.db, job.id))?.status, "completed");
    assert.equal(t.fake.createdCount, 2, "the twin's prediction was left alone");
    assert.equal(t.fake.requestsTo("GET", /^\/v1\/predictions$/).length, 1, "one list read");
    // Stored ids are resumed as before, without listing.
    const resumed = await t.submit("acme/painter", { ...parameters, seed: 10 });
    await markProcessing(t.deps.db, resumed.id);
    const p = await t.deps.providers.byName("replicate")!.create({
      model: "acme/painter",
      prompt: resumed.prompt,
      parameters: resumed.parameters,
    });
    await setPrediction(t.deps.db, resumed.id, p.id);
    await t.run(resumed.id, { attempt: 2 });
    assert.equal(t.fake.requestsTo("GET", /^\/v1\/predictions$/).length, 1);
  },
);
