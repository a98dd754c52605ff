/**
 * Outgoing webhooks end to end: a job with webhook_url completes → a signed POST reaches a real
 * receiver that verifies it the way the README tells integrators to (written here from the docs,
 * not with Darkroom's own verifier); failures are retried and recorded.
 */
import assert from "node:assert/strict";
import { createApp } from "../api/app.ts";
import { sql } from "../shared/db/db.ts";
import { createSafeFetch } from "../shared/http/safe_fetch.ts";
import { createTestDeps } from "../shared/testing/app_deps.ts";
import { dispatchDue, MAX_ATTEMPTS } from "../shared/webhooks/deliveries.ts";
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
      const app = createApp({
        ...deps,
        config: { ...deps.config, WEBHOOK_SECRET: SECRET, WEBHOOK_ALLOW_HOSTS: [host] },
      });
      const submit = (extra: Record<string, unknown>) =>
        app.request("/api/v1/generate", {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ prompt: "hook", model: "local/abstract", ...extra }),
        });
      const refused = await submit({ webhook_url: "http://example.com/hook" });
      assert.equal(refused.status, 422, "plain http to a host that is not allowed");
      const res = await submit({
        webhook_url: `http://${host}/hook`,
        parameters: { width: 64, height: 64 },
      });
      assert.equal(res.status, 202);
      const { job_id } = await res.json();
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
      let deliveries = await (await app.request(`/api/v1/jobs/${job_id}/webhooks`)).json();
      assert.equal(deliveries.length, 1);
      assert.equal(deliveries[0].state, "pending");
      assert.equal(deliveries[0].last_status, 503);
      assert.equal(deliveries[0].attempts, 1);
      // Make the retry due now, then it succeeds.
      await deps.db.query(sql`UPDATE webhook_deliveries SET next_attempt_at = now()`);
      assert.equal(await dispatchDue(dispatch), 1);
      deliveries = await (await app.request(`/api/v1/jobs/${job_id}/webhooks`)).json();
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
      const quiet = await (await submit({
        webhook_url: `http://${host}/hook`,
        webhook_events: ["completed"],
      })).json();
      await app.request(`/api/v1/jobs/${quiet.job_id}/cancel`, { method: "POST" });
      const loud = await (await submit({ webhook_url: `http://${host}/hook` })).json();
      await app.request(`/api/v1/jobs/${loud.job_id}/cancel`, { method: "POST" });
      assert.equal(await dispatchDue(dispatch), 1);
      assert.equal(JSON.parse(received.at(-1)!.body).type, "job.canceled");
      assert.equal(JSON.parse(received.at(-1)!.body).data.id, loud.job_id);

      // A receiver that never accepts: the delivery fails for good after the last attempt.
      const dead = await (await submit({ webhook_url: `http://${host}/hook` })).json();
      await app.request(`/api/v1/jobs/${dead.job_id}/cancel`, { method: "POST" });
      failNext = 100;
      for (let i = 0; i < MAX_ATTEMPTS; i++) {
        await deps.db.query(sql`UPDATE webhook_deliveries SET next_attempt_at = now()
                                WHERE state = 'pending'`);
        await dispatchDue(dispatch);
      }
      const final = await (await app.request(`/api/v1/jobs/${dead.job_id}/webhooks`)).json();
      assert.equal(final[0].state, "failed");
      assert.equal(final[0].attempts, MAX_ATTEMPTS);
      assert.match(final[0].last_error, /503/);
    } finally {
      await deps.cleanup();
      await receiver.shutdown();
    }
  },
});

Deno.test({
  name: "webhooks out: without a key or WEBHOOK_SECRET a webhook_url is refused with a clear 422",
  ...opts,
  fn: async () => {
    const deps = await createTestDeps();
    try {
      const res = await createApp(deps).request("/api/v1/generate", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({
          prompt: "x",
          model: "local/abstract",
          webhook_url: "https://hooks.example.com/x",
        }),
      });
      assert.equal(res.status, 422);
      assert.match((await res.json()).error.message, /WEBHOOK_SECRET/);
    } finally {
      await deps.cleanup();
    }
  },
});

Deno.test({
  name: "webhooks out: private targets get 422 at submit; one refused at delivery fails for good",
  ...opts,
  fn: async () => {
    const deps = await createTestDeps();
    try {
      const app = createApp({ ...deps, config: { ...deps.config, WEBHOOK_SECRET: SECRET } });
      const submit = (webhook_url: string) =>
        app.request("/api/v1/generate", {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ prompt: "hook", model: "local/abstract", webhook_url }),
        });
      for (
        const url of [
          "https://127.0.0.1/",
          "https://10.0.0.1/",
          "https://2130706433/",
          "https://[::1]/",
          "https://[::ffff:169.254.169.254]/",
          "https://[fd00::1]/",
          "https://localhost/",
          "https://x.localhost/",
        ]
      ) {
        const res = await submit(url);
        assert.equal(res.status, 422, url);
        const body = await res.json();
        assert.equal(body.error.details[0].field, "webhook_url");
        assert.match(body.error.message, /private, loopback or reserved/);
      }

      // A public-looking name that resolves to a private address is refused at delivery: the
      // delivery fails at once, for good, without the DNS answer in what the tenant can read.
      const rebinding = await (await submit("https://hooks.example.com/x")).json();
      const unresolved = await (await submit("https://gone.example.com/x")).json();
      for (const id of [rebinding.job_id, unresolved.job_id]) {
        await app.request(`/api/v1/jobs/${id}/cancel`, { method: "POST" });
      }
      const dispatch = {
        db: deps.db,
        logger: deps.logger,
        send: createSafeFetch({
          timeoutMs: 2000,
          resolve: (host: string) =>
            host === "hooks.example.com"
              ? Promise.resolve(["10.1.2.3"])
              : Promise.reject(new Error("no such host")),
        }),
        defaultSecret: SECRET,
      };
      assert.equal(await dispatchDue(dispatch), 2);
      const [refused] = await (await app.request(`/api/v1/jobs/${rebinding.job_id}/webhooks`))
        .json();
      assert.equal(refused.state, "failed");
      assert.equal(refused.attempts, 1);
      assert.equal(refused.last_error, "Refused: the receiver is on a private or reserved address");
      const [retrying] = await (await app.request(`/api/v1/jobs/${unresolved.job_id}/webhooks`))
        .json();
      assert.equal(retrying.state, "pending", "a DNS failure may pass: it is retried");
      assert.equal(retrying.last_error, "Cannot resolve the receiver's host");
    } finally {
      await deps.cleanup();
    }
  },
});
