/**
 * Spend at submit: budgets refuse with 402 before anything is queued (also under 50 concurrent
 * submits on real Postgres), retries reserve again, `Prefer: wait` answers 201 with the finished
 * job, and `"dedupe": true` answers an identical completed job at no cost.
 */
import assert from "node:assert/strict";
import { createApiKey } from "../../shared/auth/api_keys.ts";
import { sql } from "../../shared/db/db.ts";
import { markCompleted, markProcessing } from "../../shared/jobs/repo.ts";
import { createReplicateProvider } from "../../shared/providers/replicate.ts";
import { readKeyBudget, updateSpendSettings } from "../../shared/spend/budgets.ts";
import { createPricing } from "../../shared/spend/pricing.ts";
import { createTestDeps, type TestDeps, testSecurity } from "../../shared/testing/app_deps.ts";
import { startFakeReplicate } from "../../shared/testing/fake_replicate.ts";
import { createApp } from "../app.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

interface Ctx {
  deps: TestDeps;
  app: ReturnType<typeof createApp>;
  keys: { alice: string; bob: string; admin: string };
  ids: { alice: string; bob: string };
  post(body: unknown, key?: string, headers?: Record<string, string>): Promise<Response>;
}

function withSpend(
  name: string,
  fn: (ctx: Ctx) => Promise<void>,
  config: { MAX_WAITING_SUBMITS?: number; authMode?: "none" | "api_key" } = {},
) {
  Deno.test({
    name,
    ...opts,
    fn: async () => {
      await using fake = await startFakeReplicate({ latencyMs: 0 });
      const replicate = createReplicateProvider({
        token: fake.token,
        baseUrl: fake.url,
        timeoutMs: 2000,
      });
      const deps = await createTestDeps({ replicate });
      try {
        const app = createApp({
          ...deps,
          pricing: createPricing({
            "acme/painter": { per_image: 0.02 },
            "acme/flat": { per_run: 0.01 },
          }),
          config: { ...deps.config, DEDUPE_WINDOW_S: 600, ...config },
          security: testSecurity({ authMode: config.authMode ?? "api_key" }),
        });
        const alice = await createApiKey(deps.db, { name: "alice" });
        const bob = await createApiKey(deps.db, { name: "bob" });
        const admin = await createApiKey(deps.db, { name: "ops", admin: true });
        await fn({
          deps,
          app,
          keys: { alice: alice.key, bob: bob.key, admin: admin.key },
          ids: { alice: alice.record.id, bob: bob.record.id },
          post: async (body, key, headers = {}) =>
            await app.request("/api/v1/generate", {
              method: "POST",
              headers: {
                "content-type": "application/json",
                ...(key ? { authorization: `Bearer ${key}` } : {}),
                ...headers,
              },
              body: JSON.stringify(body),
            }),
        });
      } finally {
        await deps.cleanup();
      }
    },
  });
}

const painter = (n = 2) => ({
  prompt: "a lighthouse",
  model: "acme/painter",
  parameters: { num_outputs: n },
});

async function jobCount(deps: TestDeps, owner: string): Promise<number> {
  const [row] = await deps.db.query<{ n: number }>(
    sql`SELECT count(*)::int AS n FROM jobs WHERE owner_key_id = ${owner}`,
  );
  return row.n;
}

withSpend(
  "spend: a submit past the key's budget is 402 before anything is stored or queued",
  async (t) => {
    await updateSpendSettings(t.deps.db, t.ids.alice, { budgetUsd: 0.1 });
    // $0.04 each (2 images at $0.02): two fit, the third would make $0.12.
    assert.equal((await t.post(painter(), t.keys.alice)).status, 202);
    assert.equal((await t.post(painter(), t.keys.alice)).status, 202);
    const refused = await t.post(painter(), t.keys.alice);
    assert.equal(refused.status, 402);
    const body = await refused.json();
    assert.equal(body.error.code, "budget_exceeded");
    assert.deepEqual(body.error.details, {
      budget_usd: 0.1,
      spent_usd: 0,
      reserved_usd: 0.08,
      estimate_usd: 0.04,
      month: new Date().toISOString().slice(0, 7),
    });
    assert.equal(await jobCount(t.deps, t.ids.alice), 2);
    assert.equal((await t.deps.queue.stats()).waiting, 2, "nothing was queued for the refused one");
    // One image still fits; local models are free; a key without a budget is not limited.
    assert.equal((await t.post(painter(1), t.keys.alice)).status, 202);
    assert.equal((await t.post(painter(1), t.keys.alice)).status, 402);
    assert.equal(
      (await t.post({ prompt: "free", model: "local/aurora" }, t.keys.alice)).status,
      202,
    );
    for (let i = 0; i < 5; i++) assert.equal((await t.post(painter(4), t.keys.bob)).status, 202);
    // The budget is checked with an Idempotency-Key too, and a refusal keeps no key.
    const again = await t.post(painter(1), t.keys.alice, { "idempotency-key": "k1" });
    assert.equal(again.status, 402);
    await updateSpendSettings(t.deps.db, t.ids.alice, { budgetUsd: 1 });
    assert.equal((await t.post(painter(1), t.keys.alice, { "idempotency-key": "k1" })).status, 202);
    const budget = await readKeyBudget(t.deps.db, t.ids.alice);
    assert.equal(budget?.reserved_usd, 0.12);
  },
);

