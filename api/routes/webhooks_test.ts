import assert from "node:assert/strict";
import { Hono } from "hono";
import { type Db, sql } from "../../shared/db/db.ts";
import {
  getJob,
  insertJob,
  type JobRow,
  markCompleted,
  markProcessing,
  setPrediction,
} from "../../shared/jobs/repo.ts";
import { silentLogger } from "../../shared/logger.ts";
import { createTestDb } from "../../shared/testing/db.ts";
import { withTimeout } from "../../shared/timeout.ts";
import { generateWebhookSecret, webhookHeaders } from "../../shared/webhooks/signature.ts";
import { PREDICTION_CHANNEL } from "../../shared/webhooks/receipts.ts";
import type { AppEnv } from "../app.ts";
import { handleError } from "../http_errors.ts";
import { MAX_WEBHOOK_BYTES, type WebhookDeps, webhookRoutes } from "./webhooks.ts";

const PATH = "/api/v1/webhooks/replicate";
const LOGS_40 =
  "Loading model\n  0%|          | 0/20 [00:00<?, ?it/s]\n 40%|████      | 8/20 [00:01<00:01, 8.0it/s]";
const LOGS_80 = `${LOGS_40}\n 80%|████████  | 16/20 [00:02<00:00, 8.0it/s]`;

interface Fixture {
  app: Hono<AppEnv>;
  db: Db;
  secret: string;
  /** A processing job waiting on prediction `predictionId`. */
  job: JobRow;
  predictionId: string;
}

/** The routes as createApp mounts them: under the prefix, errors answered by handleError. */
function mount(deps: WebhookDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.onError((err, c) => handleError(err, c, silentLogger));
  app.route("/api/v1", webhookRoutes(deps));
  return app;
}

async function withFixture(
  fn: (f: Fixture) => Promise<void>,
  options: { secret?: string } = {},
): Promise<void> {
  const t = await createTestDb();
  try {
    const secret = generateWebhookSecret();
    const app = mount({ db: t.db, logger: silentLogger, secret: options.secret ?? secret });
    const job = await insertJob(t.db, {
      id: crypto.randomUUID(),
      prompt: "a lighthouse at dusk",
      model: "black-forest-labs/flux-schnell",
      parameters: {},
      provider: "replicate",
    });
    await markProcessing(t.db, job.id);
    const predictionId = `pred${crypto.randomUUID().replaceAll("-", "")}`;
    await setPrediction(t.db, job.id, predictionId);
    await fn({ app, db: t.db, secret, job: (await getJob(t.db, job.id))!, predictionId });
  } finally {
    await t.cleanup();
  }
}

function prediction(id: string, fields: Record<string, unknown> = {}): string {
  return JSON.stringify({
    id,
    model: "black-forest-labs/flux-schnell",
    status: "processing",
    logs: LOGS_40,
    output: null,
    error: null,
    ...fields,
  });
}

interface SendOptions {
  id?: string;
  /** Unix seconds; now by default. */
  timestamp?: number;
  /** Sign with this secret instead of the fixture's. */
  signWith?: string;
  /** Header changes applied after signing (null deletes). */
  headers?: Record<string, string | null>;
}

async function send(f: Fixture, body: string, options: SendOptions = {}): Promise<Response> {
  const signed = await webhookHeaders(options.signWith ?? f.secret, body, {
    id: options.id,
    timestamp: options.timestamp,
  });
  const headers = new Headers({ "content-type": "application/json", ...signed });
  for (const [name, value] of Object.entries(options.headers ?? {})) {
    if (value === null) headers.delete(name);
    else headers.set(name, value);
  }
  return await f.app.request(PATH, { method: "POST", headers, body });
}

async function receipts(db: Db): Promise<number> {
  const [row] = await db.query<{ n: number }>(sql`SELECT count(*)::int AS n FROM webhook_receipts`);
  return row.n;
}

