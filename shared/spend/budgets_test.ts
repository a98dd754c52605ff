import assert from "node:assert/strict";
import { createApiKey } from "../auth/api_keys.ts";
import { sql } from "../db/db.ts";
import {
  addJob,
  cancelJob,
  deleteJob,
  getJob,
  markCompleted,
  markFailed,
  markProcessing,
  type NewJob,
  resetForRetry,
} from "../jobs/repo.ts";
import { createTestDb, type TestDb } from "../testing/db.ts";
import {
  budgetErrorOf,
  monthOf,
  parseBudgetUsd,
  parseWarnAt,
  parseWebhookUrl,
  readKeyBudget,
  updateSpendSettings,
} from "./budgets.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

function withDb(name: string, fn: (t: TestDb, key: string) => Promise<void>) {
  Deno.test({
    name,
    ...opts,
    fn: async () => {
      const t = await createTestDb();
      try {
        const { record } = await createApiKey(t.db, { name: "spender" });
        await fn(t, record.id);
      } finally {
        await t.cleanup();
      }
    },
  });
}

function job(owner: string | null, reserved: number): NewJob {
  return {
    id: crypto.randomUUID(),
    prompt: "a lighthouse",
    model: "acme/painter",
    parameters: {},
    provider: "replicate",
    owner_key_id: owner,
    reserved_usd: reserved,
  };
}

/** Inserts a job; the 402 error when its reservation is refused. */
async function submit(t: TestDb, j: NewJob) {
  try {
    await addJob(t.db, j);
    return null;
  } catch (err) {
    const refused = budgetErrorOf(err);
    if (!refused) throw err;
    return refused;
  }
}

withDb(
  "budgets: a reservation past the budget is refused and nothing is stored",
  async (t, key) => {
    assert.equal(await updateSpendSettings(t.db, key, { budgetUsd: 0.1 }), 1);
    const first = job(key, 0.06);
    assert.equal(await submit(t, first), null);
    let budget = await readKeyBudget(t.db, key);
    assert.deepEqual(
      { spent: budget?.spent_usd, reserved: budget?.reserved_usd, left: budget?.remaining_usd },
      { spent: 0, reserved: 0.06, left: 0.04 },
    );
    assert.equal(budget?.month, monthOf());

    const second = job(key, 0.05);
    const refused = await submit(t, second);
    assert.ok(refused, "over the budget");
    assert.equal(refused.status, 402);
    assert.equal(refused.code, "budget_exceeded");
    assert.deepEqual(refused.details, {
      budget_usd: 0.1,
      spent_usd: 0,
      reserved_usd: 0.06,
      estimate_usd: 0.05,
      month: monthOf(),
    });
    assert.match(refused.message, /estimated \$0\.05.*budget of \$0\.10/);
    assert.equal(await getJob(t.db, second.id), null, "the refused job was not stored");
    budget = await readKeyBudget(t.db, key);
    assert.equal(budget?.reserved_usd, 0.06, "the refused reservation left nothing behind");

    // Exactly up to the budget is fine.
    assert.equal(await submit(t, job(key, 0.04)), null);
    assert.equal((await readKeyBudget(t.db, key))?.remaining_usd, 0);
    // A free job is never refused, and keys without a budget only keep count.
    assert.equal(await submit(t, job(key, 0)), null);
    await updateSpendSettings(t.db, key, { budgetUsd: null });
    assert.equal(await submit(t, job(key, 5)), null);
    assert.equal((await readKeyBudget(t.db, key))?.remaining_usd, null);
  },
);

