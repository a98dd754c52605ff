import assert from "node:assert/strict";
import { decode } from "fast-png";
import { PredictionNotFoundError, ProviderError } from "../errors.ts";
import {
  type FakeReplicate,
  type FakeReplicateOptions,
  startFakeReplicate,
} from "../testing/fake_replicate.ts";
import { parseProgress } from "./progress.ts";
import { isFinished, type Prediction, type Provider } from "./provider.ts";
import { createReplicateProvider, type ReplicateProviderOptions } from "./replicate.ts";

const MODEL = "black-forest-labs/flux-schnell";
const VERSION = "5c7d5dc6dd8bf75c1acaa8565735e7986bc5b66206b55cca93cb72c9bf15ccaa";

function providerFor(
  fake: FakeReplicate,
  overrides: Partial<ReplicateProviderOptions> = {},
): Provider {
  return createReplicateProvider({
    token: fake.token,
    baseUrl: fake.url,
    timeoutMs: 5_000,
    ...overrides,
  });
}

async function start(options: FakeReplicateOptions = {}): Promise<FakeReplicate> {
  return await startFakeReplicate({ latencyMs: 200, ...options });
}

/** Polls until `done` holds (or fails after `limitMs`); returns every state seen. */
async function pollUntil(
  provider: Provider,
  id: string,
  done: (p: Prediction) => boolean,
  limitMs = 3_000,
): Promise<Prediction[]> {
  const seen: Prediction[] = [];
  const until = Date.now() + limitMs;
  while (Date.now() < until) {
    const p = await provider.get(id);
    seen.push(p);
    if (done(p)) return seen;
    await new Promise((resolve) => setTimeout(resolve, 15));
  }
  throw new Error(`prediction ${id} did not get there in ${limitMs} ms: ${seen.at(-1)?.status}`);
}

/** Runs `body`, expecting a ProviderError, and returns it. */
async function providerError(body: () => Promise<unknown>): Promise<ProviderError> {
  try {
    await body();
  } catch (error) {
    assert.ok(error instanceof ProviderError, `expected ProviderError, got ${error}`);
    return error;
  }
  assert.fail("expected a ProviderError");
}

const CREATE_PATH = `/v1/models/${MODEL}/predictions`;

Deno.test("create by model uses the official model endpoint with prompt and parameters", async () => {
  await using fake = await start();
  const provider = providerFor(fake, { userAgent: "darkroom-test/1" });
  assert.equal(provider.name, "replicate");

  const p = await provider.create({
    model: MODEL,
    prompt: "a lighthouse at dusk",
    negative_prompt: null,
    parameters: { width: 96, num_outputs: 2 },
  });

  assert.equal(p.status, "starting");
  assert.deepEqual(p.output, []);
  assert.equal(p.error, null);
  const [req] = fake.requestsTo("POST", CREATE_PATH);
  assert.ok(req, "request recorded on the model endpoint");
  assert.deepEqual(req.body, {
    input: { prompt: "a lighthouse at dusk", width: 96, num_outputs: 2 },
  });
  assert.equal(req.headers.authorization, `Bearer ${fake.token}`);
  assert.equal(req.headers["user-agent"], "darkroom-test/1");
  assert.equal(req.headers["cancel-after"], undefined);
  assert.equal(fake.createdCount, 1);
  assert.equal(fake.predictions.get(p.id)?.model, MODEL);
});

Deno.test("create by version posts the version id to /v1/predictions", async () => {
  await using fake = await start({ versions: { [VERSION]: "stability-ai/sdxl" } });
  const provider = providerFor(fake);

  const p = await provider.create({
    model: `stability-ai/sdxl:${VERSION}`,
    prompt: "a fox",
    negative_prompt: "blurry",
    parameters: { seed: 7 },
  });

  const [req] = fake.requestsTo("POST", "/v1/predictions");
  assert.ok(req);
  assert.deepEqual(req.body, {
    version: VERSION,
    input: { prompt: "a fox", negative_prompt: "blurry", seed: 7 },
  });
  assert.equal(fake.requests.length, 1);
  const stored = fake.predictions.get(p.id);
  assert.equal(stored?.version, VERSION);
  assert.equal(stored?.model, "stability-ai/sdxl");
});

