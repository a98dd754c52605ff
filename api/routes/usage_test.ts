/** GET /usage: totals and groups per key, admin and open views, budgets, and 4xx for bad input. */
import assert from "node:assert/strict";
import { createApiKey } from "../../shared/auth/api_keys.ts";
import { sql } from "../../shared/db/db.ts";
import { insertJob, markCompleted, markFailed, markProcessing } from "../../shared/jobs/repo.ts";
import { updateSpendSettings } from "../../shared/spend/budgets.ts";
import { createTestDeps, type TestDeps, testSecurity } from "../../shared/testing/app_deps.ts";
import { createApp } from "../app.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };
const DAY = 86_400_000;

interface Ctx {
  deps: TestDeps;
  get(query: string, key?: string): Promise<Response>;
  keys: { alice: string; bob: string; admin: string };
  ids: { alice: string; bob: string };
}

function withUsage(name: string, authMode: "none" | "api_key", fn: (t: Ctx) => Promise<void>) {
  Deno.test({
    name,
    ...opts,
    fn: async () => {
      const deps = await createTestDeps();
      try {
        const app = createApp({
          ...deps,
          security: testSecurity({ authMode }),
        });
        const alice = await createApiKey(deps.db, { name: "alice" });
        const bob = await createApiKey(deps.db, { name: "bob" });
        const admin = await createApiKey(deps.db, { name: "ops", admin: true });
        await fn({
          deps,
          keys: { alice: alice.key, bob: bob.key, admin: admin.key },
          ids: { alice: alice.record.id, bob: bob.record.id },
          get: async (query, key) =>
            await app.request(`/api/v1/usage${query}`, {
              headers: key ? { authorization: `Bearer ${key}` } : {},
            }),
        });
      } finally {
        await deps.cleanup();
      }
    },
  });
}

/** A job of `owner` created `daysAgo` days ago that ended with this spend. */
async function spent(
  t: Ctx,
  owner: string | null,
  model: string,
  cost: number | null,
  daysAgo = 0,
  seconds = 2,
) {
  const job = await insertJob(t.deps.db, {
    id: crypto.randomUUID(),
    prompt: "p",
    model,
    parameters: {},
    provider: model.startsWith("local/") ? "local" : "replicate",
    owner_key_id: owner,
  });
  await markProcessing(t.deps.db, job.id);
  await t.deps.db.query(sql`UPDATE jobs SET predictions = 1 WHERE id = ${job.id}`);
  if (cost === null) {
    await markFailed(t.deps.db, job.id, "canceled", "canceled");
  } else {
    await markCompleted(t.deps.db, job.id, [], { predictTimeS: seconds, costUsd: cost });
  }
  const at = new Date(Date.now() - daysAgo * DAY);
  await t.deps.db.query(sql`UPDATE jobs SET created_at = ${at} WHERE id = ${job.id}`);
  return job.id;
}

function range(days = 3) {
  const to = new Date(Date.now() + 60_000);
  const from = new Date(to.getTime() - days * DAY);
  return `from=${encodeURIComponent(from.toISOString())}&to=${
    encodeURIComponent(to.toISOString())
  }`;
}