withSpend("spend: 50 concurrent submits never take a key over its budget", async (t) => {
  await updateSpendSettings(t.deps.db, t.ids.alice, { budgetUsd: 0.1 });
  const flat = { prompt: "one of many", model: "acme/flat" }; // $0.01 a run
  const answers = await Promise.all(
    Array.from({ length: 50 }, () => t.post(flat, t.keys.alice)),
  );
  const statuses = answers.map((r) => r.status);
  await Promise.all(answers.map((r) => r.body?.cancel()));
  assert.equal(statuses.filter((s) => s === 202).length, 10, `statuses: ${statuses}`);
  assert.equal(statuses.filter((s) => s === 402).length, 40, `statuses: ${statuses}`);
  assert.equal(await jobCount(t.deps, t.ids.alice), 10);
  assert.equal((await t.deps.queue.stats()).waiting, 10);
  const budget = await readKeyBudget(t.deps.db, t.ids.alice);
  assert.equal(budget?.reserved_usd, 0.1);
  assert.equal(budget?.remaining_usd, 0);
});

withSpend("spend: a retry reserves its estimate again and may be refused", async (t) => {
  await updateSpendSettings(t.deps.db, t.ids.alice, { budgetUsd: 0.05 });
  const { job_id } = await (await t.post(painter(), t.keys.alice)).json();
  const cancel = await t.app.request(`/api/v1/jobs/${job_id}/cancel`, {
    method: "POST",
    headers: { authorization: `Bearer ${t.keys.alice}` },
  });
  assert.equal(cancel.status, 200);
  assert.equal((await readKeyBudget(t.deps.db, t.ids.alice))?.reserved_usd, 0);
  // Another job takes most of the budget meanwhile.
  assert.equal((await t.post(painter(1), t.keys.alice)).status, 202);
  const retry = (key: string) =>
    t.app.request(`/api/v1/jobs/${job_id}/retry`, {
      method: "POST",
      headers: { authorization: `Bearer ${key}` },
    });
  const refused = await retry(t.keys.alice);
  assert.equal(refused.status, 402);
  assert.equal((await refused.json()).error.code, "budget_exceeded");
  // The admin retrying it does not escape the owner's budget either.
  assert.equal((await retry(t.keys.admin)).status, 402);
  await updateSpendSettings(t.deps.db, t.ids.alice, { budgetUsd: 1 });
  const ok = await retry(t.keys.alice);
  assert.equal(ok.status, 202);
  assert.equal((await ok.json()).status, "pending");
  assert.equal((await readKeyBudget(t.deps.db, t.ids.alice))?.reserved_usd, 0.06);
});

/** Completes every pending job (as a worker would) once `ms` have passed. */
function completeSoon(deps: TestDeps, ms: number): Promise<void> {
  return new Promise((resolve) =>
    setTimeout(async () => {
      const pending = await deps.db.query<{ id: string }>(
        sql`SELECT id FROM jobs WHERE status = 'pending'`,
      );
      for (const { id } of pending) {
        await markProcessing(deps.db, id);
        await markCompleted(deps.db, id, [], { predictTimeS: 0.4, costUsd: 0 });
      }
      resolve();
    }, ms)
  );
}

withSpend("generate: Prefer: wait=N answers 201 with the job once it finishes", async (t) => {
  const body = { prompt: "wait for me", model: "local/aurora" };
  const completing = completeSoon(t.deps, 300);
  const started = Date.now();
  const res = await t.post(body, undefined, { prefer: "wait=5" });
  await completing;
  assert.equal(res.status, 201);
  assert.equal(res.headers.get("preference-applied"), "wait=5");
  const job = await res.json();
  assert.equal(job.status, "completed");
  assert.equal(job.job_id, job.id);
  assert.equal(job.predict_time_s, 0.4);
  assert.equal(res.headers.get("location"), `/api/v1/status/${job.id}`);
  assert.ok(Date.now() - started < 4000, "answered when the job finished, not at the deadline");

  // Not finished in time: 202 as without the header, after about N seconds.
  const t0 = Date.now();
  const late = await t.post(body, undefined, { prefer: "respond-async, wait=1" });
  assert.equal(late.status, 202);
  assert.equal(late.headers.get("preference-applied"), "wait=1");
  assert.equal((await late.json()).status, "pending");
  assert.ok(Date.now() - t0 >= 900, `waited ${Date.now() - t0} ms`);
  // A header that asks no wait changes nothing.
  const plain = await t.post(body, undefined, { prefer: "return=minimal" });
  assert.equal(plain.status, 202);
  assert.equal(plain.headers.get("preference-applied"), null);
}, { authMode: "none" });

