import assert from "node:assert/strict";
import { ApiError, type JobJson } from "../api_client.ts";
import {
  DEFAULT_DRAFT,
  draft,
  DRAFT_KEY,
  draftFromJob,
  isModelId,
  persistDraft,
  randomSeed,
  rateLimitFrom,
  restoreDraft,
  secondsLeft,
  SEED_MAX,
  setInputs,
} from "./form.ts";

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

Deno.test("reuse settings: the job's parameters become the model's inputs, its seed locked", () => {
  const params = {
    width: 1216,
    height: 832,
    num_outputs: 2,
    seed: 7,
    num_inference_steps: 4,
    scheduler: "K_EULER",
    loras: [{ path: "x", scale: 1 }],
  };
  const d = draftFromJob(jobJson(params), DEFAULT_DRAFT);
  assert.equal(d.prompt, "reuse me");
  assert.equal(d.negativePrompt, "blurry");
  assert.equal(d.model, "black-forest-labs/flux-schnell");
  assert.equal(d.inputsModel, "black-forest-labs/flux-schnell", "fitted to this model's form");
  assert.deepEqual(d.inputs, {
    width: 1216,
    height: 832,
    num_outputs: 2,
    num_inference_steps: 4,
    scheduler: "K_EULER",
  });
  assert.equal(d.seed, 7);
  assert.equal(d.seedLocked, true);
  // What the form cannot hold goes to the extra JSON, as it was sent.
  assert.deepEqual(JSON.parse(d.extraJson), { loras: [{ path: "x", scale: 1 }] });
  assert.equal(d.advancedOpen, true);
  const noSeed = draftFromJob(jobJson({ width: 768 }), DEFAULT_DRAFT);
  assert.equal(noSeed.seedLocked, false);
  assert.equal(noSeed.extraJson, "");
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
    model: "local/aurora",
    inputs: { width: 1344, height: 768, image: "/uploads/a", image_input: ["/uploads/b"] },
    inputsModel: "local/aurora",
    seed: 5,
    seedLocked: true,
  };
  run();
  const reloaded = { value: { ...DEFAULT_DRAFT } };
  persistDraft(reloaded, fake, subscribe);
  assert.equal(reloaded.value.prompt, "remember me");
  assert.deepEqual(reloaded.value.inputs, target.value.inputs);
  assert.equal(reloaded.value.inputsModel, "local/aurora");
  assert.equal(reloaded.value.seed, 5);

  storage.set(DRAFT_KEY, "{not json");
  const broken = { value: { ...DEFAULT_DRAFT } };
  persistDraft(broken, fake, () => () => {});
  assert.deepEqual(broken.value, DEFAULT_DRAFT);

  const weird = restoreDraft({
    prompt: 42,
    aspect: "7:3",
    inputs: { ok: 1, nan: NaN, obj: { a: 1 }, list: [1, 2], yes: true, text: "t" },
    seed: -1,
    seedLocked: true,
    extraJson: "{}",
  });
  assert.equal(weird.prompt, "");
  assert.equal("aspect" in weird, false, "fields of older drafts are not kept");
  assert.deepEqual(weird.inputs, { ok: 1, yes: true, text: "t" });
  assert.deepEqual(restoreDraft({ inputs: [1] }).inputs, {});
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

Deno.test("priority: normal by default, restored, reused from a job", () => {
  assert.equal(DEFAULT_DRAFT.priority, "normal");
  assert.equal(restoreDraft({ priority: "low" }).priority, "low");
  assert.equal(restoreDraft({ priority: "urgent" }).priority, "normal");
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

Deno.test("seeds, model ids and setting inputs", () => {
  assert.equal(randomSeed(() => 0), 0);
  assert.equal(randomSeed(() => 0.9999999999), SEED_MAX);
  assert.equal(isModelId("local/aurora"), true);
  assert.equal(isModelId("owner/name:" + "a".repeat(64)), true);
  assert.equal(isModelId("owner/name:" + "a".repeat(63)), false);
  assert.equal(isModelId("Owner/Name"), false);
  assert.equal(isModelId("not a model"), false);
  draft.value = { ...DEFAULT_DRAFT, inputs: { a: 1, b: 2 } };
  setInputs({ a: undefined, c: "x" });
  assert.deepEqual(draft.value.inputs, { b: 2, c: "x" });
  draft.value = { ...DEFAULT_DRAFT };
});
