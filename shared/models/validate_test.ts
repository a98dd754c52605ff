import assert from "node:assert/strict";
import { fakeOpenApiSchema } from "../testing/fake_replicate_models.ts";
import { localModelCard, type ModelCard } from "./card.ts";
import { inputSchemaOf } from "./schema.ts";
import { createInputValidators } from "./validate.ts";

const FLUX: ModelCard = {
  id: "fake/flux",
  provider: "replicate",
  version: "a".repeat(64),
  title: "flux",
  description: null,
  cover_image_url: null,
  input_schema: inputSchemaOf(fakeOpenApiSchema()),
};
const PNG_DATA =
  "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4nGP4z8AAAAMBAQDJ/pLvAAAAAElFTkSuQmCC";
const UPLOAD = "0b8f3a52-6a1e-4c9d-8f5e-3c2b1a0d9e8f";

function check(input: Record<string, unknown>, strict = true) {
  return createInputValidators().forCard(FLUX).check({ prompt: "p", ...input }, { strict });
}

Deno.test("validate: a valid input has no problems", () => {
  assert.deepEqual(
    check({ aspect_ratio: "16:9", num_outputs: 4, seed: 1, output_format: "png" }),
    [],
  );
});

Deno.test("validate: enum, range, type, required, unknown and uri problems name the field", () => {
  assert.deepEqual(check({ aspect_ratio: "7:3" }), [{
    field: "parameters.aspect_ratio",
    message: 'must be one of "1:1", "16:9", "21:9", "3:2", "2:3", "4:5", "5:4", "3:4", "4:3", ' +
      '"9:16", "9:21" (got "7:3")',
  }]);
  assert.deepEqual(check({ num_inference_steps: 99 }), [
    { field: "parameters.num_inference_steps", message: "must be from 1 to 50 (got 99)" },
  ]);
  assert.deepEqual(check({ num_outputs: 1.5 }), [
    { field: "parameters.num_outputs", message: "must be an integer (got 1.5)" },
  ]);
  const validators = createInputValidators();
  assert.deepEqual(validators.forCard(FLUX).check({ seed: 1 }, { strict: true }), [
    { field: "parameters.prompt", message: "is required by fake/flux" },
  ]);
  const [unknown] = check({ num_inference_step: 4 });
  assert.equal(unknown.field, "parameters.num_inference_step");
  assert.match(
    unknown.message,
    /is not an input of fake\/flux \(did you mean num_inference_steps\?\)/,
  );
  assert.match(unknown.message, /"strict_inputs": false/);
  const [uri] = check({ image: "not a url" });
  assert.equal(uri.field, "parameters.image");
  assert.match(uri.message, /uploaded image .* https:\/\/ URL .* data:image/);
  // Several problems: all of them, one per field.
  assert.equal(check({ aspect_ratio: "x", num_outputs: 9, bogus: 1 }).length, 3);
});

Deno.test("validate: strict_inputs false lets unknown fields through, nothing else", () => {
  assert.deepEqual(check({ lora_scale: 0.8 }, false), []);
  assert.equal(check({ lora_scale: 0.8, num_outputs: 0 }, false).length, 1);
});

Deno.test("validate: image inputs take uploads, https URLs and image data: URIs", () => {
  for (
    const ok of [
      `upload:${UPLOAD}`,
      `/uploads/${UPLOAD}`,
      `https://darkroom.example/uploads/${UPLOAD}`,
      "https://example.com/cat.png",
      PNG_DATA,
    ]
  ) assert.deepEqual(check({ image: ok }), [], ok);
  for (
    const bad of [
      "http://example.com/cat.png",
      "https://user:pw@example.com/x.png",
      "upload:nope",
      "data:image/png;base64,AAAA",
      "data:text/html;base64,PGh0bWw+",
      "/etc/passwd",
      "ftp://x/y.png",
    ]
  ) assert.equal(check({ image: bad }).length, 1, bad);
});

Deno.test("validate: local models keep accepting what they always did, extras included", () => {
  const local = createInputValidators().forCard(localModelCard("local/abstract")!);
  const input = {
    prompt: "p",
    negative_prompt: "n",
    width: 2048,
    height: 64,
    num_outputs: 4,
    seed: 2 ** 32 - 1,
    num_inference_steps: 100,
    guidance_scale: 7.5,
    output_format: "jpg",
    disable_safety_checker: true,
    "random key ✓": { nested: [1, 2] },
  };
  assert.deepEqual(local.check(input, { strict: true }), []);
  assert.equal(local.check({ prompt: "p", width: 4096 }, { strict: true }).length, 1);
  assert.equal(local.check({ prompt: "p", image: "nope" }, { strict: true }).length, 1);
  // Issue 21: more steps than the local provider runs (100) are refused, not silently capped.
  assert.deepEqual(local.check({ prompt: "p", num_inference_steps: 250 }, { strict: true }), [
    { field: "parameters.num_inference_steps", message: "must be from 1 to 100 (got 250)" },
  ]);
});

Deno.test("validate: compiled once per version; a check costs well under 20 µs", () => {
  const validators = createInputValidators();
  const local = localModelCard("local/abstract")!;
  assert.equal(validators.forCard(local), validators.forCard(local), "cached");
  const other = { ...FLUX, version: "b".repeat(64) };
  assert.notEqual(validators.forCard(FLUX), validators.forCard(other), "per version");
  const cases = [
    { card: local, input: { prompt: "a lighthouse", width: 512, height: 512, seed: 42 } },
    { card: FLUX, input: { prompt: "a lighthouse", aspect_ratio: "16:9", num_outputs: 2 } },
  ];
  for (const { card, input } of cases) {
    for (let i = 0; i < 10_000; i++) validators.forCard(card).check(input, { strict: true });
    // Best of five rounds: other processes share this machine's two cores.
    let best = Infinity;
    for (let round = 0; round < 5; round++) {
      const n = 50_000;
      const started = performance.now();
      for (let i = 0; i < n; i++) validators.forCard(card).check(input, { strict: true });
      best = Math.min(best, ((performance.now() - started) * 1000) / n);
    }
    console.log(`validate ${card.id}: ${best.toFixed(3)} µs per check (lookup + Ajv)`);
    assert.ok(best < 20, `${best} µs`);
  }
});
