import assert from "node:assert/strict";
import { generateRequest, issueDetails, isUuid, jsonProblem, listQuery } from "./schemas.ts";

function fields(body: unknown): string[] {
  const r = generateRequest.safeParse(body);
  return r.success ? [] : issueDetails(r.error).map((d) => d.field);
}

Deno.test("schemas: a minimal request is valid and parameters default to {}", () => {
  const r = generateRequest.parse({ prompt: "a cat", model: "local/abstract" });
  assert.deepEqual(r.parameters, {});
  assert.equal(r.negative_prompt, undefined);
});

Deno.test("schemas: model formats", () => {
  for (
    const ok of [
      "black-forest-labs/flux-schnell",
      "stability-ai/sdxl:" + "a".repeat(64),
      "local/plasma",
      "fal:fal-ai/flux/schnell",
      "fal:fal-ai/flux-pro/v1.1",
      // An alias (a model route) has the shape of a name: whether it exists is the registry's
      // question (an unknown one is refused there, 422 on `model` as well).
      "flux-schnell",
      "flux",
    ]
  ) {
    assert.deepEqual(fields({ prompt: "x", model: ok }), [], ok);
  }
  for (
    const bad of [
      "a/b/c",
      "A/B",
      "a/b:short",
      "",
      " /x",
      "a/b:" + "g".repeat(64),
      "fal:",
      "fal:flux",
      "Flux",
      "fal:a/b:c",
    ]
  ) {
    assert.deepEqual(fields({ prompt: "x", model: bad }), ["model"], bad);
  }
});

Deno.test("schemas: prompt limits, NUL and lone surrogates are refused", () => {
  assert.deepEqual(fields({ prompt: "", model: "a/b" }), ["prompt"]);
  assert.deepEqual(fields({ prompt: "   ", model: "a/b" }), ["prompt"]);
  assert.deepEqual(fields({ prompt: "x".repeat(2001), model: "a/b" }), ["prompt"]);
  assert.deepEqual(fields({ prompt: "x".repeat(2000), model: "a/b" }), []);
  assert.deepEqual(fields({ prompt: "a\u0000b", model: "a/b" }), ["prompt"]);
  assert.deepEqual(fields({ prompt: "a\ud800b", model: "a/b" }), ["prompt"]);
  assert.deepEqual(fields({ prompt: 5, model: "a/b" }), ["prompt"]);
  assert.deepEqual(fields({ prompt: "ok", model: "a/b", negative_prompt: "\u0000" }), [
    "negative_prompt",
  ]);
});

Deno.test("schemas: known Replicate fields are validated", () => {
  const p = (parameters: unknown) => fields({ prompt: "x", model: "a/b", parameters });
  assert.deepEqual(p({ width: 64, height: 2048, num_outputs: 4, seed: 0 }), []);
  assert.deepEqual(p({ width: 63 }), ["parameters.width"]);
  assert.deepEqual(p({ height: 2049 }), ["parameters.height"]);
  assert.deepEqual(p({ width: 512.5 }), ["parameters.width"]);
  assert.deepEqual(p({ num_outputs: 5 }), ["parameters.num_outputs"]);
  assert.deepEqual(p({ num_outputs: 0 }), ["parameters.num_outputs"]);
  assert.deepEqual(p({ seed: 1.5 }), ["parameters.seed"]);
  assert.deepEqual(p({ seed: "42" }), ["parameters.seed"]);
  assert.deepEqual(p([]), ["parameters"]);
  assert.deepEqual(p("x"), ["parameters"]);
  assert.deepEqual(p({ custom_field: { nested: [1, 2, "three"] } }), []);
});

Deno.test("schemas: parameters are bounded in size and depth and must be clean JSON", () => {
  const p = (parameters: unknown) => fields({ prompt: "x", model: "a/b", parameters });
  assert.deepEqual(p({ big: "x".repeat(17 * 1024) }), ["parameters"]);
  let deep: unknown = 1;
  for (let i = 0; i < 10; i++) deep = { d: deep };
  assert.deepEqual(p({ deep }), ["parameters"]);
  assert.deepEqual(p({ bad: "\u0000" }), ["parameters"]);
  assert.equal(jsonProblem({ x: Infinity }), "has a non-finite number");
  assert.equal(jsonProblem({ ["\ud800"]: 1 }), "has invalid Unicode text");
});

Deno.test("schemas: list query bounds", () => {
  assert.deepEqual(listQuery.parse({}), { skip: 0, limit: 20 });
  assert.deepEqual(listQuery.parse({ skip: "5", limit: "100", status: "failed" }), {
    skip: 5,
    limit: 100,
    status: "failed",
  });
  for (
    const bad of [
      { limit: "0" },
      { limit: "101" },
      { skip: "-1" },
      { skip: "abc" },
      {
        skip: "99999999999",
      },
      { limit: "1.5" },
      { status: "weird" },
      { limit: "NaN" },
      { limit: "Infinity" },
    ]
  ) {
    assert.equal(listQuery.safeParse(bad).success, false, JSON.stringify(bad));
  }
});

Deno.test("schemas: uuid check", () => {
  assert.ok(isUuid(crypto.randomUUID()));
  for (const bad of ["", "x", "../etc", "00000000-0000-0000-0000-00000000000g", "%00"]) {
    assert.ok(!isUuid(bad), bad);
  }
});
