import assert from "node:assert/strict";
import { localInputSchema } from "../../shared/models/card.ts";
import { inputSchemaOf, toInputSchema } from "../../shared/models/schema.ts";
import { fakeOpenApiSchema } from "../../shared/testing/fake_replicate_models.ts";
import {
  carryOver,
  checkValue,
  collectInputs,
  describeDropped,
  describeField,
  describeFields,
  type FieldDesc,
  humanize,
  inputKeyForDetail,
  inputNames,
  labelOf,
  leafFields,
} from "./schema_form.ts";

/** name → kind (and the control of a choice), in the order of the form. */
function shape(fields: FieldDesc[]): string[] {
  return fields.map((f) => `${f.name}:${f.kind}${f.kind === "choice" ? `/${f.control}` : ""}`);
}

Deno.test("a local model's form: image, size chips, images 1-4, steps slider, seed", () => {
  const fields = describeFields(localInputSchema());
  assert.deepEqual(shape(fields), [
    "image:image",
    "width:size",
    "num_outputs:choice/segmented",
    "num_inference_steps:number",
    "seed:seed",
  ]);
  const size = fields[1];
  assert.ok(size.kind === "size");
  assert.deepEqual(size.presets, ["1:1", "3:2", "2:3", "16:9", "9:16"]);
  assert.equal(size.width.default, 1024);
  assert.equal(size.height.max, 2048);
  const n = fields[2];
  assert.ok(n.kind === "choice");
  assert.deepEqual(n.options, [1, 2, 3, 4]);
  assert.equal(n.default, 1);
  assert.equal(n.label, "Number of outputs", "a written title is kept");
  const steps = fields[3];
  assert.ok(steps.kind === "number");
  // The local models run at most LOCAL_MAX_STEPS (100) steps (issue 21), and their schema says so.
  assert.deepEqual([steps.min, steps.max, steps.step, steps.slider, steps.default], [
    1,
    100,
    1,
    true,
    20,
  ]);
  assert.ok(fields[0].kind === "image" && !fields[0].many && !fields[0].required);
  assert.match(fields[0].description, /starting image/);
  assert.deepEqual([...inputNames(fields)].sort(), [
    "height",
    "image",
    "num_inference_steps",
    "num_outputs",
    "seed",
    "width",
  ]);
});

Deno.test("a Replicate (Cog) schema: x-order, enums through allOf/$ref, bounds, switch", () => {
  const fields = describeFields(inputSchemaOf(fakeOpenApiSchema()));
  assert.deepEqual(shape(fields), [
    "image:image",
    "aspect_ratio:choice/chips",
    "num_outputs:choice/segmented",
    "num_inference_steps:number",
    "seed:seed",
    "output_format:choice/segmented",
    "width:number",
    "height:number",
    "disable_safety_checker:boolean",
  ]);
  const byName = new Map(fields.map((f) => [f.name, f]));
  const aspect = byName.get("aspect_ratio")!;
  assert.ok(aspect.kind === "choice");
  assert.equal(aspect.options.length, 11);
  assert.equal(aspect.default, "1:1");
  assert.equal(aspect.label, "Aspect ratio", "Cog's title (the enum's name) is humanized");
  assert.equal(byName.get("num_inference_steps")!.label, "Num inference steps");
  const width = byName.get("width")!;
  assert.ok(width.kind === "number" && width.slider && width.default === undefined);
  const safety = byName.get("disable_safety_checker")!;
  assert.ok(safety.kind === "boolean" && safety.default === false);
});