withUsage(
  "usage: a key sees its own spend by day and model; an admin sees every key",
  "api_key",
  async (t) => {
    await spent(t, t.ids.alice, "acme/painter", 0.02, 0);
    await spent(t, t.ids.alice, "acme/painter", 0.04, 1);
    await spent(t, t.ids.alice, "local/aurora", 0, 1);
    await spent(t, t.ids.alice, "acme/painter", null, 0);
    await spent(t, t.ids.bob, "acme/other", 0.5, 0);
    await updateSpendSettings(t.deps.db, t.ids.alice, { budgetUsd: 10 });

    let res = await t.get(`?${range()}`, t.keys.alice);
    assert.equal(res.status, 200);
    let u = await res.json();
    assert.equal(u.key, t.ids.alice);
    assert.equal(u.group_by, "day");
    assert.equal(u.estimate, true);
    assert.equal(u.currency, "USD");
    assert.equal(u.total_usd, 0.06);
    assert.equal(u.jobs, 4);
    assert.equal(u.unpriced_jobs, 1);
    assert.equal(u.predictions, 4);
    assert.equal(u.predict_time_s, 6);
    assert.equal(u.groups.length, 2);
    const today = new Date().toISOString().slice(0, 10);
    const yesterday = new Date(Date.now() - DAY).toISOString().slice(0, 10);
    assert.deepEqual(u.groups.map((g: { day: string }) => g.day), [yesterday, today]);
    assert.equal(u.groups[1].total_usd, 0.02);
    assert.equal(u.budget.budget_usd, 10);
    assert.equal(u.budget.month, today.slice(0, 7));

    u = await (await t.get(`?${range()}&group_by=model`, t.keys.alice)).json();
    assert.deepEqual(
      u.groups.map((
        g: { model: string; total_usd: number; jobs: number },
      ) => [g.model, g.total_usd, g.jobs]),
      [["acme/painter", 0.06, 3], ["local/aurora", 0, 1]],
    );

    // Another key's usage is the admin's to read.
    res = await t.get(`?key=${t.ids.bob}`, t.keys.alice);
    assert.equal(res.status, 403);
    assert.equal((await res.json()).error.code, "forbidden");
    assert.equal((await t.get(`?key=${t.ids.alice}&${range()}`, t.keys.alice)).status, 200);

    u = await (await t.get(`?${range()}&group_by=key`, t.keys.admin)).json();
    assert.equal(u.key, null);
    assert.equal(u.budget.budget_usd, null, "the admin key's own budget: none");
    assert.equal(u.total_usd, 0.56);
    assert.deepEqual(
      u.groups.map((g: { name: string; total_usd: number }) => [g.name, g.total_usd]).sort(),
      [["alice", 0.06], ["bob", 0.5]],
    );
    u = await (await t.get(`?${range()}&key=${t.ids.bob}`, t.keys.admin)).json();
    assert.equal(u.total_usd, 0.5);
    assert.equal(u.budget.budget_usd, null);

    // The range bounds what counts: yesterday's jobs are out of a range that starts today.
    const todayOnly = `from=${today}&to=${new Date(Date.now() + DAY).toISOString().slice(0, 10)}`;
    u = await (await t.get(`?${todayOnly}`, t.keys.alice)).json();
    assert.equal(u.total_usd, 0.02);
    assert.equal(u.jobs, 2);
    assert.equal((await t.get("")).status, 401);
  },
);

withUsage("usage: the open API reports the whole instance", "none", async (t) => {
  await spent(t, null, "acme/painter", 0.03);
  await spent(t, t.ids.bob, "acme/painter", 0.01);
  const u = await (await t.get(`?${range()}`)).json();
  assert.equal(u.key, null);
  assert.equal(u.total_usd, 0.04);
  assert.equal(u.jobs, 2);
  assert.equal(u.budget, null);
  // The default range is this month so far.
  const month = await (await t.get("")).json();
  assert.equal(month.from.slice(0, 10), `${new Date().toISOString().slice(0, 7)}-01`);
});

withUsage("usage: bad parameters are 422, never 500", "none", async (t) => {
  const bad = [
    "?group_by=week",
    "?from=yesterday",
    "?from=2026-02-30",
    "?from=2026-01-01T00:00:00",
    "?to=%00",
    "?from=2026-01-02&to=2026-01-01",
    "?from=2020-01-01&to=2026-01-01",
    "?key=nope",
    `?from=${"9".repeat(500)}`,
    "?from=-271821-04-19",
  ];
  for (const q of bad) {
    const res = await t.get(q);
    assert.equal(res.status, 422, q);
    assert.equal((await res.json()).error.code, "validation_error", q);
  }
  assert.equal((await t.get("?from=2026-01-01T00:00:00%2B02:00&to=2026-01-02")).status, 200);
});
