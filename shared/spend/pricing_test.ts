import assert from "node:assert/strict";
import { parseConfig } from "../config.ts";
import {
  BUILTIN_PRICES,
  costUsd,
  createPricing,
  estimateUsd,
  loadPricing,
  parsePriceTable,
} from "./pricing.ts";

const VERSION = "a".repeat(64);

Deno.test("pricing: the most specific entry wins; local models are free", () => {
  const pricing = createPricing({
    "acme/painter": { per_image: 0.01 },
    [`acme/painter:${VERSION}`]: { per_run: 0.5 },
    "*": { per_second: 0.002, typical_s: 5 },
  });
  assert.deepEqual(pricing.priceOf(`acme/painter:${VERSION}`), {
    key: `acme/painter:${VERSION}`,
    price: { per_run: 0.5 },
  });
  assert.equal(pricing.priceOf(`acme/painter:${"b".repeat(64)}`)?.key, "acme/painter");
  assert.equal(pricing.priceOf("someone/else")?.key, "*");
  assert.equal(pricing.priceOf("local/aurora"), null);
  // Built-in entries stay under the overrides.
  assert.deepEqual(pricing.priceOf("black-forest-labs/flux-schnell")?.price, { per_image: 0.003 });
  assert.equal(createPricing().priceOf("someone/else")?.price, BUILTIN_PRICES["*"]);
});

Deno.test("pricing: estimates before the run, costs after it", () => {
  const pricing = createPricing({
    "a/img": { per_image: 0.003 },
    "a/sec": { per_second: 0.0014, typical_s: 10 },
    "a/run": { per_run: 0.25 },
  });
  assert.equal(estimateUsd(pricing, "a/img", { num_outputs: 4 }), 0.012);
  assert.equal(estimateUsd(pricing, "a/img", {}), 0.003);
  assert.equal(estimateUsd(pricing, "a/sec", {}), 0.014);
  assert.equal(estimateUsd(pricing, "a/run", { num_outputs: 3 }), 0.25);
  assert.equal(estimateUsd(pricing, "local/plasma", { num_outputs: 4 }), 0);

  const ok = { status: "succeeded" as const, outputs: 2, predictTimeS: 1.5 };
  assert.equal(costUsd(pricing, "a/img", ok), 0.006);
  assert.equal(costUsd(pricing, "a/sec", ok), 0.0021);
  assert.equal(costUsd(pricing, "a/run", ok), 0.25);
  assert.equal(costUsd(pricing, "local/plasma", ok), 0);
  // A failed prediction is billed for the time it ran, not for images it did not make.
  const failed = { status: "failed" as const, outputs: 0, predictTimeS: 2 };
  assert.equal(costUsd(pricing, "a/img", failed), 0);
  assert.equal(costUsd(pricing, "a/sec", failed), 0.0028);
  assert.equal(costUsd(pricing, "a/run", failed), 0);
  // Per second without a predict time: unknown.
  assert.equal(costUsd(pricing, "a/sec", { status: "succeeded", outputs: 1 }), null);
});

Deno.test("pricing: PRICING is checked with the other variables, naming each problem", () => {
  assert.throws(() => parsePriceTable("{"), /PRICING is not valid JSON/);
  assert.throws(
    () => parsePriceTable('{"a/b": {"per_image": -1}, "nope": {"per_run": 1}}'),
    (err: Error) =>
      /a\/b\.per_image: must not be negative/.test(err.message) &&
      /keys must be owner\/name/.test(err.message),
  );
  assert.throws(() => parsePriceTable('{"a/b": {"per_image": 1, "per_run": 2}}'), /PRICING/);
  assert.throws(
    () => parseConfig({ PRICING: '{"a/b": {"per_minute": 1}}' }),
    /PRICING: .*per_image/,
  );
  assert.equal(parseConfig({ PRICING: '{"*": {"per_run": 0.01}}' }).PRICING?.startsWith("{"), true);
  // A path is read when the process starts.
  assert.equal(parseConfig({ PRICING: "./prices.json" }).PRICING, "./prices.json");
  assert.equal(parseConfig({}).REPLICATE_PREFER_WAIT_S, 20);
  assert.throws(() => parseConfig({ REPLICATE_PREFER_WAIT_S: "61" }), /REPLICATE_PREFER_WAIT_S/);
});

Deno.test("pricing: loadPricing reads inline JSON or a file, and says why it cannot", async () => {
  assert.equal((await loadPricing(undefined)).priceOf("x/y")?.key, "*");
  const inline = await loadPricing('{"x/y": {"per_run": 1}}');
  assert.deepEqual(inline.priceOf("x/y")?.price, { per_run: 1 });
  const dir = await Deno.makeTempDir();
  try {
    const file = `${dir}/prices.json`;
    await Deno.writeTextFile(file, '{"*": {"per_image": 0.02}}');
    assert.deepEqual((await loadPricing(file)).priceOf("x/y")?.price, { per_image: 0.02 });
    await assert.rejects(loadPricing(`${dir}/missing.json`), /Cannot read PRICING file/);
    await Deno.writeTextFile(file, '{"*": 3}');
    await assert.rejects(loadPricing(file), /PRICING is invalid/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
