import assert from "node:assert/strict";
import { PredictionNotFoundError, ProviderError } from "../errors.ts";
import { type FakeFal, startFakeFal } from "../testing/fake_fal.ts";
import { createFalProvider, type FalProviderOptions } from "./fal.ts";
import { falEndpoint, isFalModel } from "./model_ref.ts";
import { parseProgress } from "./progress.ts";
import type { Prediction, Provider } from "./provider.ts";
import { ProviderUnreachableError } from "./unreachable.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

function providerFor(fake: FakeFal, extra: Partial<FalProviderOptions> = {}): Provider {
  return createFalProvider({
    key: fake.key,
    queueUrl: fake.url,
    timeoutMs: 2000,
    openapiUrl: fake.openapiUrl,
    ...extra,
  });
}

async function until(
  provider: Provider,
  id: string,
  done: (p: Prediction) => boolean,
  model = "fal:fal-ai/flux/schnell",
): Promise<Prediction[]> {
  const seen: Prediction[] = [];
  for (let i = 0; i < 200; i++) {
    const p = await provider.get(id, { model });
    seen.push(p);
    if (done(p)) return seen;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`request ${id} never got there: ${JSON.stringify(seen.at(-1))}`);
}

Deno.test("fal: model references", () => {
  assert.equal(isFalModel("fal:fal-ai/flux/schnell"), true);
  assert.equal(falEndpoint("fal:fal-ai/flux/schnell"), "fal-ai/flux/schnell");
  assert.equal(falEndpoint("fal:fal-ai/fast-sdxl"), "fal-ai/fast-sdxl");
  assert.equal(falEndpoint("fal:fal-ai/flux-pro/v1.1"), "fal-ai/flux-pro/v1.1");
  for (const bad of ["fal:", "fal:flux", "fal:a/../b", "fal:/a/b", "fal:a//b", "owner/name"]) {
    assert.equal(falEndpoint(bad), null, bad);
  }
});