Deno.test("get follows a prediction to succeeded, with progress in the logs", async () => {
  await using fake = await start({ latencyMs: 400, steps: 10 });
  const provider = providerFor(fake);
  const created = await provider.create({
    model: MODEL,
    prompt: "a tree",
    parameters: { num_outputs: 2 },
  });

  const seen = await pollUntil(provider, created.id, (p) => isFinished(p.status));
  const last = seen.at(-1)!;
  assert.equal(last.status, "succeeded");
  assert.equal(last.error, null);
  assert.equal(last.output.length, 2);
  for (const url of last.output) assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/files\//);
  assert.equal(parseProgress(last.logs), 100);
  // created_at → completed_at at the provider: the fake's latency.
  assert.equal(last.runMs, 400);
  assert.ok(seen.slice(0, -1).every((p) => p.runMs === undefined), "no run time before the end");

  const running = seen.filter((p) => p.status === "processing");
  assert.ok(running.length > 0, "saw the prediction processing");
  const progress = running.map((p) => parseProgress(p.logs) ?? 0);
  assert.deepEqual(progress, [...progress].sort((a, b) => a - b), "progress never goes back");
  assert.ok(progress.some((v) => v > 0 && v < 100), `saw partial progress: ${progress}`);
});

Deno.test("a single output string becomes a one-element list", async () => {
  await using fake = await start({ latencyMs: 30, outputAsString: true });
  const provider = providerFor(fake);
  const { id } = await provider.create({ model: MODEL, prompt: "x", parameters: {} });
  const [done] = (await pollUntil(provider, id, (p) => isFinished(p.status))).slice(-1);
  assert.equal(done.status, "succeeded");
  assert.equal(done.output.length, 1);
});

