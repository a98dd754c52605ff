import assert from "node:assert/strict";
import { decode } from "fast-png";
import { type FakeReplicate, type PredictionJson, startFakeReplicate } from "./fake_replicate.ts";

const MODEL_PATH = "/v1/models/black-forest-labs/flux-schnell/predictions";

function api(
  fake: FakeReplicate,
  path: string,
  init: { method?: string; body?: unknown; headers?: Record<string, string>; token?: string } = {},
): Promise<Response> {
  return fetch(`${fake.origin}${path}`, {
    method: init.method ?? (init.body === undefined ? "GET" : "POST"),
    headers: {
      "content-type": "application/json",
      authorization: `Bearer ${init.token ?? fake.token}`,
      ...init.headers,
    },
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
  });
}

async function jsonOf(response: Response): Promise<Record<string, unknown>> {
  return await response.json();
}

async function createPrediction(
  fake: FakeReplicate,
  input: Record<string, unknown> = { prompt: "a cat" },
  headers: Record<string, string> = {},
): Promise<PredictionJson> {
  const response = await api(fake, MODEL_PATH, { body: { input }, headers });
  assert.equal(response.status, 201);
  return await response.json();
}

async function waitForStatus(
  fake: FakeReplicate,
  id: string,
  statuses: string[],
  limitMs = 3_000,
): Promise<PredictionJson[]> {
  const seen: PredictionJson[] = [];
  const until = Date.now() + limitMs;
  while (Date.now() < until) {
    const p: PredictionJson = await (await api(fake, `/v1/predictions/${id}`)).json();
    seen.push(p);
    if (statuses.includes(p.status)) return seen;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`status never reached ${statuses}: ${seen.at(-1)?.status}`);
}

Deno.test("fake: requests without a valid token get Replicate's 401", async () => {
  await using fake = await startFakeReplicate();
  const unauthenticated = {
    title: "Unauthenticated",
    detail: "You did not pass a valid authentication token",
    status: 401,
  };
  const wrong = await api(fake, MODEL_PATH, { body: { input: { prompt: "x" } }, token: "nope" });
  assert.equal(wrong.status, 401);
  assert.deepEqual(await wrong.json(), unauthenticated);
  const missing = await fetch(`${fake.url}/predictions/abc`);
  assert.equal(missing.status, 401);
  assert.deepEqual(await missing.json(), unauthenticated);
  assert.equal(fake.createdCount, 0);
  assert.equal(fake.requests.length, 2);
});