async function assertError(res: Response, status: number, code: string): Promise<void> {
  assert.equal(res.status, status);
  assert.match(res.headers.get("content-type") ?? "", /^application\/json/);
  const body = await res.json();
  assert.equal(body.error.code, code);
  assert.equal(typeof body.error.message, "string");
}

Deno.test("webhooks: a signed delivery raises the job's progress and nothing else", async () => {
  await withFixture(async (f) => {
    const res = await send(f, prediction(f.predictionId));
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { status: "accepted" });
    const after = await getJob(f.db, f.job.id);
    assert.equal(after?.progress, 40);
    assert.equal(after?.status, "processing");

    // Lower progress never moves it back; a succeeded prediction does not finish the job.
    const done = prediction(f.predictionId, {
      status: "succeeded",
      logs: "  10%|█         | 2/20 [00:00<00:02, 8.0it/s]",
      output: ["https://replicate.delivery/x/out-0.webp"],
    });
    assert.deepEqual(await (await send(f, done)).json(), { status: "accepted" });
    const last = await getJob(f.db, f.job.id);
    assert.equal(last?.progress, 40);
    assert.equal(last?.status, "processing");
    assert.deepEqual(last?.images, []);
    assert.equal(last?.error_message, null);
    assert.equal(last?.completed_at, null);
    assert.equal(last?.provider_prediction_id, f.predictionId);
    assert.equal(await receipts(f.db), 2);
  });
});

Deno.test("webhooks: forged, foreign-secret, expired and unsigned deliveries are 401", async () => {
  await withFixture(async (f) => {
    const body = prediction(f.predictionId);
    const now = Math.floor(Date.now() / 1000);
    const refused: SendOptions[] = [
      { headers: { "webhook-signature": `v1,${btoa("f".repeat(32))}` } },
      { signWith: generateWebhookSecret() },
      { timestamp: now - 600 },
      { timestamp: now + 600 },
      { headers: { "webhook-id": null } },
      { headers: { "webhook-timestamp": null } },
      { headers: { "webhook-signature": null } },
      { headers: { "webhook-timestamp": "yesterday" } },
    ];
    for (const options of refused) {
      const res = await send(f, body, { id: "msg_forged", ...options });
      await assertError(res, 401, "invalid_signature");
    }
    assert.equal((await getJob(f.db, f.job.id))?.progress, 0);
    assert.equal(await receipts(f.db), 0, "a refused delivery claims no webhook id");

    // So the genuine delivery with that id still goes through.
    const genuine = await send(f, body, { id: "msg_forged" });
    assert.deepEqual(await genuine.json(), { status: "accepted" });
    assert.equal((await getJob(f.db, f.job.id))?.progress, 40);
  });
});

Deno.test("webhooks: a body changed after signing is 401", async () => {
  await withFixture(async (f) => {
    const body = prediction(f.predictionId);
    const signed = await webhookHeaders(f.secret, body);
    const res = await f.app.request(PATH, {
      method: "POST",
      headers: signed as unknown as Record<string, string>,
      body: body.replace("40%", "41%"),
    });
    await assertError(res, 401, "invalid_signature");
    assert.equal((await getJob(f.db, f.job.id))?.progress, 0);
  });
});

Deno.test("webhooks: a replayed webhook-id is a duplicate and changes nothing", async () => {
  await withFixture(async (f) => {
    const first = await send(f, prediction(f.predictionId), { id: "msg_replay" });
    assert.deepEqual(await first.json(), { status: "accepted" });
    const again = await send(f, prediction(f.predictionId, { logs: LOGS_80 }), {
      id: "msg_replay",
    });
    assert.equal(again.status, 200);
    assert.deepEqual(await again.json(), { status: "duplicate" });
    assert.equal((await getJob(f.db, f.job.id))?.progress, 40);

    const next = await send(f, prediction(f.predictionId, { logs: LOGS_80 }), { id: "msg_next" });
    assert.deepEqual(await next.json(), { status: "accepted" });
    assert.equal((await getJob(f.db, f.job.id))?.progress, 80);
  });
});

