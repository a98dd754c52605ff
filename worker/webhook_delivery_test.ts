/**
 * Outgoing webhooks end to end: a job with webhook_url completes → a signed POST reaches a real
 * receiver that verifies it the way the README tells integrators to (written here from the docs,
 * not with Darkroom's own verifier); failures are retried and recorded. (What the API checks of a
 * webhook_url, and how it lists deliveries: api/routes/jobs_webhooks_test.ts.)
 */
import assert from "node:assert/strict";
import { sql } from "../shared/db/db.ts";
import { createSafeFetch } from "../shared/http/safe_fetch.ts";
import { createApiKey } from "../shared/auth/api_keys.ts";
import { cancelJob, insertJob, markCompleted, markProcessing } from "../shared/jobs/repo.ts";
import { updateSpendSettings } from "../shared/spend/budgets.ts";
import { createTestDeps } from "../shared/testing/app_deps.ts";
import { dispatchDue, listDeliveries, MAX_ATTEMPTS } from "../shared/webhooks/deliveries.ts";
import { processJob } from "./process_job.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };
const SECRET = `whsec_${btoa("darkroom-test-secret-32-bytes!!!")}`;

/** The receiver from the README: HMAC-SHA256 over `${id}.${timestamp}.${body}`. */
async function verifyLikeTheDocs(secret: string, headers: Headers, body: string): Promise<boolean> {
  const id = headers.get("webhook-id")!;
  const timestamp = headers.get("webhook-timestamp")!;
  if (Math.abs(Date.now() / 1000 - Number(timestamp)) > 300) return false;
  const key = await crypto.subtle.importKey(
    "raw",
    Uint8Array.from(atob(secret.slice("whsec_".length)), (c) => c.charCodeAt(0)),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  const mac = new Uint8Array(
    await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(`${id}.${timestamp}.${body}`)),
  );
  const expected = `v1,${btoa(String.fromCharCode(...mac))}`;
  return headers.get("webhook-signature")!.split(" ").includes(expected);
}

Deno.test({
  name: "webhooks out: signed delivery on completion, verifiable by a receiver built from the docs",
  ...opts,
  fn: async () => {
    const received: { body: string; ok: boolean }[] = [];
    let failNext = 0;
    const receiver = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
      const body = await req.text();
      received.push({ body, ok: await verifyLikeTheDocs(SECRET, req.headers, body) });
      if (failNext > 0) {
        failNext--;
        return new Response("busy", { status: 503 });
      }
      return new Response("ok");
    });
    const host = `127.0.0.1:${receiver.addr.port}`;
    const deps = await createTestDeps();
    try {
      // Jobs as the API stores them for a submit with a webhook_url (and an event filter).
      const submit = (extra: { webhook_url: string; webhook_events?: string[] }) =>
        insertJob(deps.db, {
          id: crypto.randomUUID(),
          prompt: "hook",
          model: "local/abstract",
          parameters: { width: 64, height: 64 },
          provider: "local",
          ...extra,
        });
      const { id: job_id } = await submit({ webhook_url: `http://${host}/hook` });
      await processJob(deps, { jobId: job_id }, {
        attempt: 1,
        maxAttempts: 3,
        signal: new AbortController().signal,
        pauseAll: () => Promise.resolve(),
      });
      const dispatch = {
        db: deps.db,
        logger: deps.logger,
        send: createSafeFetch({ allowHosts: [host], timeoutMs: 5000 }),
        defaultSecret: SECRET,
      };
      failNext = 1;
      assert.equal(await dispatchDue(dispatch), 1);
      let deliveries = await listDeliveries(deps.db, job_id);
      assert.equal(deliveries.length, 1);
      assert.equal(deliveries[0].state, "pending");
      assert.equal(deliveries[0].last_status, 503);
      assert.equal(deliveries[0].attempts, 1);
      // Make the retry due now, then it succeeds.
      await deps.db.query(sql`UPDATE webhook_deliveries SET next_attempt_at = now()`);
      assert.equal(await dispatchDue(dispatch), 1);
      deliveries = await listDeliveries(deps.db, job_id);
      assert.equal(deliveries[0].state, "delivered");
      assert.equal(deliveries[0].attempts, 2);
      assert.equal(received.length, 2);
      assert.ok(received.every((r) => r.ok), "every delivery verifies");
      const payload = JSON.parse(received[1].body);
      assert.equal(payload.type, "job.completed");
      assert.equal(payload.data.id, job_id);
      assert.equal(payload.data.status, "completed");
      assert.equal(await dispatchDue(dispatch), 0, "nothing more is due");

      // A cancel is a terminal state too; the event filter can leave it out.
      const quiet = await submit({
        webhook_url: `http://${host}/hook`,
        webhook_events: ["completed"],
      });
      await cancelJob(deps.db, quiet.id);
      const loud = await submit({ webhook_url: `http://${host}/hook` });
      await cancelJob(deps.db, loud.id);
      assert.equal(await dispatchDue(dispatch), 1);
      assert.equal(JSON.parse(received.at(-1)!.body).type, "job.canceled");
      assert.equal(JSON.parse(received.at(-1)!.body).data.id, loud.id);

      // A receiver that never accepts: the delivery fails for good after the last attempt.
      const dead = await submit({ webhook_url: `http://${host}/hook` });
      await cancelJob(deps.db, dead.id);
      failNext = 100;
      for (let i = 0; i < MAX_ATTEMPTS; i++) {
        await deps.db.query(sql`UPDATE webhook_deliveries SET next_attempt_at = now()
                                WHERE state = 'pending'`);
        await dispatchDue(dispatch);
      }
      const final = await listDeliveries(deps.db, dead.id);
      assert.equal(final[0].state, "failed");
      assert.equal(final[0].attempts, MAX_ATTEMPTS);
      assert.match(final[0].last_error ?? "", /503/);
    } finally {
      await deps.cleanup();
      await receiver.shutdown();
    }
  },
});