Deno.test("fake: a prediction goes starting → processing → succeeded with growing logs", async () => {
  await using fake = await startFakeReplicate({ latencyMs: 300, steps: 8 });
  const created = await createPrediction(fake, { prompt: "a cat", num_outputs: 3 });
  assert.equal(created.status, "starting");
  assert.deepEqual(Object.keys(created).sort(), [
    "completed_at",
    "created_at",
    "data_removed",
    "error",
    "id",
    "input",
    "logs",
    "metrics",
    "model",
    "output",
    "source",
    "started_at",
    "status",
    "urls",
    "version",
  ]);
  assert.equal(created.model, "black-forest-labs/flux-schnell");
  assert.equal(created.version, "hidden");
  assert.equal(created.urls.get, `${fake.url}/predictions/${created.id}`);
  assert.equal(created.urls.cancel, `${fake.url}/predictions/${created.id}/cancel`);
  assert.match(created.id, /^[a-z0-9]{26}$/);

  const seen = await waitForStatus(fake, created.id, ["succeeded"]);
  const statuses = [...new Set(seen.map((p) => p.status))];
  assert.deepEqual(statuses, ["starting", "processing", "succeeded"].slice(-statuses.length));
  assert.ok(statuses.includes("processing"));
  const logs = seen.filter((p) => p.status === "processing").map((p) => p.logs.length);
  assert.deepEqual(logs, [...logs].sort((a, b) => a - b));
  const done = seen.at(-1)!;
  assert.match(done.logs, /100%\|██████████\| 8\/8 \[/);
  assert.ok(done.logs.includes(" 50%|█████     | 4/8 ["), done.logs);
  assert.equal(done.output?.length, 3);
  assert.ok(done.started_at && done.completed_at);
  assert.equal(typeof done.metrics.predict_time, "number");
  assert.equal(fake.createdCount, 1);
  assert.equal(fake.predictions.get(created.id)?.json().status, "succeeded");
});

Deno.test("fake: output files are real PNGs of the requested size", async () => {
  await using fake = await startFakeReplicate({ latencyMs: 20 });
  const { id } = await createPrediction(fake, {
    prompt: "x",
    width: 40,
    height: 24,
    num_outputs: 2,
  });
  const [done] = (await waitForStatus(fake, id, ["succeeded"])).slice(-1);
  const urls = done.output as string[];
  assert.deepEqual(urls, [`${fake.origin}/files/${id}/0.png`, `${fake.origin}/files/${id}/1.png`]);
  const first = new Uint8Array(await (await fetch(urls[0])).arrayBuffer());
  const png = decode(first);
  assert.equal(png.width, 40);
  assert.equal(png.height, 24);
  const second = new Uint8Array(await (await fetch(urls[1])).arrayBuffer());
  assert.notDeepEqual(first, second);
  const missing = await fetch(`${fake.origin}/files/${id}/2.png`);
  assert.equal(missing.status, 404);
  await missing.body?.cancel();
});

Deno.test("fake: output knobs (expired, not an image, truncated)", async () => {
  await using fake = await startFakeReplicate({ latencyMs: 10 });
  const { id } = await createPrediction(fake);
  const [done] = (await waitForStatus(fake, id, ["succeeded"])).slice(-1);
  const url = (done.output as string[])[0];

  fake.outputStatus = 410;
  const gone = await fetch(url);
  assert.equal(gone.status, 410);
  await gone.body?.cancel();
  fake.outputStatus = null;

  fake.nonImageOutput = true;
  const html = await fetch(url);
  assert.equal(html.status, 200);
  assert.match(html.headers.get("content-type") ?? "", /^text\/html/);
  await html.body?.cancel();
  fake.nonImageOutput = false;

  fake.truncateOutput = true;
  const cut = await fetch(url);
  assert.equal(cut.status, 200);
  await assert.rejects(() => cut.arrayBuffer());
});

Deno.test("fake: unknown models and prediction ids answer Replicate's 404", async () => {
  await using fake = await startFakeReplicate({ modelNotFound: ["nobody/nothing"] });
  const notFound = {
    detail: "The requested resource could not be found.",
    status: 404,
    title: "Not found",
  };
  const model = await api(fake, "/v1/models/nobody/nothing/predictions", {
    body: { input: { prompt: "x" } },
  });
  assert.equal(model.status, 404);
  assert.deepEqual(await model.json(), notFound);
  const byVersion = await api(fake, "/v1/predictions", {
    body: { version: "nobody/nothing", input: { prompt: "x" } },
  });
  assert.equal(byVersion.status, 404);
  await byVersion.body?.cancel();
  const prediction = await api(fake, "/v1/predictions/unknown");
  assert.equal(prediction.status, 404);
  assert.deepEqual(await prediction.json(), notFound);
  assert.equal(fake.createdCount, 0);
});

Deno.test("fake: invalid input answers 422 like Replicate", async () => {
  await using fake = await startFakeReplicate();
  const cases: [Record<string, unknown>, string, string][] = [
    [
      { prompt: "x", width: 4096 },
      "- input.width: Must be less than or equal to 2048\n",
      "number_lte",
    ],
    [
      { prompt: "x", width: "wide" },
      "- input.width: Invalid type. Expected: integer, given: string\n",
      "invalid_type",
    ],
    [{ width: 512 }, "- input: prompt is required\n", "required"],
    [
      { prompt: "x", height: 1.5 },
      "- input.height: Invalid type. Expected: integer, given: number\n",
      "invalid_type",
    ],
  ];
  for (const [input, detail, type] of cases) {
    const response = await api(fake, MODEL_PATH, { body: { input } });
    assert.equal(response.status, 422);
    const body = await jsonOf(response);
    assert.equal(body.detail, detail);
    assert.equal(body.status, 422);
    assert.equal(body.title, "Input validation failed");
    assert.equal((body.invalid_fields as { type: string }[])[0].type, type);
  }
  assert.equal(fake.createdCount, 0);
});

Deno.test("fake: POST /v1/predictions takes a version id or owner/name", async () => {
  const version = "a".repeat(64);
  await using fake = await startFakeReplicate({ versions: { [version]: "stability-ai/sdxl" } });
  const byId = await api(fake, "/v1/predictions", { body: { version, input: { prompt: "x" } } });
  assert.equal(byId.status, 201);
  const p1 = await jsonOf(byId);
  assert.equal(p1.model, "stability-ai/sdxl");
  assert.equal(p1.version, version);

  const byName = await api(fake, "/v1/predictions", {
    body: { version: "owner/model", input: { prompt: "x" }, webhook: "https://example.com/hook" },
  });
  assert.equal(byName.status, 201);
  const p2 = await jsonOf(byName);
  assert.equal(p2.model, "owner/model");
  assert.equal(p2.webhook, "https://example.com/hook");

  const invalid = await api(fake, "/v1/predictions", {
    body: { version: "zz", input: { prompt: "x" } },
  });
  assert.equal(invalid.status, 422);
  assert.equal((await jsonOf(invalid)).title, "Invalid version");
  assert.equal(fake.createdCount, 2);
});

Deno.test("fake: injected create and get failures", async () => {
  await using fake = await startFakeReplicate({ rateLimitResetS: 7 });
  fake.failNextCreates(1, 429, { retryAfter: "7" });
  fake.failNextCreates(1, 503);
  const throttled = await api(fake, MODEL_PATH, { body: { input: { prompt: "x" } } });
  assert.equal(throttled.status, 429);
  assert.equal(throttled.headers.get("retry-after"), "7");
  assert.deepEqual(await throttled.json(), {
    detail: "Request was throttled. Your rate limit resets in ~7s.",
  });
  const unavailable = await api(fake, MODEL_PATH, { body: { input: { prompt: "x" } } });
  assert.equal(unavailable.status, 503);
  await unavailable.body?.cancel();
  const created = await createPrediction(fake);

  fake.failNextGets(1, 500);
  const failed = await api(fake, `/v1/predictions/${created.id}`);
  assert.equal(failed.status, 500);
  await failed.body?.cancel();
  const ok = await api(fake, `/v1/predictions/${created.id}`);
  assert.equal(ok.status, 200);
  await ok.body?.cancel();
  assert.equal(fake.createdCount, 1);
  assert.equal(fake.requestsTo("POST", MODEL_PATH).length, 3);
});

Deno.test("fake: failPrediction ends predictions failed with the error", async () => {
  await using fake = await startFakeReplicate({
    latencyMs: 40,
    failPrediction: "CUDA out of memory",
  });
  const { id } = await createPrediction(fake);
  const [done] = (await waitForStatus(fake, id, ["failed"])).slice(-1);
  assert.equal(done.error, "CUDA out of memory");
  assert.equal(done.output, null);
  assert.match(done.logs, /CUDA out of memory/);
});

Deno.test("fake: Cancel-After aborts before the start and cancels while running", async () => {
  await using fake = await startFakeReplicate({ latencyMs: 5_000, startDelayMs: 1_000 });
  const queued = await createPrediction(fake, { prompt: "x" }, { "Cancel-After": "50ms" });
  assert.ok(queued.deadline);
  fake.startDelayMs = 0;
  const running = await createPrediction(fake, { prompt: "x" }, { "Cancel-After": "0.05" });
  const [aborted] = (await waitForStatus(fake, queued.id, ["aborted"])).slice(-1);
  assert.equal(aborted.started_at, null);
  const [canceled] = (await waitForStatus(fake, running.id, ["canceled"])).slice(-1);
  assert.ok(canceled.started_at);

  const invalid = await api(fake, MODEL_PATH, {
    body: { input: { prompt: "x" } },
    headers: { "Cancel-After": "soon" },
  });
  assert.equal(invalid.status, 400);
  await invalid.body?.cancel();
});

Deno.test("fake: cancel ends a running prediction and leaves a finished one alone", async () => {
  await using fake = await startFakeReplicate({ latencyMs: 5_000 });
  const { id } = await createPrediction(fake);
  const canceled = await api(fake, `/v1/predictions/${id}/cancel`, { method: "POST" });
  assert.equal(canceled.status, 200);
  assert.equal((await jsonOf(canceled)).status, "canceled");

  fake.latencyMs = 10;
  const quick = await createPrediction(fake);
  await waitForStatus(fake, quick.id, ["succeeded"]);
  const again = await api(fake, `/v1/predictions/${quick.id}/cancel`, { method: "POST" });
  assert.equal((await jsonOf(again)).status, "succeeded");
});

Deno.test("fake: Prefer: wait holds the create answer until the prediction finishes", async () => {
  await using fake = await startFakeReplicate({ latencyMs: 80 });
  const done = await createPrediction(fake, { prompt: "x" }, { Prefer: "wait=5" });
  assert.equal(done.status, "succeeded");
});

Deno.test("fake: close() ends pending delays at once", async () => {
  const fake = await startFakeReplicate({ apiDelayMs: 10_000 });
  const pending = api(fake, "/v1/predictions/abc").then(
    async (r) => {
      await r.body?.cancel();
      return r.status;
    },
    () => 0,
  );
  await new Promise((resolve) => setTimeout(resolve, 50));
  const started = Date.now();
  await fake.close();
  await pending;
  assert.ok(Date.now() - started < 2_000);
});

Deno.test("fake: GET /v1/predictions lists predictions newest first, by pages", async () => {
  await using fake = await startFakeReplicate({ latencyMs: 0 });
  const ids: string[] = [];
  for (let n = 0; n < 103; n++) ids.push((await createPrediction(fake, { prompt: `p${n}` })).id);
  const get = async (url: string) =>
    await (await fetch(url, { headers: { authorization: `Bearer ${fake.token}` } })).json();
  const first = await get(`${fake.url}/predictions`);
  assert.equal(first.results.length, 100);
  assert.equal(first.results[0].id, ids[102]);
  assert.equal(first.results[0].input.prompt, "p102");
  const second = await get(first.next);
  assert.equal(second.results.length, 3);
  assert.equal(second.results.at(-1).id, ids[0]);
  assert.equal(second.next, null);
});