Deno.test("openOutput returns the PNG bytes, without sending the token", async () => {
  await using fake = await start({ latencyMs: 30 });
  const provider = providerFor(fake);
  const { id } = await provider.create({
    model: MODEL,
    prompt: "x",
    parameters: { width: 96, height: 80 },
  });
  const [done] = (await pollUntil(provider, id, (p) => isFinished(p.status))).slice(-1);

  const response = await provider.openOutput(done.output[0]);
  assert.equal(response.status, 200);
  assert.equal(response.headers.get("content-type"), "image/png");
  const bytes = new Uint8Array(await response.arrayBuffer());
  assert.deepEqual([...bytes.slice(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  const png = decode(bytes);
  assert.equal(png.width, 96);
  assert.equal(png.height, 80);

  const [download] = fake.requestsTo("GET", new URL(done.output[0]).pathname);
  assert.equal(download.headers.authorization, undefined);
});

Deno.test("429 is retryable with the reset hint, and the client does not retry", async () => {
  await using fake = await start({ rateLimitResetS: 12 });
  const provider = providerFor(fake);
  fake.failNextCreates(3, 429);

  const error = await providerError(() =>
    provider.create({ model: MODEL, prompt: "x", parameters: {} })
  );

  assert.equal(error.retryable, true);
  assert.equal(error.status, 429);
  assert.equal(error.retryAfterMs, 12_000);
  assert.match(error.message, /^Cannot create prediction for black-forest-labs\/flux-schnell: /);
  assert.match(error.message, /status 429: Request was throttled/);
  assert.equal(fake.requests.length, 1, "exactly one request reached the server");
  assert.equal(fake.createdCount, 0);
});

Deno.test("429 with a Retry-After header uses the longer of header and hint", async () => {
  await using fake = await start({ rateLimitResetS: 5 });
  const provider = providerFor(fake);
  fake.failNextCreates(1, 429, { retryAfter: "40" });
  const error = await providerError(() =>
    provider.create({ model: MODEL, prompt: "x", parameters: {} })
  );
  assert.equal(error.retryAfterMs, 40_000);
});

Deno.test("500 on create is retryable, sent once", async () => {
  await using fake = await start();
  const provider = providerFor(fake);
  fake.failNextCreates(1, 500);
  const error = await providerError(() =>
    provider.create({ model: MODEL, prompt: "x", parameters: {} })
  );
  assert.equal(error.retryable, true);
  assert.equal(error.status, 500);
  assert.equal(fake.requests.length, 1);
});

Deno.test("503 on get is retryable and not retried by the client (which retries GET 5xx)", async () => {
  await using fake = await start();
  const provider = providerFor(fake);
  const { id } = await provider.create({ model: MODEL, prompt: "x", parameters: {} });
  fake.failNextGets(6, 503, { retryAfter: "3" });

  const error = await providerError(() => provider.get(id));
  assert.equal(error.retryable, true);
  assert.equal(error.status, 503);
  assert.equal(error.retryAfterMs, 3_000);
  assert.equal(fake.requestsTo("GET", `/v1/predictions/${id}`).length, 1);
});

Deno.test("422 is not retryable and carries Replicate's detail", async () => {
  await using fake = await start();
  const provider = providerFor(fake);
  const error = await providerError(() =>
    provider.create({ model: MODEL, prompt: "x", parameters: { width: 4096 } })
  );
  assert.equal(error.retryable, false);
  assert.equal(error.status, 422);
  assert.equal(
    error.message,
    `Cannot create prediction for ${MODEL}: status 422: - input.width: Must be less than or equal to 2048`,
  );
  assert.equal(fake.requests.length, 1);
});

Deno.test("401 is not retryable and points at REPLICATE_API_TOKEN, without the token", async () => {
  await using fake = await start();
  const token = "r8_wrong_secret_token_value";
  const provider = providerFor(fake, { token });
  const error = await providerError(() =>
    provider.create({ model: MODEL, prompt: "x", parameters: {} })
  );
  assert.equal(error.retryable, false);
  assert.equal(error.status, 401);
  assert.match(error.message, /REPLICATE_API_TOKEN/);
  assert.ok(!error.message.includes(token));
  assert.ok(!String(error.stack).includes(token));
  assert.equal(fake.requests.length, 1);
});

Deno.test("an unknown model is not retryable", async () => {
  await using fake = await start({ modelNotFound: ["nobody/nothing"] });
  const provider = providerFor(fake);
  const error = await providerError(() =>
    provider.create({ model: "nobody/nothing", prompt: "x", parameters: {} })
  );
  assert.equal(error.retryable, false);
  assert.equal(error.status, 404);
  assert.equal(
    error.message,
    "Cannot create prediction for nobody/nothing: status 404: Unknown model nobody/nothing",
  );
});

Deno.test("an invalid model reference fails without a request", async () => {
  await using fake = await start();
  const provider = providerFor(fake);
  const error = await providerError(() =>
    provider.create({ model: "not a model", prompt: "x", parameters: {} })
  );
  assert.equal(error.retryable, false);
  assert.equal(fake.requests.length, 0);
});

Deno.test("get and cancel of an unknown id throw PredictionNotFoundError", async () => {
  await using fake = await start();
  const provider = providerFor(fake);
  await assert.rejects(() => provider.get("doesnotexist0000000000000"), PredictionNotFoundError);
  await assert.rejects(() => provider.cancel("doesnotexist0000000000000"), PredictionNotFoundError);
  // An id that would change the URL path never reaches the server.
  await assert.rejects(() => provider.get("../models"), PredictionNotFoundError);
  assert.equal(fake.requests.length, 2);
});

Deno.test("a slow API answer times out as a retryable error, after one request", async () => {
  await using fake = await start({ apiDelayMs: 3_000 });
  const provider = providerFor(fake, { timeoutMs: 100 });
  const started = Date.now();
  const error = await providerError(() =>
    provider.create({ model: MODEL, prompt: "x", parameters: {} })
  );
  assert.ok(Date.now() - started < 2_000, "did not wait for the slow server");
  assert.equal(error.retryable, true);
  assert.equal(
    error.message,
    `Cannot create prediction for ${MODEL}: no answer within 100 ms`,
  );
  assert.equal(fake.requests.length, 1);
});

Deno.test("the caller's signal aborts a call", async () => {
  await using fake = await start({ apiDelayMs: 3_000 });
  const provider = providerFor(fake);
  const controller = new AbortController();
  setTimeout(() => controller.abort(), 50);
  const error = await providerError(() => provider.get("abc", { signal: controller.signal }));
  assert.equal(error.retryable, true);
  assert.match(error.message, /^Cannot get prediction abc: aborted$/);
});

Deno.test("network errors are retryable and sent once", async () => {
  const fake = await start();
  const url = fake.url;
  await fake.close();
  let calls = 0;
  const provider = createReplicateProvider({
    token: "t",
    baseUrl: url,
    timeoutMs: 1_000,
    fetch: (input, init) => {
      calls++;
      return fetch(input, init);
    },
  });
  const error = await providerError(() => provider.get("abc"));
  assert.equal(error.retryable, true);
  assert.match(error.message, /^Cannot get prediction abc: network error: /);
  assert.equal(calls, 1);
});

Deno.test("deadlineS is sent as a Cancel-After header", async () => {
  await using fake = await start();
  const provider = providerFor(fake);
  await provider.create({ model: MODEL, prompt: "x", parameters: {} }, { deadlineS: 90 });
  await provider.create({ model: MODEL, prompt: "x", parameters: {} }, { deadlineS: 2.5 });
  const sent = fake.requestsTo("POST", CREATE_PATH).map((r) => r.headers["cancel-after"]);
  assert.deepEqual(sent, ["90s", "3s"]);
});

Deno.test("a deadline reached before the prediction runs aborts it", async () => {
  await using fake = await start({ latencyMs: 10_000, startDelayMs: 5_000 });
  const provider = providerFor(fake);
  const { id } = await provider.create(
    { model: MODEL, prompt: "x", parameters: {} },
    { deadlineS: 1 },
  );
  const [last] = (await pollUntil(provider, id, (p) => isFinished(p.status))).slice(-1);
  assert.equal(last.status, "aborted");
  assert.deepEqual(last.output, []);
});

Deno.test("cancel stops a running prediction", async () => {
  await using fake = await start({ latencyMs: 10_000, startDelayMs: 0 });
  const provider = providerFor(fake);
  const { id } = await provider.create({ model: MODEL, prompt: "x", parameters: {} });
  await provider.cancel(id);
  const p = await provider.get(id);
  assert.equal(p.status, "canceled");
  assert.equal(fake.requestsTo("POST", `/v1/predictions/${id}/cancel`).length, 1);
});

Deno.test("a failed prediction surfaces its error", async () => {
  await using fake = await start({ latencyMs: 60, failPrediction: "CUDA out of memory" });
  const provider = providerFor(fake);
  const { id } = await provider.create({ model: MODEL, prompt: "x", parameters: {} });
  const [last] = (await pollUntil(provider, id, (p) => isFinished(p.status))).slice(-1);
  assert.equal(last.status, "failed");
  assert.equal(last.error, "CUDA out of memory");
  assert.deepEqual(last.output, []);
});

Deno.test("expired outputs (404, 410) are not retryable; 5xx is", async () => {
  await using fake = await start({ latencyMs: 20 });
  const provider = providerFor(fake);
  const { id } = await provider.create({ model: MODEL, prompt: "x", parameters: {} });
  const [done] = (await pollUntil(provider, id, (p) => isFinished(p.status))).slice(-1);
  const url = done.output[0];

  for (const status of [410, 404]) {
    fake.outputStatus = status;
    const error = await providerError(() => provider.openOutput(url));
    assert.equal(error.retryable, false);
    assert.equal(error.status, status);
    assert.match(
      error.message,
      /^Cannot download output http:\/\/127\.0\.0\.1:\d+\/files\/.*output expired/,
    );
  }
  fake.outputStatus = 502;
  const error = await providerError(() => provider.openOutput(url));
  assert.equal(error.retryable, true);
});

Deno.test("a slow output download times out as retryable", async () => {
  await using fake = await start({ latencyMs: 20 });
  const provider = providerFor(fake, { timeoutMs: 100 });
  const { id } = await provider.create({ model: MODEL, prompt: "x", parameters: {} });
  const [done] = (await pollUntil(provider, id, (p) => isFinished(p.status))).slice(-1);
  fake.slowOutputMs = 3_000;
  const error = await providerError(() => provider.openOutput(done.output[0]));
  assert.equal(error.retryable, true);
  assert.match(error.message, /no answer within 100 ms$/);
});

Deno.test("openOutput refuses references that are not http(s) URLs", async () => {
  await using fake = await start();
  const provider = providerFor(fake);
  for (const ref of ["local://abc/0.png", "file:///etc/passwd", "not a url"]) {
    const error = await providerError(() => provider.openOutput(ref));
    assert.equal(error.retryable, false);
  }
  assert.equal(fake.requests.length, 0);
});