Deno.test("webhooks: without a secret the endpoint is off (404)", async () => {
  for (const secret of [undefined, ""]) {
    const db = {} as Db; // never touched
    const app = mount({ db, logger: silentLogger, secret });
    const res = await app.request(PATH, { method: "POST", body: "{}" });
    await assertError(res, 404, "not_found");
  }
});

Deno.test("webhooks: a secret that is not whsec_<base64> is refused at construction", () => {
  const db = {} as Db;
  assert.throws(
    () => webhookRoutes({ db, logger: silentLogger, secret: "whsec_!!" }),
    TypeError,
  );
});

Deno.test("webhooks: a body over 1 MB is 413; exactly 1 MB is accepted", async () => {
  await withFixture(async (f) => {
    const base = prediction(f.predictionId, { padding: "" });
    const fits = base.replace(
      '"padding":""',
      `"padding":"${"x".repeat(MAX_WEBHOOK_BYTES - new TextEncoder().encode(base).length)}"`,
    );
    assert.equal(new TextEncoder().encode(fits).length, MAX_WEBHOOK_BYTES);
    assert.deepEqual(await (await send(f, fits)).json(), { status: "accepted" });

    const over = fits.replace('"padding":"', '"padding":"x');
    await assertError(await send(f, over), 413, "payload_too_large");
    const declared = await f.app.request(PATH, {
      method: "POST",
      headers: { "content-length": String(MAX_WEBHOOK_BYTES + 1) },
      body: "{}",
    });
    await assertError(declared, 413, "payload_too_large");
    assert.equal(await receipts(f.db), 1);
  });
});

Deno.test("webhooks: signed but malformed JSON is 400; not a prediction is 422", async () => {
  await withFixture(async (f) => {
    await assertError(await send(f, '{"id": "pred-1", '), 400, "bad_request");
    await assertError(await send(f, ""), 400, "bad_request");
    for (const body of ["[]", "null", '{"status":"processing"}', '{"id":"","status":"x"}']) {
      await assertError(await send(f, body), 422, "validation_error");
    }
    assert.equal(await receipts(f.db), 0);
  });
});

Deno.test("webhooks: unknown or no longer processing predictions are ignored (200)", async () => {
  await withFixture(async (f) => {
    const unknown = await send(f, prediction("pred-nobody-waits-for"));
    assert.equal(unknown.status, 200);
    assert.deepEqual(await unknown.json(), { status: "ignored" });

    await markCompleted(f.db, f.job.id, []);
    const late = await send(f, prediction(f.predictionId, { logs: LOGS_80 }));
    assert.deepEqual(await late.json(), { status: "ignored" });
    const job = await getJob(f.db, f.job.id);
    assert.equal(job?.status, "completed");
    assert.equal(job?.progress, 100);
  });
});

Deno.test("webhooks: a finished prediction NOTIFYs darkroom_prediction with its id", async () => {
  await withFixture(async (f) => {
    const received: string[] = [];
    let wake: () => void = () => {};
    const arrived = new Promise<void>((resolve) => (wake = resolve));
    const stop = await f.db.listen(PREDICTION_CHANNEL, (payload) => {
      if (payload !== f.predictionId) return; // other tests share the channel
      received.push(payload);
      wake();
    });
    try {
      // A progress-only delivery does not wake workers; the finished one does.
      assert.deepEqual(await (await send(f, prediction(f.predictionId))).json(), {
        status: "accepted",
      });
      await new Promise((resolve) => setTimeout(resolve, 200)); // NOTIFY takes ~2 ms
      assert.deepEqual(received, [], "progress alone does not wake workers");
      const done = prediction(f.predictionId, { status: "succeeded", output: ["https://x/y.png"] });
      assert.deepEqual(await (await send(f, done)).json(), { status: "accepted" });
      await withTimeout(arrived, 5000, "no NOTIFY within 5 s");
      assert.deepEqual(received, [f.predictionId]);
    } finally {
      await stop();
    }
  });
});
