import assert from "node:assert/strict";
import { localInputSchema } from "../../shared/models/card.ts";
import { inputSchemaOf } from "../../shared/models/schema.ts";
import { fakeOpenApiSchema } from "../../shared/testing/fake_replicate_models.ts";
import type { JobJson } from "../api_client.ts";
import { DEFAULT_DRAFT, type Draft, draftFromJob, type ModelForm, SEED_MAX } from "./form.ts";
import {
  buildRequest,
  errorsFromDetails,
  fieldForDetail,
  fitDraft,
  parseExtraJson,
} from "./request.ts";
import { describeFields, inputNames } from "./schema_form.ts";

const LOCAL: ModelForm = { fields: describeFields(localInputSchema()), negativePrompt: true };
const REPLICATE: ModelForm = {
  fields: describeFields(inputSchemaOf(fakeOpenApiSchema())),
  negativePrompt: false,
};
const base: Draft = {
  ...DEFAULT_DRAFT,
  prompt: "a lighthouse",
  model: "local/aurora",
  inputsModel: "local/aurora",
};
const fixed = () => 0.5;

function ok(draft: Draft, form: ModelForm | null = LOCAL, random = fixed) {
  const r = buildRequest(draft, form, random);
  if (!r.ok) throw new Error(`unexpected errors: ${JSON.stringify(r.errors)}`);
  return r;
}

Deno.test("body: every input of the model, set or default; prompt as typed, model trimmed", () => {
  const { body } = ok({
    ...base,
    prompt: "  two spaces ",
    model: " local/aurora ",
    inputs: { width: 1344, height: 768, num_outputs: 3 },
  });
  assert.equal(body.prompt, "  two spaces ");
  assert.equal(body.model, "local/aurora");
  assert.deepEqual(body.parameters, {
    width: 1344,
    height: 768,
    num_outputs: 3,
    num_inference_steps: 20,
    seed: Math.floor(0.5 * 2 ** 32),
  });
  assert.equal("negative_prompt" in body, false, "an empty negative prompt is left out");
  assert.equal(body.priority, "normal");
  const neg = ok({ ...base, negativePrompt: "blurry" }).body;
  assert.equal(neg.negative_prompt, "blurry");
  // A model without a negative prompt input is not sent one (it would be refused).
  const rep = ok({ ...base, model: "acme/painter", negativePrompt: "blurry" }, REPLICATE).body;
  assert.equal("negative_prompt" in rep, false);
  assert.deepEqual(Object.keys(rep.parameters), [
    "aspect_ratio",
    "num_outputs",
    "num_inference_steps",
    "output_format",
    "disable_safety_checker",
    "seed",
  ]);
});

Deno.test("seed: locked is sent as is; unlocked draws a new one each time; none without the input", () => {
  assert.equal(ok({ ...base, seed: 42, seedLocked: true }).body.parameters.seed, 42);
  const a = ok({ ...base, seed: 42, seedLocked: false }, LOCAL, () => 0.25);
  assert.equal(a.body.parameters.seed, Math.floor(0.25 * 2 ** 32));
  assert.equal(a.seed, a.body.parameters.seed);
  const b = ok({ ...base, seed: null, seedLocked: false }, LOCAL, () => 0.75);
  assert.notEqual(b.body.parameters.seed, a.body.parameters.seed);
  const bad = buildRequest({ ...base, seed: SEED_MAX + 1, seedLocked: true }, LOCAL);
  assert.ok(!bad.ok && bad.errors["parameters.seed"]);
  const noSeed: ModelForm = {
    fields: LOCAL.fields.filter((f) => f.kind !== "seed"),
    negativePrompt: true,
  };
  const none = ok({ ...base, seed: 42, seedLocked: true }, noSeed);
  assert.equal("seed" in none.body.parameters, false);
  assert.equal(none.seed, null);
});

