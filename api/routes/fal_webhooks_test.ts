import assert from "node:assert/strict";
import { Hono } from "hono";
import { insertJob, markProcessing, setPrediction } from "../../shared/jobs/repo.ts";
import { silentLogger } from "../../shared/logger.ts";
import { createTestDb } from "../../shared/testing/db.ts";
import { type FakeFal, startFakeFal } from "../../shared/testing/fake_fal.ts";
import { withTimeout } from "../../shared/timeout.ts";
import { PREDICTION_CHANNEL } from "../../shared/webhooks/receipts.ts";
import type { AppEnv } from "../app.ts";
import { handleError } from "../http_errors.ts";
import { type FalWebhookDeps, falWebhookRoutes } from "./fal_webhooks.ts";

const PATH = "/api/v1/webhooks/fal";
const opts = { sanitizeOps: false, sanitizeResources: false };

function mount(deps: FalWebhookDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.onError((err, c) => handleError(err, c, silentLogger));
  app.route("/api/v1", falWebhookRoutes(deps));
  return app;
}

async function post(app: Hono<AppEnv>, body: string, headers: Record<string, string>) {
  const res = await app.request(PATH, { method: "POST", headers, body });
  return { status: res.status, json: await res.json() };
}

Deno.test({
  name:
    "fal webhooks: a signed delivery wakes the worker; bad signatures and old timestamps are refused",
  ...opts,
  fn: async () => {
    const t = await createTestDb();
    const fake: FakeFal = await startFakeFal();
    try {
      const app = mount({
        db: t.db,
        logger: silentLogger,
        falKey: fake.key,
        jwksUrl: fake.jwksUrl,
      });
      const job = await insertJob(t.db, {
        id: crypto.randomUUID(),
        prompt: "a lighthouse",
        model: "fal:fal-ai/flux/schnell",
        parameters: {},
        provider: "fal",
      });
      await markProcessing(t.db, job.id);
      const requestId = crypto.randomUUID();
      await setPrediction(t.db, job.id, requestId);
      const body = JSON.stringify({
        request_id: requestId,
        gateway_request_id: requestId,
        status: "OK",
        payload: { images: [{ url: "https://v3.fal.media/files/x.png", width: 64, height: 64 }] },
      });

      // Valid: accepted, and the worker waiting on the request hears of it.
      const woken = Promise.withResolvers<string>();
      const unlisten = await t.db.listen(PREDICTION_CHANNEL, (payload) => woken.resolve(payload));
      try {
        const ok = await post(app, body, await fake.signWebhook(body, { requestId }));
        assert.deepEqual(ok, { status: 200, json: { status: "accepted" } });
        assert.equal(await withTimeout(woken.promise, 2000, "no NOTIFY"), requestId);
      } finally {
        await unlisten();
      }
      // fal retries deliveries: the same request again is a duplicate.
      const again = await post(app, body, await fake.signWebhook(body, { requestId }));
      assert.equal(again.json.status, "duplicate");

      // Bad signature: the body changed after signing, or a signature of another request.
      const headers = await fake.signWebhook(body, { requestId });
      const tampered = await post(app, body.replace('"OK"', '"ERROR"'), headers);
      assert.equal(tampered.status, 401);
      assert.equal(tampered.json.error.code, "invalid_signature");
      const otherId = crypto.randomUUID();
      const swapped = await post(app, body, {
        ...headers,
        "x-fal-webhook-request-id": otherId,
      });
      assert.equal(swapped.status, 401);
      const garbage = await post(app, body, { ...headers, "x-fal-webhook-signature": "zz" });
      assert.equal(garbage.status, 401);

      // Old timestamp: refused even with a valid signature.
      const old = Math.floor(Date.now() / 1000) - 600;
      const stale = await post(
        app,
        body,
        await fake.signWebhook(body, { requestId, timestamp: old }),
      );
      assert.equal(stale.status, 401);
      assert.match(stale.json.error.message, /more than 300 s/);

      // Missing headers.
      const bare = await post(app, body, { "content-type": "application/json" });
      assert.equal(bare.status, 401);

      // A signed body about another request than the signed one.
      const mismatched = JSON.stringify({ request_id: otherId, status: "OK" });
      const wrongBody = await post(
        app,
        mismatched,
        await fake.signWebhook(mismatched, { requestId }),
      );
      assert.equal(wrongBody.status, 422);

      // A request nobody waits on is ignored.
      const unknown = crypto.randomUUID();
      const stray = JSON.stringify({ request_id: unknown, status: "ERROR", error: "boom" });
      const ignored = await post(app, stray, await fake.signWebhook(stray, { requestId: unknown }));
      assert.equal(ignored.json.status, "ignored");

      // The keys were fetched once and cached.
      assert.equal(fake.requestsTo("GET", "/.well-known/jwks.json").length, 1);
    } finally {
      await fake.close();
      await t.cleanup();
    }
  },
});

Deno.test({
  name: "fal webhooks: 404 while fal is off, 503 while its keys cannot be read",
  ...opts,
  fn: async () => {
    const t = await createTestDb();
    const fake = await startFakeFal();
    try {
      const body = JSON.stringify({ request_id: "r", status: "OK" });
      const headers = await fake.signWebhook(body, { requestId: "r" });
      const off = mount({
        db: t.db,
        logger: silentLogger,
        falKey: undefined,
        jwksUrl: fake.jwksUrl,
      });
      assert.equal((await post(off, body, headers)).status, 404);
      const broken = mount({
        db: t.db,
        logger: silentLogger,
        falKey: "k",
        jwksUrl: `${fake.origin}/nowhere.json`,
      });
      assert.equal((await post(broken, body, headers)).status, 503);
    } finally {
      await fake.close();
      await t.cleanup();
    }
  },
});