Deno.test("controls: long enums get a select, lists and objects a JSON box, images in lists", () => {
  const select = describeField("scheduler", {
    type: "string",
    enum: ["DDIM", "K_EULER", "K_EULER_ANCESTRAL", "DPMSolverMultistep", "HeunDiscrete", "PNDM"],
  }, false);
  assert.ok(select.kind === "choice" && select.control === "select");
  const short = describeField("quality", { type: "string", enum: ["low", "high"] }, false);
  assert.ok(short.kind === "choice" && short.control === "segmented");
  const long = describeField("mode", {
    type: "string",
    enum: ["a fairly long option label", "b"],
  }, false);
  assert.ok(long.kind === "choice" && long.control === "select");
  const many = describeField("image_input", {
    type: "array",
    items: { type: "string", format: "uri" },
  }, true);
  assert.ok(many.kind === "image" && many.many && many.required);
  assert.equal(describeField("mask", { type: "string", format: "uri" }, false).kind, "image");
  // A URI not named like an image is text; an unnamed shape is JSON.
  assert.equal(describeField("webhook", { type: "string", format: "uri" }, false).kind, "text");
  assert.equal(
    describeField("loras", { type: "array", items: { type: "object" } }, false).kind,
    "json",
  );
  assert.equal(describeField("system_prompt", { type: "string" }, false).kind, "text");
  const sys = describeField("system_prompt", { type: "string" }, false);
  assert.ok(sys.kind === "text" && sys.multiline);
  // Pydantic's Optional[int]: anyOf with null.
  const opt = describeField("strength", {
    anyOf: [{ type: "number", minimum: 0, maximum: 1 }, { type: "null" }],
    default: 0.8,
  }, false);
  assert.ok(opt.kind === "number" && opt.slider && opt.step === 0.01 && opt.default === 0.8);
  const guidance = describeField("guidance", { type: "number", minimum: 0, maximum: 50 }, false);
  assert.ok(guidance.kind === "number" && guidance.step === 0.5);
  const unbounded = describeField("lora_scale", { type: "number" }, false);
  assert.ok(unbounded.kind === "number" && !unbounded.slider);
  const exclusive = describeField("t", { type: "number", exclusiveMinimum: 0, maximum: 2 }, false);
  assert.ok(exclusive.kind === "number" && exclusive.exclusiveMin);
  assert.equal(checkValue(exclusive, 0), "Must be from 0 to 2");
  assert.equal(checkValue(exclusive, 0.1), null);
});

Deno.test("labels: titles kept unless they are Cog's Title Case of the name", () => {
  assert.equal(humanize("num_inference_steps"), "Num inference steps");
  assert.equal(labelOf("go_fast", { title: "Go Fast" }), "Go fast");
  assert.equal(labelOf("aspect_ratio", { title: "aspect_ratio" }), "Aspect ratio");
  assert.equal(labelOf("lora_scale", { title: "LoRA scale" }), "LoRA scale");
  assert.equal(labelOf("seed", {}), "Seed");
});

Deno.test("prompt and negative prompt stay the form's own; width and height with aspect_ratio stay apart", () => {
  const schema = toInputSchema({
    type: "object",
    required: ["prompt"],
    properties: {
      prompt: { type: "string", "x-order": 0 },
      negative_prompt: { type: "string", "x-order": 1 },
      width: { type: "integer", minimum: 256, maximum: 1440, "x-order": 3 },
      height: { type: "integer", minimum: 256, maximum: 1440, "x-order": 4 },
    },
  });
  const fields = describeFields(schema);
  assert.deepEqual(shape(fields), ["width:size"]);
  const size = fields[0];
  assert.ok(size.kind === "size");
  assert.deepEqual(size.presets, ["1:1", "3:2", "2:3", "16:9", "9:16"]);
  const small = describeFields(toInputSchema({
    type: "object",
    properties: {
      width: { type: "integer", minimum: 256, maximum: 1024 },
      height: { type: "integer", minimum: 256, maximum: 1024 },
    },
  }));
  assert.ok(small[0].kind === "size");
  assert.deepEqual(small[0].presets, ["1:1"], "only the chips whose sizes fit");
});

