import assert from "node:assert/strict";
import { fakeOpenApiSchema } from "../testing/fake_replicate_models.ts";
import { imageFields, inputSchemaOf, isImageFieldName, SchemaError } from "./schema.ts";

Deno.test("schema: Cog's allOf/$ref enums are inlined beside their default and description", () => {
  const schema = inputSchemaOf(fakeOpenApiSchema());
  const aspect = schema.properties.aspect_ratio;
  assert.equal(aspect.type, "string");
  assert.deepEqual((aspect.enum as string[]).slice(0, 3), ["1:1", "16:9", "21:9"]);
  // The field's own words win over the referenced schema's ("An enumeration.").
  assert.equal(aspect.description, "Aspect ratio for the generated image");
  assert.equal(aspect.default, "1:1");
  assert.equal(aspect["x-order"], 2);
  assert.equal(aspect.allOf, undefined);
  assert.equal(JSON.stringify(schema).includes("$ref"), false, "no $ref left");
  assert.deepEqual(schema.required, ["prompt"]);
});

Deno.test("schema: properties come in x-order order, fields without one last", () => {
  const openapi = {
    components: {
      schemas: {
        Input: {
          type: "object",
          properties: {
            c: { type: "string" },
            b: { type: "integer", "x-order": 1 },
            a: { type: "integer", "x-order": 0 },
            d: { allOf: [{ $ref: "#/components/schemas/D" }], "x-order": 2 },
          },
        },
        D: { allOf: [{ $ref: "#/components/schemas/E" }], title: "D" },
        E: { type: "string", enum: ["x", "y"] },
      },
    },
  };
  const schema = inputSchemaOf(openapi);
  assert.deepEqual(Object.keys(schema.properties), ["a", "b", "d", "c"]);
  // Nested references resolve all the way down.
  assert.deepEqual(schema.properties.d, {
    type: "string",
    enum: ["x", "y"],
    title: "D",
    "x-order": 2,
  });
});

Deno.test("schema: a missing Input, a dangling or a cyclic $ref is a SchemaError", () => {
  assert.throws(() => inputSchemaOf({}), SchemaError);
  assert.throws(
    () =>
      inputSchemaOf({
        components: {
          schemas: { Input: { properties: { a: { $ref: "#/components/schemas/Nope" } } } },
        },
      }),
    SchemaError,
  );
  assert.throws(
    () =>
      inputSchemaOf({
        components: {
          schemas: {
            Input: { properties: { a: { $ref: "#/components/schemas/A" } } },
            A: { properties: { b: { $ref: "#/components/schemas/A" } } },
          },
        },
      }),
    SchemaError,
  );
});

Deno.test("schema: image inputs are uri fields named like an image, or lists of them", () => {
  for (
    const name of ["image", "input_image", "mask", "control_image", "image_input", "init_image"]
  ) {
    assert.ok(isImageFieldName(name), name);
  }
  for (const name of ["prompt", "imagination", "lora_weights", "images_count_x"]) {
    assert.equal(isImageFieldName(name), name === "images_count_x", name);
  }
  const fields = imageFields({
    type: "object",
    properties: {
      image: { type: "string", format: "uri" },
      mask: { type: "string" },
      image_input: { type: "array", items: { type: "string", format: "uri" } },
      lora_weights: { type: "string", format: "uri" },
    },
  });
  assert.deepEqual(fields, [{ name: "image", many: false }, { name: "image_input", many: true }]);
});
