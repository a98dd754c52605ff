/** fal model cards: from the fal provider's schema reader, kept by the catalogue, checked at submit. */
import assert from "node:assert/strict";
import { silentLogger } from "../logger.ts";
import { createFalProvider } from "../providers/fal.ts";
import { createTestDb } from "../testing/db.ts";
import { startFakeFal } from "../testing/fake_fal.ts";
import { InputSchemaMissingError } from "./card.ts";
import { createModelCatalogue } from "./catalogue.ts";
import { createFalModelSource, falInputSchema } from "./fal_models.ts";
import { checkInputs } from "./inputs.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

Deno.test("fal schema: $refs inlined, x-fal-order-properties as x-order, components dropped", () => {
  const schema = falInputSchema({
    type: "object",
    required: ["prompt"],
    "x-fal-order-properties": ["prompt", "size"],
    properties: {
      extra: { type: "boolean" },
      size: { $ref: "#/components/schemas/Size" },
      prompt: { type: "string" },
    },
    components: {
      schemas: { Size: { type: "string", enum: ["s", "m"], title: "Size" } },
    },
  });
  assert.deepEqual(Object.keys(schema.properties), ["prompt", "size", "extra"]);
  assert.deepEqual(schema.properties.size, {
    type: "string",
    enum: ["s", "m"],
    title: "Size",
    "x-order": 1,
  });
  assert.equal(schema.properties.extra["x-order"], undefined);
  assert.equal(schema.components, undefined);
});

Deno.test({
  name: "fal cards: fetched once and kept in memory; no published schema passes unchecked",
  ...opts,
  fn: async () => {
    await using fake = await startFakeFal({ noSchema: ["fal-ai/private-thing"] });
    const t = await createTestDb();
    try {
      const fal = createFalProvider({
        key: fake.key,
        queueUrl: fake.url,
        timeoutMs: 2000,
        openapiUrl: fake.openapiUrl,
      });
      const catalogue = createModelCatalogue({
        db: t.db,
        sources: { fal: createFalModelSource({ inputSchema: fal.inputSchema!.bind(fal) }) },
      });
      assert.ok(catalogue.describes("fal"));
      const card = await catalogue.get("fal:fal-ai/flux/schnell");
      assert.equal(card.provider, "fal");
      assert.equal(card.version, null);
      assert.equal(catalogue.peek("fal:fal-ai/flux/schnell"), card);
      const log = silentLogger;
      const ok = await checkInputs(catalogue, {
        model: "fal:fal-ai/flux/schnell",
        prompt: "a cat",
        parameters: { num_images: 2 },
      }, { provider: "fal", log });
      assert.equal(ok.validated, true);
      await assert.rejects(
        checkInputs(catalogue, {
          model: "fal:fal-ai/flux/schnell",
          prompt: "a cat",
          parameters: { num_images: 2 },
        }, { provider: "fal", sent: { num_images: 5 }, log }),
        /parameters\.num_images/,
      );
      await assert.rejects(
        catalogue.get("fal:fal-ai/private-thing", { provider: "fal" }),
        InputSchemaMissingError,
      );
      const open = await checkInputs(catalogue, {
        model: "fal:fal-ai/private-thing",
        prompt: "a cat",
        parameters: { whatever: 1 },
      }, { provider: "fal", log });
      assert.equal(open.validated, false);
      // Each document was read once.
      assert.equal(fake.requestsTo("GET", "/api/openapi/queue/openapi.json").length, 2);
    } finally {
      await t.cleanup();
    }
  },
});