Deno.test("collectInputs: defaults sent, values checked, required ones asked for", () => {
  const fields = describeFields(inputSchemaOf(fakeOpenApiSchema()));
  const ok = collectInputs(fields, { num_inference_steps: 8, image: "/uploads/x" });
  assert.deepEqual(ok.errors, {});
  assert.deepEqual(ok.parameters, {
    image: "/uploads/x",
    aspect_ratio: "1:1",
    num_outputs: 1,
    num_inference_steps: 8,
    output_format: "webp",
    disable_safety_checker: false,
  });
  assert.ok(!("seed" in ok.parameters), "the seed is the caller's");
  const bad = collectInputs(fields, {
    num_inference_steps: 99,
    aspect_ratio: "7:3",
    width: "12px",
    disable_safety_checker: "yes",
  });
  assert.deepEqual(bad.errors, {
    "parameters.aspect_ratio":
      "Choose one of 1:1, 16:9, 21:9, 3:2, 2:3, 4:5, 5:4, 3:4, 4:3, 9:16, 9:21",
    "parameters.num_inference_steps": "Must be from 1 to 50",
    "parameters.width": "Must be a number",
    "parameters.disable_safety_checker": "Must be on or off",
  });
  const required = describeFields(toInputSchema({
    type: "object",
    required: ["input_image", "image_input", "style"],
    properties: {
      input_image: { type: "string", format: "uri" },
      image_input: { type: "array", items: { type: "string", format: "uri" } },
      style: { type: "string" },
      extra: { type: "object", default: { a: 1 } },
      steps: { type: "integer", minimum: 1, maximum: 100 },
    },
  }));
  const missing = collectInputs(required, { image_input: [], steps: 2.5 });
  assert.deepEqual(missing.errors, {
    "parameters.input_image": "Add an image",
    "parameters.image_input": "Add an image",
    "parameters.style": "Required",
    "parameters.steps": "Must be a whole number",
  });
  const json = collectInputs(required, {
    input_image: "upload:1",
    image_input: ["/uploads/a", "/uploads/b"],
    style: "",
    extra: '{"b": [1, 2]}',
  });
  assert.deepEqual(json.errors, {});
  assert.deepEqual(json.parameters.extra, { b: [1, 2] });
  assert.deepEqual(json.parameters.image_input, ["/uploads/a", "/uploads/b"]);
  const broken = collectInputs(required, { extra: "{nope" });
  assert.equal(broken.errors["parameters.extra"], "Not valid JSON");
});

Deno.test("carryOver: values fit for the new model stay, the others are dropped and named", () => {
  const local = describeFields(localInputSchema());
  const replicate = describeFields(inputSchemaOf(fakeOpenApiSchema()));
  const { inputs, dropped } = carryOver(
    { image: "/uploads/a", num_inference_steps: 200, num_outputs: 3, width: 832, loras: "x" },
    replicate,
    local,
  );
  assert.deepEqual(inputs, { image: "/uploads/a", num_outputs: 3, width: 832 });
  assert.deepEqual(dropped.map((d) => [d.name, d.label]), [
    ["num_inference_steps", "Steps"],
    ["loras", "Loras"],
  ]);
  assert.deepEqual(dropped.map(describeDropped), ["Steps 200", "Loras x"]);
  assert.equal(describeDropped({ name: "image", label: "Image", value: "/uploads/a" }), "Image");
  assert.equal(describeDropped({ name: "i", label: "Images", value: ["a", "b"] }), "Images (2)");
  const back = carryOver({ aspect_ratio: "21:9", output_format: "png" }, local, replicate);
  assert.deepEqual(back.inputs, {});
  assert.deepEqual(back.dropped.map((d) => d.label), ["Aspect ratio", "Output format"]);
});

Deno.test("422 details find their input: parameters.<name> (lists by their base name)", () => {
  const names = inputNames(describeFields(inputSchemaOf(fakeOpenApiSchema())));
  assert.equal(
    inputKeyForDetail("parameters.num_inference_steps", names),
    "parameters.num_inference_steps",
  );
  assert.equal(inputKeyForDetail("parameters.image.0", names), "parameters.image");
  assert.equal(inputKeyForDetail("parameters.scheduler", names), null);
  assert.equal(inputKeyForDetail("prompt", names), null);
  assert.equal(leafFields(describeFields(localInputSchema())).length, 6);
});