Deno.test("extra JSON is merged last and wins over the form's fields", () => {
  const { body } = ok({
    ...base,
    inputs: { num_inference_steps: 20 },
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
  const r = buildRequest({ ...base, extraJson: "[]" }, LOCAL);
  assert.ok(!r.ok && r.errors.extraJson);
});

Deno.test("client-side checks report every bad field at once, the model's inputs by name", () => {
  const r = buildRequest({
    ...base,
    prompt: "   ",
    model: "not a model",
    inputs: { num_inference_steps: 0, num_outputs: 5, width: 1e6 },
  }, LOCAL);
  assert.equal(r.ok, false);
  if (r.ok) return;
  assert.deepEqual(Object.keys(r.errors).sort(), [
    "model",
    "parameters.num_inference_steps",
    "parameters.num_outputs",
    "parameters.width",
    "prompt",
  ]);
  const long = buildRequest({ ...base, prompt: "x".repeat(2001) }, LOCAL);
  assert.ok(!long.ok && /2000/.test(long.errors.prompt!));
  assert.equal(buildRequest({ ...base, prompt: "x".repeat(2000) }, LOCAL).ok, true);
  assert.equal(buildRequest({ ...base, model: "owner/name:" + "a".repeat(64) }, null).ok, true);
});

Deno.test("without the model's schema the values set are sent as they are", () => {
  const { body } = ok({ ...base, inputs: { steps: 3 }, seed: 9, seedLocked: true }, null);
  assert.deepEqual(body.parameters, { steps: 3, seed: 9 });
  const unlocked = ok({ ...base, inputs: {}, seed: 9, seedLocked: false }, null);
  assert.deepEqual(
    unlocked.body.parameters,
    {},
    "a random seed only for a model known to take one",
  );
  assert.equal(ok({ ...base, negativePrompt: "x" }, null).body.negative_prompt, "x");
});

Deno.test("API error details land next to their field", () => {
  const names = inputNames(LOCAL.fields);
  assert.equal(fieldForDetail("prompt"), "prompt");
  assert.equal(fieldForDetail("negative_prompt"), "negativePrompt");
  assert.equal(fieldForDetail("priority"), "priority");
  assert.equal(fieldForDetail("model", names), "model");
  assert.equal(fieldForDetail("parameters.width", names), "parameters.width");
  assert.equal(fieldForDetail("parameters.seed", names), "parameters.seed");
  assert.equal(fieldForDetail("parameters.scheduler", names), "extraJson");
  assert.equal(fieldForDetail("parameters.width"), "extraJson", "no schema: on the extra JSON");
  assert.equal(fieldForDetail("parameters"), "extraJson");
  assert.equal(fieldForDetail("(body)"), "form");
  const errors = errorsFromDetails(
    [
      { field: "prompt", message: "prompt must not be empty" },
      { field: "parameters.num_inference_steps", message: "must be from 1 to 500 (got 900)" },
      { field: "parameters.width", message: "must be at most 2048" },
      { field: "parameters.width", message: "must be a multiple of 8" },
      { field: "parameters.scheduler", message: "is not an input of local/aurora" },
      { field: "strict_inputs", message: "must be a boolean" },
    ],
    "Request body is invalid",
    names,
  );
  assert.deepEqual(errors, {
    prompt: "prompt must not be empty",
    "parameters.num_inference_steps": "must be from 1 to 500 (got 900)",
    "parameters.width": "must be at most 2048; must be a multiple of 8",
    extraJson: "parameters.scheduler: is not an input of local/aurora",
    form: "strict_inputs: must be a boolean",
  });
  assert.deepEqual(errorsFromDetails([], "The queue is unavailable"), {
    form: "The queue is unavailable",
  });
});

Deno.test("fitDraft: another model's values carry over where they fit, the rest is dropped", () => {
  const d: Draft = {
    ...base,
    model: "acme/painter",
    inputs: { image: "/uploads/a", num_outputs: 2, num_inference_steps: 200, width: 832 },
    extraJson: '{"scheduler": "x"}',
  };
  const fitted = fitDraft(d, "acme/painter", REPLICATE.fields, LOCAL.fields);
  assert.ok(fitted);
  assert.deepEqual(fitted.draft.inputs, { image: "/uploads/a", num_outputs: 2, width: 832 });
  assert.equal(fitted.draft.inputsModel, "acme/painter");
  assert.equal(fitted.draft.extraJson, d.extraJson, "the extra JSON is the user's: kept");
  assert.deepEqual(fitted.dropped.map((x) => `${x.label}=${x.value}`), ["Steps=200"]);
  // Fitted already: nothing to do.
  assert.equal(fitDraft(fitted.draft, "acme/painter", REPLICATE.fields), null);
});

Deno.test("fitDraft: a reused job's parameters its form lacks move to the extra JSON", () => {
  const job = {
    prompt: "again",
    negative_prompt: null,
    model: "local/aurora",
    parameters: { width: 1216, height: 832, aspect_ratio: "3:2", num_outputs: 2, seed: 7 },
    priority: "normal",
  } as unknown as JobJson;
  const reused = draftFromJob(job, DEFAULT_DRAFT);
  const fitted = fitDraft(reused, "local/aurora", LOCAL.fields);
  assert.ok(fitted);
  assert.deepEqual(fitted.dropped, []);
  assert.deepEqual(fitted.draft.inputs, { width: 1216, height: 832, num_outputs: 2 });
  assert.deepEqual(JSON.parse(fitted.draft.extraJson), { aspect_ratio: "3:2" });
  assert.equal(fitted.draft.advancedOpen, true, "the extra parameters are shown");
  // The same request again: every parameter of the job, with its seed.
  const again = ok(fitted.draft).body;
  assert.equal(again.parameters.seed, 7);
  assert.deepEqual(again.parameters, { ...job.parameters, num_inference_steps: 20 });
  // A draft restored from an older page (no inputsModel) is fitted the same way.
  const old = fitDraft({ ...reused, inputsModel: "" }, "local/aurora", LOCAL.fields);
  assert.deepEqual(old?.dropped, []);
  // Extra JSON that does not parse cannot take them: they are dropped and said so.
  const broken = fitDraft({ ...reused, extraJson: "{" }, "local/aurora", LOCAL.fields);
  assert.deepEqual(broken?.dropped.map((x) => x.name), ["aspect_ratio"]);
});
