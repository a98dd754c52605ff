import assert from "node:assert/strict";
import { ApiError, type JobJson } from "../api_client.ts";
import {
  buildRequest,
  DEFAULT_DRAFT,
  type Draft,
  DRAFT_KEY,
  draftFromJob,
  errorsFromDetails,
  fieldForDetail,
  parseExtraJson,
  persistDraft,
  randomSeed,
  rateLimitFrom,
  restoreDraft,
  secondsLeft,
  SEED_MAX,
} from "./form.ts";

const base: Draft = { ...DEFAULT_DRAFT, prompt: "a lighthouse", model: "local/aurora" };
const fixed = () => 0.5;

function ok(draft: Draft, random = fixed) {
  const r = buildRequest(draft, random);
  if (!r.ok) throw new Error(`unexpected errors: ${JSON.stringify(r.errors)}`);
  return r;
}

Deno.test("aspect ratio maps to multiples of 64 and aspect_ratio", () => {
  const expected = {
    "1:1": [1024, 1024],
    "3:2": [1216, 832],
    "2:3": [832, 1216],
    "16:9": [1344, 768],
    "9:16": [768, 1344],
  } as const;
  for (const [aspect, [w, h]] of Object.entries(expected)) {
    const { body } = ok({ ...base, aspect: aspect as Draft["aspect"] });
    assert.equal(body.parameters.width, w);
    assert.equal(body.parameters.height, h);
    assert.equal(body.parameters.aspect_ratio, aspect);
    assert.equal(w % 64, 0);
    assert.equal(h % 64, 0);
  }
});

Deno.test("body: prompt kept as typed, model trimmed, empty negative prompt left out", () => {
  const { body } = ok({ ...base, prompt: "  two spaces ", model: " local/aurora ", numOutputs: 3 });
  assert.equal(body.prompt, "  two spaces ");
  assert.equal(body.model, "local/aurora");
  assert.equal(body.parameters.num_outputs, 3);
  assert.equal("negative_prompt" in body, false);
  assert.equal("num_inference_steps" in body.parameters, false);
  assert.equal("guidance_scale" in body.parameters, false);
  const withNeg = ok({ ...base, negativePrompt: "blurry", steps: "28", guidance: "3.5" }).body;
  assert.equal(withNeg.negative_prompt, "blurry");
  assert.equal(withNeg.parameters.num_inference_steps, 28);
  assert.equal(withNeg.parameters.guidance_scale, 3.5);
});

Deno.test("seed: locked is sent as is; unlocked draws a new one each time", () => {
  assert.equal(ok({ ...base, seed: 42, seedLocked: true }).body.parameters.seed, 42);
  const a = ok({ ...base, seed: 42, seedLocked: false }, () => 0.25);
  assert.equal(a.body.parameters.seed, Math.floor(0.25 * 2 ** 32));
  assert.equal(a.seed, a.body.parameters.seed);
  const b = ok({ ...base, seed: null, seedLocked: false }, () => 0.75);
  assert.notEqual(b.body.parameters.seed, a.body.parameters.seed);
  assert.equal(randomSeed(() => 0), 0);
  assert.equal(randomSeed(() => 0.9999999999), SEED_MAX);
  const bad = buildRequest({ ...base, seed: SEED_MAX + 1, seedLocked: true });
  assert.equal(bad.ok, false);
  assert.ok(!bad.ok && bad.errors.seed);
});

Deno.test("extra JSON is merged last and wins over the form fields", () => {
  const { body } = ok({
    ...base,
    steps: "20",
    extraJson: '{"scheduler": "K_EULER", "width": 512, "num_inference_steps": 4}',
  });
  assert.equal(body.parameters.scheduler, "K_EULER");
  assert.equal(body.parameters.width, 512);
  assert.equal(body.parameters.height, 1024);
  assert.equal(body.parameters.num_inference_steps, 4);
});

Deno.test("extra JSON validation: syntax, object, finite numbers, size", () => {
  assert.deepEqual(parseExtraJson("  "), { value: {} });
  assert.match((parseExtraJson("{nope") as { error: string }).error, /Not valid JSON/);
  assert.match((parseExtraJson("[1,2]") as { error: string }).error, /JSON object/);
  assert.match((parseExtraJson("null") as { error: string }).error, /JSON object/);
  assert.match((parseExtraJson('{"a": 1e400}') as { error: string }).error, /finite/);
  assert.match((parseExtraJson('{"a": {"b": [-1e999]}}') as { error: string }).error, /finite/);
  const big = JSON.stringify({ a: "x".repeat(17 * 1024) });
  assert.match((parseExtraJson(big) as { error: string }).error, /16 KB/);
  const r = buildRequest({ ...base, extraJson: "[]" });
  assert.ok(!r.ok && r.errors.extraJson);
});

