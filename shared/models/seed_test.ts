import assert from "node:assert/strict";
import { localModelCard, type ModelCard } from "./card.ts";
import { randomSeed, withSeed } from "./seed.ts";

const card = (seed?: Record<string, unknown>): ModelCard => ({
  id: "acme/model",
  provider: "replicate",
  version: null,
  title: "m",
  description: null,
  cover_image_url: null,
  input_schema: {
    type: "object",
    properties: { prompt: { type: "string" }, ...(seed ? { seed } : {}) },
  },
});

Deno.test("seed: picked within the schema's range when the model takes one and none is given", () => {
  const local = localModelCard("local/aurora");
  const filled = withSeed({ width: 512 }, local);
  assert.equal(filled.width, 512);
  assert.ok(Number.isInteger(filled.seed) && (filled.seed as number) <= 2 ** 32 - 1);
  assert.deepEqual(withSeed({ seed: 3 }, local), { seed: 3 }, "a given seed is kept");
  assert.equal(typeof withSeed({ seed: null }, local).seed, "number", "null asks for one");
  const ranges: [Record<string, unknown>, number, number][] = [
    [{ type: "integer" }, 0, 2 ** 32 - 1],
    [{ type: "integer", minimum: 10, maximum: 20 }, 10, 20],
    [{ type: "integer", maximum: 2 ** 31 - 1 }, 0, 2 ** 31 - 1],
    [{ type: "integer", minimum: -5, maximum: 2 ** 40 }, 0, 2 ** 32 - 1],
  ];
  for (const [field, min, max] of ranges) {
    const asked: number[][] = [];
    withSeed({}, card(field), (lo, hi) => (asked.push([lo, hi]), lo));
    assert.deepEqual(asked, [[min, max]], JSON.stringify(field));
  }
  // No seed input, a seed that is no number, or no schema at all: nothing added.
  assert.deepEqual(withSeed({}, card()), {});
  assert.deepEqual(withSeed({}, card({ type: "string" })), {});
  assert.deepEqual(withSeed({}, null), {});
  for (let i = 0; i < 200; i++) {
    const n = randomSeed(5, 7);
    assert.ok(n >= 5 && n <= 7 && Number.isInteger(n));
  }
});
