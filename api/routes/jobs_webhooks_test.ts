/**
 * Outgoing webhooks as the API sees them: which webhook_url a submit accepts, and
 * `GET /jobs/{id}/webhooks` listing the deliveries a job's terminal states record (completed by a
 * worker, or canceled here). Sending them: worker/webhook_delivery_test.ts.
 */
import assert from "node:assert/strict";
import { createSafeFetch } from "../../shared/http/safe_fetch.ts";
import { markCompleted, markProcessing } from "../../shared/jobs/repo.ts";
import { dispatchDue } from "../../shared/webhooks/deliveries.ts";
import { createTestDeps } from "../../shared/testing/app_deps.ts";
import { createApp } from "../app.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };
const SECRET = `whsec_${btoa("darkroom-test-secret-32-bytes!!!")}`;
/** An allowed receiver; nothing is sent to it here. */
const HOST = "127.0.0.1:9";

Deno.test({
  name: "webhooks out: plain http only to allowed hosts; a job's deliveries are listed",
  ...opts,
  fn: async () => {
    const deps = await createTestDeps();
    try {
      const app = createApp({
        ...deps,
        config: { ...deps.config, WEBHOOK_SECRET: SECRET, WEBHOOK_ALLOW_HOSTS: [HOST] },
      });
      const submit = (extra: Record<string, unknown>) =>
        app.request("/api/v1/generate", {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ prompt: "hook", model: "local/abstract", ...extra }),
        });
      const refused = await submit({ webhook_url: "http://example.com/hook" });
      assert.equal(refused.status, 422, "plain http to a host that is not allowed");
      await refused.body?.cancel();
      const res = await submit({
        webhook_url: `http://${HOST}/hook`,
        parameters: { width: 64, height: 64 },
      });
      assert.equal(res.status, 202);
      const { job_id } = await res.json();
      assert.deepEqual(await (await app.request(`/api/v1/jobs/${job_id}/webhooks`)).json(), []);

      // The job ends as a worker leaves it: its completion is recorded for delivery.
      await markProcessing(deps.db, job_id);
      await markCompleted(deps.db, job_id, []);
      const deliveries = await (await app.request(`/api/v1/jobs/${job_id}/webhooks`)).json();
      assert.equal(deliveries.length, 1);
      assert.equal(deliveries[0].event, "completed");
      assert.equal(deliveries[0].url, `http://${HOST}/hook`);
      assert.equal(deliveries[0].state, "pending");
      assert.equal(deliveries[0].attempts, 0);
      assert.equal(deliveries[0].last_status, null);
      assert.ok(Date.parse(deliveries[0].next_attempt_at) > 0);
      assert.equal(deliveries[0].delivered_at, null);

      // A cancel is a terminal state too; the event filter can leave it out.
      const quiet = await (await submit({
        webhook_url: `http://${HOST}/hook`,
        webhook_events: ["completed"],
      })).json();
      const canceledQuiet = await app.request(`/api/v1/jobs/${quiet.job_id}/cancel`, {
        method: "POST",
      });
      assert.equal(canceledQuiet.status, 200);
      await canceledQuiet.body?.cancel();
      const loud = await (await submit({ webhook_url: `http://${HOST}/hook` })).json();
      const canceledLoud = await app.request(`/api/v1/jobs/${loud.job_id}/cancel`, {
        method: "POST",
      });
      assert.equal(canceledLoud.status, 200);
      await canceledLoud.body?.cancel();
      assert.deepEqual(
        await (await app.request(`/api/v1/jobs/${quiet.job_id}/webhooks`)).json(),
        [],
      );
      const loudDeliveries = await (await app.request(`/api/v1/jobs/${loud.job_id}/webhooks`))
        .json();
      assert.deepEqual(loudDeliveries.map((d: { event: string }) => d.event), ["canceled"]);
    } finally {
      await deps.cleanup();
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