withDb(
  "budgets: completion settles the estimate; failure, cancel and delete release it",
  async (t, key) => {
    await updateSpendSettings(t.db, key, { budgetUsd: 1 });
    const done = job(key, 0.1);
    const failed = job(key, 0.1);
    const canceled = job(key, 0.1);
    const deleted = job(key, 0.1);
    for (const j of [done, failed, canceled, deleted]) assert.equal(await submit(t, j), null);
    assert.equal((await readKeyBudget(t.db, key))?.reserved_usd, 0.4);

    await markProcessing(t.db, done.id);
    const completed = await markCompleted(t.db, done.id, [], { predictTimeS: 2.5, costUsd: 0.07 });
    assert.equal(completed?.cost_usd, 0.07);
    assert.equal(completed?.predict_time_s, 2.5);
    assert.equal(completed?.reserved_usd, 0);
    let budget = await readKeyBudget(t.db, key);
    assert.deepEqual([budget?.spent_usd, budget?.reserved_usd], [0.07, 0.3]);

    // A failed prediction may have run: what it cost is spent, the rest released.
    await markFailed(t.db, failed.id, "boom", "failed", { predictTimeS: 1, costUsd: 0.01 });
    await cancelJob(t.db, canceled.id);
    await deleteJob(t.db, deleted.id);
    budget = await readKeyBudget(t.db, key);
    assert.deepEqual([budget?.spent_usd, budget?.reserved_usd], [0.08, 0]);

    // A retry reserves again (this month), and is refused past the budget.
    await updateSpendSettings(t.db, key, { budgetUsd: 0.1 });
    const retried = await resetForRetry(t.db, failed.id, 0.02);
    assert.equal(retried?.reserved_usd, 0.02);
    assert.equal((await readKeyBudget(t.db, key))?.reserved_usd, 0.02);
    await cancelJob(t.db, failed.id);
    const refused = await resetForRetry(t.db, failed.id, 0.05).then(() => null, budgetErrorOf);
    assert.equal(refused?.status, 402);
    assert.equal((await getJob(t.db, failed.id))?.status, "canceled", "the retry was undone");
    // A job's cost is the sum of its runs.
    await resetForRetry(t.db, failed.id, 0.01);
    await markProcessing(t.db, failed.id);
    const again = await markCompleted(t.db, failed.id, [], { predictTimeS: 1, costUsd: 0.005 });
    assert.equal(again?.cost_usd, 0.015);
    assert.equal(again?.predict_time_s, 2);
    budget = await readKeyBudget(t.db, key);
    assert.deepEqual([budget?.spent_usd, budget?.reserved_usd], [0.085, 0]);
  },
);

withDb(
  "budgets: crossing a warn_at share records one budget.warning for the key",
  async (t, key) => {
    await updateSpendSettings(t.db, key, {
      budgetUsd: 1,
      warnAt: [0.5, 0.8],
      webhookUrl: "https://hooks.example.com/budget",
    });
    const deliveries = () =>
      t.db.query<
        {
          event: string;
          url: string;
          key_id: string;
          job_id: string | null;
          payload: Record<string, unknown>;
        }
      >(
        sql`SELECT event, url, key_id, job_id, payload FROM webhook_deliveries ORDER BY created_at`,
      );
    const spend = async (cost: number) => {
      const j = job(key, cost);
      await addJob(t.db, j);
      await markProcessing(t.db, j.id);
      await markCompleted(t.db, j.id, [], { predictTimeS: 1, costUsd: cost });
    };
    await spend(0.3);
    assert.equal((await deliveries()).length, 0, "30 %: nothing yet");
    await spend(0.25);
    let sent = await deliveries();
    assert.equal(sent.length, 1, "55 %: past 0.5");
    assert.equal(sent[0].event, "budget.warning");
    assert.equal(sent[0].url, "https://hooks.example.com/budget");
    assert.equal(sent[0].key_id, key);
    assert.equal(sent[0].job_id, null);
    assert.equal(sent[0].payload.threshold, 0.5);
    assert.equal(Number(sent[0].payload.spent_usd), 0.55);
    assert.equal(sent[0].payload.month, monthOf());
    assert.equal((sent[0].payload.key as { id: string }).id, key);
    await spend(0.1);
    assert.equal((await deliveries()).length, 1, "65 %: 0.5 was announced already");
    await spend(0.3);
    sent = await deliveries();
    assert.equal(sent.length, 2, "95 %: past 0.8");
    assert.equal(sent[1].payload.threshold, 0.8);
    // Without a webhook target the share is still noted, but nothing is sent.
    await updateSpendSettings(t.db, key, { webhookUrl: null, warnAt: [0.5, 0.8, 1] });
    await spend(0.05);
    assert.equal((await deliveries()).length, 2);
    const [row] = await t.db.query<{ w: number }>(
      sql`SELECT warned_at::float8 AS w FROM key_spend WHERE key_id = ${key}`,
    );
    assert.equal(row.w, 1);
  },
);

Deno.test("budgets: the keys tool's flags", () => {
  assert.equal(parseBudgetUsd(undefined), undefined);
  assert.equal(parseBudgetUsd("20"), 20);
  assert.equal(parseBudgetUsd("7.50"), 7.5);
  assert.equal(parseBudgetUsd("none"), null);
  for (const bad of ["-1", "abc", "1e3", "1.1234567", ""]) {
    assert.throws(() => parseBudgetUsd(bad), /--budget-usd/, bad);
  }
  assert.deepEqual(parseWarnAt("1, 0.8,80%"), [0.8, 1]);
  assert.deepEqual(parseWarnAt("none"), []);
  assert.throws(() => parseWarnAt("1.5"), /--warn-at/);
  assert.throws(() => parseWarnAt("0"), /--warn-at/);
  assert.equal(parseWebhookUrl("https://a.example/x"), "https://a.example/x");
  assert.equal(parseWebhookUrl("none"), null);
  assert.throws(() => parseWebhookUrl("ftp://a"), /--webhook-url/);
});