Deno.test({
  name: "webhooks out: budget.warning is signed with the key's secret and carries the figures",
  ...opts,
  fn: async () => {
    const received: { body: string; ok: boolean }[] = [];
    const deps = await createTestDeps();
    let secret = "";
    const receiver = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
      const body = await req.text();
      received.push({ body, ok: await verifyLikeTheDocs(secret, req.headers, body) });
      return new Response("ok");
    });
    const host = `127.0.0.1:${receiver.addr.port}`;
    try {
      const { record } = await createApiKey(deps.db, { name: "spender" });
      secret = record.webhook_secret;
      await updateSpendSettings(deps.db, record.id, {
        budgetUsd: 1,
        warnAt: [0.8],
        webhookUrl: `http://${host}/budget`,
      });
      const job = await insertJob(deps.db, {
        id: crypto.randomUUID(),
        prompt: "pricey",
        model: "acme/painter",
        parameters: {},
        provider: "replicate",
        owner_key_id: record.id,
        reserved_usd: 0.9,
      });
      await markProcessing(deps.db, job.id);
      await markCompleted(deps.db, job.id, [], { predictTimeS: 3, costUsd: 0.85 });
      const send = createSafeFetch({ allowHosts: [host], timeoutMs: 5000 });
      assert.equal(await dispatchDue({ db: deps.db, logger: deps.logger, send }), 1);
      assert.equal(received.length, 1);
      assert.ok(received[0].ok, "the signature verifies with the key's webhook secret");
      const body = JSON.parse(received[0].body);
      assert.equal(body.type, "budget.warning");
      assert.equal(body.data.threshold, 0.8);
      assert.equal(body.data.spent_usd, 0.85);
      assert.equal(body.data.budget_usd, 1);
      assert.deepEqual(body.data.key, { id: record.id, name: "spender", prefix: record.prefix });
      const [row] = await deps.db.query<{ state: string }>(
        sql`SELECT state FROM webhook_deliveries WHERE key_id = ${record.id}`,
      );
      assert.equal(row.state, "delivered");
    } finally {
      await receiver.shutdown();
      await deps.cleanup();
    }
  },
});
