import assert from "node:assert/strict";
import { PredictionNotFoundError, ProviderError } from "../errors.ts";
import { CircuitOpenError } from "./circuit.ts";
import {
  BUILTIN_ROUTES,
  createOnFirst,
  mapParameters,
  neverAccepted,
  parseModelRoutes,
} from "./routes.ts";
import { providerKindOf } from "./model_ref.ts";
import { ProviderUnreachableError } from "./unreachable.ts";

Deno.test("routes: the built-in table, and MODEL_ROUTES laid over it", () => {
  const builtin = parseModelRoutes();
  assert.deepEqual([...builtin.keys()], Object.keys(BUILTIN_ROUTES));
  assert.deepEqual(builtin.get("flux-schnell")?.targets, [
    { model: "black-forest-labs/flux-schnell", provider: "replicate" },
    { model: "fal:fal-ai/flux/schnell", provider: "fal" },
  ]);
  const table = parseModelRoutes(JSON.stringify({
    "flux-schnell": ["fal:fal-ai/flux/schnell", "black-forest-labs/flux-schnell"],
    "house-style": {
      description: "Our look",
      targets: [
        { model: "fal:fal-ai/fast-sdxl", set: { num_inference_steps: 30 } },
        "local/aurora",
      ],
    },
    "flux-pro": null,
  }));
  assert.equal(table.get("flux-schnell")?.targets[0].provider, "fal");
  assert.equal(table.has("flux-pro"), false);
  assert.equal(table.get("house-style")?.description, "Our look");
  assert.deepEqual(table.get("house-style")?.targets.map((t) => t.provider), ["fal", "local"]);
  assert.match(
    parseModelRoutes('{"mine": ["a/b"]}').get("mine")!.description,
    /a\/b \(replicate\)/,
  );
});

Deno.test("routes: invalid tables are refused with the problem named", () => {
  for (
    const [text, problem] of [
      ["{", /not valid JSON/],
      ["[]", /JSON object/],
      ['{"Bad/Alias": ["a/b"]}', /alias/],
      ['{"x": []}', /1 to 8 targets/],
      ['{"x": ["not a model"]}', /is not a model/],
      ['{"x": ["fal:nope"]}', /is not a model/],
      ['{"x": [{"model": "a/b", "rename": {"a": 1}}]}', /rename/],
      ['{"x": [{"model": "a/b", "drop": "seed"}]}', /drop/],
      ['{"x": [42]}', /a target is a model/],
    ] as const
  ) {
    assert.throws(() => parseModelRoutes(text), problem, text);
  }
});

Deno.test("routes: parameters are mapped into each provider's vocabulary", () => {
  const fal = { provider: "fal" as const };
  assert.deepEqual(
    mapParameters(
      { aspect_ratio: "16:9", num_outputs: 2, output_format: "webp", seed: 5, output_quality: 80 },
      fal,
    ),
    { image_size: "landscape_16_9", num_images: 2, output_format: "jpeg", seed: 5 },
  );
  assert.deepEqual(mapParameters({ width: 512, height: 768, aspect_ratio: "1:1" }, fal), {
    image_size: { width: 512, height: 768 },
  });
  assert.deepEqual(mapParameters({ aspect_ratio: "3:2" }, fal), {
    image_size: { width: 1248, height: 832 },
  });
  assert.deepEqual(mapParameters({ disable_safety_checker: true }, fal), {
    enable_safety_checker: false,
  });
  // fal's own names pass through.
  assert.deepEqual(mapParameters({ image_size: "square", num_images: 3 }, fal), {
    image_size: "square",
    num_images: 3,
  });
  const replicate = { provider: "replicate" as const };
  assert.deepEqual(
    mapParameters({ image_size: "portrait_16_9", num_images: 2, output_format: "jpeg" }, replicate),
    { aspect_ratio: "9:16", num_outputs: 2, output_format: "jpg" },
  );
  assert.deepEqual(mapParameters({ aspect_ratio: "1:1", num_outputs: 1 }, replicate), {
    aspect_ratio: "1:1",
    num_outputs: 1,
  });
  // A target's own rules come last.
  assert.deepEqual(
    mapParameters({ guidance_scale: 3, seed: 1, extra: true }, {
      provider: "replicate",
      rename: { guidance_scale: "guidance" },
      set: { go_fast: true },
      drop: ["extra"],
    }),
    { guidance: 3, seed: 1, go_fast: true },
  );
  assert.deepEqual(mapParameters({ width: 64 }, { provider: "local" }), { width: 64 });
  assert.equal(providerKindOf("local/aurora"), "local");
  assert.equal(providerKindOf("fal:fal-ai/flux/dev"), "fal");
  assert.equal(providerKindOf("owner/name"), "replicate");
});

Deno.test("routes: the failover rule moves on only when the request was never accepted", () => {
  assert.equal(neverAccepted(new ProviderUnreachableError("refused")), true);
  assert.equal(neverAccepted(new CircuitOpenError("replicate", 1000)), true);
  assert.equal(neverAccepted(new ProviderError("x", true, undefined, 503)), true);
  assert.equal(neverAccepted(new ProviderError("x", true, 30_000, 429)), true);
  // Might have been accepted: a timeout, a connection cut mid-request.
  assert.equal(neverAccepted(new ProviderError("no answer within 30000 ms", true)), false);
  assert.equal(neverAccepted(new ProviderError("network error: reset", true)), false);
  // The provider refused the input: another one would too (and it is not an outage).
  assert.equal(neverAccepted(new ProviderError("x", false, undefined, 422)), false);
  assert.equal(neverAccepted(new PredictionNotFoundError("p")), false);
});

Deno.test("routes: createOnFirst tries targets in order and stops at the first acceptance", async () => {
  const targets = ["a", "b", "c"].map((p) => ({ provider: p, model: `${p}/m`, parameters: {} }));
  const tried: string[] = [];
  const skipped: string[] = [];
  const { result, target } = await createOnFirst(targets, (t) => {
    tried.push(t.provider);
    if (t.provider === "a") throw new ProviderUnreachableError("refused");
    return Promise.resolve(`prediction at ${t.provider}`);
  }, (t) => skipped.push(t.provider));
  assert.equal(result, "prediction at b");
  assert.equal(target.provider, "b");
  assert.deepEqual(tried, ["a", "b"]);
  assert.deepEqual(skipped, ["a"]);
  // A timeout stops the walk: the job retries the same target later.
  tried.length = 0;
  await assert.rejects(
    () =>
      createOnFirst(targets, (t) => {
        tried.push(t.provider);
        throw new ProviderError("no answer", true);
      }),
    /no answer/,
  );
  assert.deepEqual(tried, ["a"]);
  // Every target down: the last error.
  await assert.rejects(
    () =>
      createOnFirst(
        targets,
        (t) => Promise.reject(new ProviderError(`${t.provider} 503`, true, undefined, 503)),
      ),
    /c 503/,
  );
  await assert.rejects(() => createOnFirst([], () => Promise.resolve(1)), /No configured provider/);
});