withSpend("generate: past MAX_WAITING_SUBMITS a waiting submit answers 202 at once", async (t) => {
  const t0 = Date.now();
  const res = await t.post({ prompt: "busy", model: "local/aurora" }, undefined, {
    prefer: "wait=5",
  });
  assert.equal(res.status, 202);
  assert.ok(Date.now() - t0 < 2000);
}, { authMode: "none", MAX_WAITING_SUBMITS: 0 });

withSpend('generate: "dedupe": true answers an identical completed job, at no cost', async (t) => {
  await updateSpendSettings(t.deps.db, t.ids.alice, { budgetUsd: 1 });
  const noSeed = await t.post({ ...painter(1), dedupe: true }, t.keys.alice);
  assert.equal(noSeed.status, 422);
  assert.equal((await noSeed.json()).error.details[0].field, "dedupe");

  const first = {
    prompt: "a lighthouse",
    model: "acme/painter",
    parameters: { seed: 7, num_outputs: 1 },
  };
  const created = await t.post({ ...first, dedupe: true }, t.keys.alice);
  assert.equal(created.status, 202);
  const { job_id } = await created.json();
  // Not completed yet: an identical request is a new job.
  const whileRunning = await t.post({ ...first, dedupe: true }, t.keys.alice);
  assert.equal(whileRunning.status, 202);
  await t.deps.db.query(sql`DELETE FROM jobs WHERE id = ${(await whileRunning.json()).job_id}`);
  await markProcessing(t.deps.db, job_id);
  await markCompleted(t.deps.db, job_id, [], { predictTimeS: 1, costUsd: 0.02 });
  const spent = (await readKeyBudget(t.deps.db, t.ids.alice))!;
  const count = await jobCount(t.deps, t.ids.alice);

  // Key order and surrounding spaces do not matter.
  const same = await t.post({
    parameters: { num_outputs: 1, seed: 7 },
    model: "acme/painter",
    prompt: "  a lighthouse ",
    dedupe: true,
  }, t.keys.alice);
  assert.equal(same.status, 200);
  assert.equal(same.headers.get("deduplicated"), "true");
  const twin = await same.json();
  assert.equal(twin.job_id, job_id);
  assert.equal(twin.status, "completed");
  assert.equal(twin.cost_usd, 0.02);
  assert.equal(await jobCount(t.deps, t.ids.alice), count, "nothing new stored");
  const after = (await readKeyBudget(t.deps.db, t.ids.alice))!;
  assert.deepEqual([after.spent_usd, after.reserved_usd], [spent.spent_usd, spent.reserved_usd]);

  // Another seed, or dedupe not asked, or another key: a new job.
  const other = { ...first, parameters: { seed: 8, num_outputs: 1 }, dedupe: true };
  assert.equal((await t.post(other, t.keys.alice)).status, 202);
  assert.equal((await t.post(first, t.keys.alice)).status, 202);
  assert.equal((await t.post({ ...first, dedupe: true }, t.keys.bob)).status, 202);
});

withSpend("spend: a submit makes one statement, budget or not, free model or priced", async (t) => {
  await updateSpendSettings(t.deps.db, t.ids.alice, { budgetUsd: 1 });
  const statements: string[] = [];
  const db = t.deps.db;
  const counted = {
    ...db,
    query: <T>(q: Parameters<typeof db.query>[0]) => {
      statements.push(q.text.trim().split(/\s+/).slice(0, 3).join(" "));
      return db.query<T>(q);
    },
  };
  const app = createApp({
    ...t.deps,
    db: counted,
    pricing: createPricing({ "acme/painter": { per_image: 0.02 } }),
    security: testSecurity(),
  });
  const submit = async (key: string, body: unknown) => {
    statements.length = 0;
    const res = await app.request("/api/v1/generate", {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${key}` },
      body: JSON.stringify(body),
    });
    assert.equal(res.status, 202, await res.text());
    // The key's lookup (and its last_used_at, once a minute) come with any request with a key.
    return statements.filter((s) => !/^SELECT id, name/.test(s) && !/^UPDATE api_keys/.test(s));
  };
  const free = { prompt: "free", model: "local/aurora" };
  const priced = painter(1);
  for (
    const [key, body] of [[t.keys.bob, free], [t.keys.bob, priced], [t.keys.alice, free], [
      t.keys.alice,
      priced,
    ]] as const
  ) {
    const made = await submit(key, body);
    assert.deepEqual(made, ["INSERT INTO jobs"], `${JSON.stringify(body)}: ${made}`);
  }
  // The budgeted, priced submit reserved in that one statement.
  assert.equal((await readKeyBudget(db, t.ids.alice))?.reserved_usd, 0.02);
});