Deno.test("client-side checks report every bad field at once", () => {
  const r = buildRequest({
    ...base,
    prompt: "   ",
    model: "not a model",
    steps: "0",
    guidance: "51",
    numOutputs: 5,
  });
  assert.equal(r.ok, false);
  if (r.ok) return;
  assert.deepEqual(
    Object.keys(r.errors).sort(),
    ["guidance", "model", "numOutputs", "prompt", "steps"],
  );
  const long = buildRequest({ ...base, prompt: "x".repeat(2001) });
  assert.ok(!long.ok && /2000/.test(long.errors.prompt!));
  assert.equal(buildRequest({ ...base, prompt: "x".repeat(2000) }).ok, true);
  const frac = buildRequest({ ...base, steps: "2.5" });
  assert.ok(!frac.ok && /whole/.test(frac.errors.steps!));
  assert.equal(
    buildRequest({ ...base, model: "owner/name:" + "a".repeat(64) }).ok,
    true,
  );
});

Deno.test("API error details land next to their field", () => {
  assert.equal(fieldForDetail("prompt"), "prompt");
  assert.equal(fieldForDetail("negative_prompt"), "negativePrompt");
  assert.equal(fieldForDetail("parameters.width"), "aspect");
  assert.equal(fieldForDetail("parameters.seed"), "seed");
  assert.equal(fieldForDetail("parameters.num_inference_steps"), "steps");
  assert.equal(fieldForDetail("parameters.guidance_scale"), "guidance");
  assert.equal(fieldForDetail("parameters.scheduler"), "extraJson");
  assert.equal(fieldForDetail("parameters"), "extraJson");
  assert.equal(fieldForDetail("(body)"), "form");
  const errors = errorsFromDetails([
    { field: "prompt", message: "prompt must not be empty" },
    { field: "parameters.width", message: "must be at most 2048" },
    { field: "parameters.height", message: "must be at most 2048" },
  ], "Request body is invalid");
  assert.equal(errors.prompt, "prompt must not be empty");
  assert.equal(
    errors.aspect,
    "parameters.width: must be at most 2048; parameters.height: must be at most 2048",
  );
  assert.deepEqual(errorsFromDetails([], "The queue is unavailable"), {
    form: "The queue is unavailable",
  });
});

function jobJson(parameters: Record<string, unknown>): JobJson {
  return {
    id: "j",
    prompt: "reuse me",
    negative_prompt: "blurry",
    model: "black-forest-labs/flux-schnell",
    parameters,
    status: "completed",
    progress: 100,
    media_path: null,
    images: [],
    image_url: null,
    error_message: null,
    retry_count: 0,
    created_at: "2025-01-01T00:00:00Z",
    started_at: null,
    completed_at: null,
    updated_at: "2025-01-01T00:00:00Z",
  };
}

Deno.test("reuse settings: a job's parameters round-trip through the form", () => {
  const params = {
    width: 1216,
    height: 832,
    aspect_ratio: "3:2",
    num_outputs: 2,
    seed: 7,
    num_inference_steps: 4,
    scheduler: "K_EULER",
  };
  const d = draftFromJob(jobJson(params), DEFAULT_DRAFT);
  assert.equal(d.prompt, "reuse me");
  assert.equal(d.negativePrompt, "blurry");
  assert.equal(d.aspect, "3:2");
  assert.equal(d.numOutputs, 2);
  assert.equal(d.seed, 7);
  assert.equal(d.seedLocked, true);
  assert.equal(d.steps, "4");
  assert.equal(d.advancedOpen, true);
  assert.deepEqual(JSON.parse(d.extraJson), { scheduler: "K_EULER" });
  const again = ok(d).body;
  assert.deepEqual(again.parameters, params);

  // A size no chip offers goes to the extra JSON, so it is reproduced exactly.
  const odd = draftFromJob(jobJson({ width: 768, height: 512 }), DEFAULT_DRAFT);
  assert.deepEqual(JSON.parse(odd.extraJson), { width: 768, height: 512 });
  assert.equal(odd.seedLocked, false);
  const oddBody = ok(odd).body;
  assert.equal(oddBody.parameters.width, 768);
  assert.equal(oddBody.parameters.height, 512);
});