Deno.test({
  name: "fal: a request queues, runs with progress in its logs, completes with downloadable images",
  ...opts,
  fn: async () => {
    await using fake = await startFakeFal({ queueMs: 300, queueAhead: 3, latencyMs: 300 });
    const fal = providerFor(fake, { webhookUrl: "https://darkroom.example/api/v1/webhooks/fal" });
    const created = await fal.create({
      model: "fal:fal-ai/flux/schnell",
      prompt: "a lighthouse",
      negative_prompt: "fog",
      parameters: { image_size: { width: 96, height: 64 }, num_images: 2, seed: 7 },
    });
    assert.equal(created.status, "starting");
    assert.equal(created.queuePosition, 2);
    assert.equal(fake.submittedCount, 1);
    const [submit] = fake.requestsTo("POST", "/fal-ai/flux/schnell");
    assert.equal(submit.headers.authorization, `Key ${fake.key}`);
    assert.equal(
      new URL(submit.path, fake.url).searchParams.get("fal_webhook"),
      "https://darkroom.example/api/v1/webhooks/fal",
    );
    assert.deepEqual(submit.body, {
      prompt: "a lighthouse",
      negative_prompt: "fog",
      image_size: { width: 96, height: 64 },
      num_images: 2,
      seed: 7,
    });
    const seen = await until(fal, created.id, (p) => p.status === "succeeded");
    assert.ok(seen.some((p) => p.status === "starting" && p.queuePosition !== undefined));
    assert.ok(
      seen.some((p) => p.status === "processing" && (parseProgress(p.logs) ?? 0) > 0),
      "progress from the logs",
    );
    const done = seen.at(-1)!;
    assert.equal(done.output.length, 2);
    assert.ok(done.runMs !== undefined && done.runMs > 0);
    // Status polls use the URLs fal returned (the endpoint's subpath dropped).
    assert.ok(fake.requestsTo("GET", `/fal-ai/flux/requests/${created.id}/status`).length > 0);
    const res = await fal.openOutput(done.output[0]);
    const png = new Uint8Array(await res.arrayBuffer());
    assert.deepEqual([...png.slice(1, 4)], [0x50, 0x4e, 0x47]);
    // Downloads never carry the key.
    for (const r of fake.requestsTo("GET", /^\/files\//)) {
      assert.equal(r.headers.authorization, undefined);
    }
  },
});

Deno.test({
  name: "fal: a restarted process resumes a request from its id and model (no second submit)",
  ...opts,
  fn: async () => {
    await using fake = await startFakeFal({ latencyMs: 150 });
    const first = providerFor(fake);
    const created = await first.create({
      model: "fal:fal-ai/flux/dev",
      prompt: "p",
      parameters: {},
    });
    const restarted = providerFor(fake);
    const seen = await until(
      restarted,
      created.id,
      (p) => p.status === "succeeded",
      "fal:fal-ai/flux/dev",
    );
    assert.equal(seen.at(-1)!.output.length, 1);
    assert.equal(fake.submittedCount, 1);
    // Without the model nothing can be asked, and nothing is created either.
    await assert.rejects(
      () => providerFor(fake).get(created.id),
      (err) =>
        err instanceof ProviderError && !err.retryable && /endpoint is unknown/.test(err.message),
    );
    await assert.rejects(
      () => restarted.get(crypto.randomUUID(), { model: "fal:fal-ai/flux/dev" }),
      PredictionNotFoundError,
    );
  },
});

Deno.test({
  name: "fal: cancel is forwarded; a failed request reports fal's error",
  ...opts,
  fn: async () => {
    await using fake = await startFakeFal({ latencyMs: 5000 });
    const fal = providerFor(fake);
    const model = "fal:fal-ai/flux/schnell";
    const created = await fal.create({ model, prompt: "p", parameters: {} });
    await fal.cancel(created.id, { model });
    assert.equal(fake.requestsTo("PUT", `/fal-ai/flux/requests/${created.id}/cancel`).length, 1);
    assert.ok(fake.queue.get(created.id)?.canceledAt);
    const canceled = await fal.get(created.id, { model });
    assert.equal(canceled.status, "canceled");
    // Canceling a finished request is not an error.
    await fal.cancel(created.id, { model });

    fake.latencyMs = 50;
    fake.failRequest = "CUDA out of memory";
    const failing = await fal.create({ model, prompt: "p", parameters: {} });
    const seen = await until(fal, failing.id, (p) => p.status === "failed");
    assert.equal(seen.at(-1)!.error, "CUDA out of memory");
  },
});

Deno.test({
  name: "fal: errors are classified (key, unknown endpoint, 429, 5xx, unreachable, timeout)",
  ...opts,
  fn: async () => {
    const fake = await startFakeFal();
    const input = { model: "fal:fal-ai/flux/schnell", prompt: "p", parameters: {} };
    try {
      await assert.rejects(
        () => providerFor(fake, { key: "wrong" }).create(input),
        (err) =>
          err instanceof ProviderError && !err.retryable && err.status === 401 &&
          /check FAL_KEY/.test(err.message) && !err.message.includes("wrong"),
      );
      fake.failNextSubmits(1, 429, { retryAfter: "7" });
      await assert.rejects(
        () => providerFor(fake).create(input),
        (err) =>
          err instanceof ProviderError && err.retryable && err.status === 429 &&
          err.retryAfterMs === 7000,
      );
      fake.failNextSubmits(1, 503);
      await assert.rejects(
        () => providerFor(fake).create(input),
        (err) => err instanceof ProviderError && err.retryable && err.status === 503,
      );
      await assert.rejects(
        () => providerFor(fake).create({ ...input, model: "fal:nope" }),
        (err) => err instanceof ProviderError && !err.retryable,
      );
      fake.failNextStatus(1, 502);
      const created = await providerFor(fake).create(input);
      await assert.rejects(
        () => providerFor(fake).get(created.id, { model: input.model }),
        (err) => err instanceof ProviderError && err.retryable && err.status === 502,
      );
      assert.equal(fake.submittedCount, 1);
    } finally {
      await fake.close();
    }
    // Its port is closed now: the request never left.
    await assert.rejects(
      () => providerFor(fake).create(input),
      (err) => err instanceof ProviderUnreachableError && err.retryable,
    );
    // A server that never answers: a timeout, which is not "unreachable" (it may have been taken).
    const hang = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen: () => {} },
      () => new Promise<Response>((r) => setTimeout(() => r(new Response("{}")), 1500)),
    );
    try {
      const url = `http://127.0.0.1:${hang.addr.port}`;
      await assert.rejects(
        () => createFalProvider({ key: "k", queueUrl: url, timeoutMs: 100 }).create(input),
        (err) =>
          err instanceof ProviderError && !(err instanceof ProviderUnreachableError) &&
          err.retryable &&
          /no answer within 100 ms/.test(err.message),
      );
    } finally {
      await hang.shutdown();
    }
  },
});

Deno.test({
  name: "fal: input schemas come from the endpoint's OpenAPI document (null when none)",
  ...opts,
  fn: async () => {
    await using fake = await startFakeFal({ noSchema: ["fal-ai/private-thing"] });
    const fal = providerFor(fake);
    const schema = await fal.inputSchema!("fal:fal-ai/flux/schnell");
    assert.ok(schema);
    assert.deepEqual(schema.required, ["prompt"]);
    assert.ok((schema.properties as Record<string, unknown>).image_size);
    assert.ok((schema.components as { schemas: Record<string, unknown> }).schemas.ImageSize);
    // Cached: asked once.
    await fal.inputSchema!("fal:fal-ai/flux/schnell");
    assert.equal(fake.requestsTo("GET", "/api/openapi/queue/openapi.json").length, 1);
    assert.equal(await fal.inputSchema!("fal:fal-ai/private-thing"), null);
    assert.equal(
      await providerFor(fake, { openapiUrl: undefined }).inputSchema!("fal:fal-ai/flux/schnell"),
      null,
    );
  },
});