Deno.test("the draft survives a reload; broken or hostile storage is tolerated", () => {
  const storage = new Map<string, string>();
  const fake = {
    getItem: (k: string) => storage.get(k) ?? null,
    setItem: (k: string, v: string) => void storage.set(k, v),
  };
  let run: () => void = () => {};
  const subscribe = (fn: () => void) => {
    run = fn;
    fn();
    return () => {};
  };
  const target = { value: { ...DEFAULT_DRAFT } };
  persistDraft(target, fake, subscribe);
  target.value = {
    ...target.value,
    prompt: "remember me",
    aspect: "16:9",
    seed: 5,
    seedLocked: true,
  };
  run();
  const reloaded = { value: { ...DEFAULT_DRAFT } };
  persistDraft(reloaded, fake, subscribe);
  assert.equal(reloaded.value.prompt, "remember me");
  assert.equal(reloaded.value.aspect, "16:9");
  assert.equal(reloaded.value.seed, 5);

  storage.set(DRAFT_KEY, "{not json");
  const broken = { value: { ...DEFAULT_DRAFT } };
  persistDraft(broken, fake, () => () => {});
  assert.deepEqual(broken.value, DEFAULT_DRAFT);

  const weird = restoreDraft({
    prompt: 42,
    aspect: "7:3",
    numOutputs: 99,
    seed: -1,
    seedLocked: true,
    extraJson: "{}",
  });
  assert.equal(weird.prompt, "");
  assert.equal(weird.aspect, "1:1");
  assert.equal(weird.numOutputs, 1);
  assert.equal(weird.seed, null);
  assert.equal(weird.seedLocked, false);
  assert.equal(weird.extraJson, "{}");

  const throwing = {
    getItem: () => null,
    setItem: () => {
      throw new Error("QuotaExceededError");
    },
  };
  persistDraft({ value: { ...DEFAULT_DRAFT } }, throwing, subscribe);
  run();
});

Deno.test("priority: normal by default, sent top-level, restored, reused from a job", () => {
  assert.equal(DEFAULT_DRAFT.priority, "normal");
  assert.equal(ok(base).body.priority, "normal");
  const high = ok({ ...base, priority: "high" }).body;
  assert.equal(high.priority, "high");
  assert.equal("priority" in high.parameters, false, "not a model parameter");
  assert.equal(ok({ ...base, priority: "urgent" as Draft["priority"] }).body.priority, "normal");
  assert.equal(restoreDraft({ priority: "low" }).priority, "low");
  assert.equal(restoreDraft({ priority: "urgent" }).priority, "normal");
  assert.equal(fieldForDetail("priority"), "priority");
  const job = {
    id: "j",
    prompt: "p",
    negative_prompt: null,
    model: "local/aurora",
    parameters: { width: 1024, height: 1024, num_outputs: 1, seed: 1 },
    priority: "low",
  } as unknown as JobJson;
  const reused = draftFromJob(job, DEFAULT_DRAFT);
  assert.equal(reused.priority, "low");
  assert.equal(reused.advancedOpen, true, "a non-default priority is shown");
  const normal = draftFromJob({ ...job, priority: undefined }, DEFAULT_DRAFT);
  assert.equal(normal.priority, "normal");
  assert.equal(normal.advancedOpen, false);
});

Deno.test("429: the server's message without its own countdown, and Retry-After's end", () => {
  const now = 1_000_000;
  const limited = new ApiError(
    429,
    "rate_limited",
    "Too many submits: at most 5 a minute; try again in 42 s",
    [],
    42,
  );
  assert.deepEqual(rateLimitFrom(limited, now), {
    message: "Too many submits: at most 5 a minute",
    until: now + 42_000,
  });
  const active = new ApiError(
    429,
    "rate_limited",
    "This key already has 3 unfinished jobs.",
    [],
    5,
  );
  assert.equal(rateLimitFrom(active, now).message, "This key already has 3 unfinished jobs");
  const unknown = rateLimitFrom(new ApiError(429, "http_429", ""), now);
  assert.deepEqual(unknown, { message: "Too many submits", until: null });
  assert.equal(secondsLeft(now + 42_000, now), 42);
  assert.equal(secondsLeft(now + 41_001, now), 42, "rounded up: never shows 0 too early");
  assert.equal(secondsLeft(now - 5, now), 0);
});
