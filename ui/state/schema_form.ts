/**
 * The Generate form built from a model's input schema: schema → field descriptors (which control
 * each input gets), the values the user set → `parameters` (with defaults and checks), values
 * carried from one model to another, and the API's 422 details mapped onto the fields.
 */
import type { InputSchema, JsonSchema } from "../../shared/models/schema.ts";
// The rule that says which inputs are images has one home, shared with the server (pure code).
import { isImageFieldName, isObject } from "../../shared/models/schema.ts";

/** A value the form holds for an input (a JSON field keeps its text until it is sent). */
export type InputValue = string | number | boolean | string[];
/** The values the user set, by input name (an input left alone is absent: its default applies). */
export type Inputs = Record<string, InputValue>;

/** Inputs the form handles itself (the prompt boxes), never rendered from the schema. */
export const PROMPT_INPUTS = new Set(["prompt", "negative_prompt"]);

/** Sizes offered as aspect-ratio chips for models that take a width and a height. */
export const ASPECTS = {
  "1:1": { width: 1024, height: 1024 },
  "3:2": { width: 1216, height: 832 },
  "2:3": { width: 832, height: 1216 },
  "16:9": { width: 1344, height: 768 },
  "9:16": { width: 768, height: 1344 },
} as const;

/** One of the aspect-ratio chips ("16:9"). */
export type Aspect = keyof typeof ASPECTS;
/** The chips in the order they are shown. */
export const ASPECT_KEYS = Object.keys(ASPECTS) as Aspect[];

interface BaseField {
  name: string;
  label: string;
  description: string;
  required: boolean;
}

/** A number input: a slider with a number box when bounded, a number box alone otherwise. */
export interface NumberFieldDesc extends BaseField {
  kind: "number";
  integer: boolean;
  min?: number;
  max?: number;
  /** The bounds exclude themselves (`exclusiveMinimum`/`exclusiveMaximum`). */
  exclusiveMin?: boolean;
  exclusiveMax?: boolean;
  step: number;
  slider: boolean;
  default?: number;
}

/** A choice among a few values: segmented control, aspect chips or a select. */
export interface ChoiceFieldDesc extends BaseField {
  kind: "choice";
  control: "segmented" | "chips" | "select";
  options: (string | number)[];
  default?: string | number;
}

/** A leaf descriptor: one input, one control. */
export type LeafField =
  | NumberFieldDesc
  | ChoiceFieldDesc
  | BaseField & { kind: "image"; many: boolean }
  | BaseField & { kind: "boolean"; default?: boolean }
  | BaseField & { kind: "text"; multiline: boolean; maxLength?: number; default?: string }
  | BaseField & { kind: "seed"; min: number; max: number }
  | BaseField & { kind: "json"; default?: unknown };

/** Width and height shown together: aspect chips plus the two number boxes. */
export interface SizeFieldDesc extends BaseField {
  kind: "size";
  width: NumberFieldDesc;
  height: NumberFieldDesc;
  /** The chips whose size both inputs accept. */
  presets: Aspect[];
}

/** What the form renders for one input (or for width and height together). */
export type FieldDesc = LeafField | SizeFieldDesc;

/** Options at most this many, each at most this long, make a segmented control. */
const SEGMENTED_MAX = 5;
const SEGMENTED_LABEL_MAX = 12;
/** A bounded number with a wider range than this gets a number box only. */
const SLIDER_MAX_RANGE = 100_000;

/** "num_inference_steps" → "Num inference steps". */
export function humanize(name: string): string {
  const words = name.replace(/[_-]+/g, " ").trim();
  return words ? words[0].toUpperCase() + words.slice(1).toLowerCase() : name;
}

/** The label of an input: its title unless that is just Cog's Title Case of the name. */
export function labelOf(name: string, field: JsonSchema): string {
  const title = typeof field.title === "string" ? field.title.trim() : "";
  const auto = name.split("_").map((w) => w && w[0].toUpperCase() + w.slice(1)).join(" ");
  if (!title || title === name || title === auto) return humanize(name);
  return title;
}

/** The field with a nullable `anyOf`/`oneOf` (Pydantic's `Optional`) flattened into it. */
function flatten(field: JsonSchema): JsonSchema {
  if (field.type !== undefined || field.enum !== undefined) return field;
  const branches = (Array.isArray(field.anyOf) ? field.anyOf : field.oneOf) as unknown;
  if (!Array.isArray(branches)) return field;
  const first = branches.find((b) => isObject(b) && b.type !== "null");
  return isObject(first) ? { ...first, ...field } : field;
}

function num(v: unknown): number | undefined {
  return typeof v === "number" && Number.isFinite(v) ? v : undefined;
}

function numberDesc(base: BaseField, field: JsonSchema, integer: boolean): NumberFieldDesc {
  const exMin = num(field.exclusiveMinimum);
  const exMax = num(field.exclusiveMaximum);
  const min = num(field.minimum) ?? exMin;
  const max = num(field.maximum) ?? exMax;
  const range = min !== undefined && max !== undefined ? max - min : Infinity;
  const step = integer ? 1 : range <= 1 ? 0.01 : range <= 20 ? 0.1 : range <= 200 ? 0.5 : 1;
  const desc: NumberFieldDesc = {
    ...base,
    kind: "number",
    integer,
    step,
    slider: range > 0 && range <= SLIDER_MAX_RANGE,
  };
  if (min !== undefined) desc.min = min;
  if (max !== undefined) desc.max = max;
  if (exMin !== undefined && field.minimum === undefined) desc.exclusiveMin = true;
  if (exMax !== undefined && field.maximum === undefined) desc.exclusiveMax = true;
  const def = num(field.default);
  if (def !== undefined) desc.default = def;
  return desc;
}

function choiceControl(name: string, options: (string | number)[]): ChoiceFieldDesc["control"] {
  const ratios = options.filter((o) => typeof o === "string" && /^\d+:\d+$/.test(o)).length;
  if (name === "aspect_ratio" || ratios >= Math.max(2, options.length - 2)) return "chips";
  const short = options.every((o) => String(o).length <= SEGMENTED_LABEL_MAX);
  return options.length <= SEGMENTED_MAX && short ? "segmented" : "select";
}

/** The descriptor of one input. */
export function describeField(name: string, raw: JsonSchema, required: boolean): LeafField {
  const field = flatten(raw);
  const base: BaseField = {
    name,
    label: labelOf(name, field),
    description: typeof field.description === "string" ? field.description.trim() : "",
    required,
  };
  const type = field.type;
  const items = isObject(field.items) ? field.items : undefined;
  if (isImageFieldName(name)) {
    if (field.format === "uri") return { ...base, kind: "image", many: false };
    if (type === "array" && items?.format === "uri") return { ...base, kind: "image", many: true };
  }
  if (name === "seed" && type === "integer") {
    return {
      ...base,
      kind: "seed",
      min: num(field.minimum) ?? 0,
      max: num(field.maximum) ?? 2 ** 32 - 1,
    };
  }
  if (Array.isArray(field.enum) && field.enum.length > 0) {
    const options = field.enum.filter((o): o is string | number =>
      typeof o === "string" || (typeof o === "number" && Number.isFinite(o))
    );
    if (options.length === field.enum.length) {
      const desc: ChoiceFieldDesc = {
        ...base,
        kind: "choice",
        control: choiceControl(name, options),
        options,
      };
      if (options.includes(field.default as string | number)) {
        desc.default = field.default as string | number;
      }
      return desc;
    }
  }
  if (type === "boolean") {
    return typeof field.default === "boolean"
      ? { ...base, kind: "boolean", default: field.default }
      : { ...base, kind: "boolean" };
  }
  if (type === "integer" || type === "number") {
    const desc = numberDesc(base, field, type === "integer");
    // A handful of whole numbers (1–4 images) reads best as a segmented control.
    if (
      desc.integer && desc.min !== undefined && desc.max !== undefined && !desc.exclusiveMin &&
      !desc.exclusiveMax && desc.max - desc.min < SEGMENTED_MAX && desc.max >= desc.min
    ) {
      const options = Array.from({ length: desc.max - desc.min + 1 }, (_, i) => desc.min! + i);
      const choice: ChoiceFieldDesc = { ...base, kind: "choice", control: "segmented", options };
      if (desc.default !== undefined && options.includes(desc.default)) {
        choice.default = desc.default;
      }
      return choice;
    }
    return desc;
  }
  if (type === "string") {
    const maxLength = num(field.maxLength);
    const desc: LeafField = {
      ...base,
      kind: "text",
      multiline: /prompt|text|caption|instruction/i.test(name) || (maxLength ?? 0) > 200,
    };
    if (maxLength !== undefined) desc.maxLength = maxLength;
    if (typeof field.default === "string") desc.default = field.default;
    return desc;
  }
  const json: LeafField = { ...base, kind: "json" };
  if (field.default !== undefined) json.default = field.default;
  return json;
}

/**
 * The form of a model: one descriptor per input in the schema's order (`x-order`), except the
 * prompt boxes. A width and a height taken as bounded integers (and no `aspect_ratio` choice)
 * become one size field with aspect chips.
 */
export function describeFields(schema: InputSchema): FieldDesc[] {
  const required = new Set(Array.isArray(schema.required) ? schema.required : []);
  const leaves: LeafField[] = [];
  for (const [name, field] of Object.entries(schema.properties ?? {})) {
    if (PROMPT_INPUTS.has(name) || !isObject(field)) continue;
    leaves.push(describeField(name, field, required.has(name)));
  }
  const width = leaves.find((f) => f.name === "width");
  const height = leaves.find((f) => f.name === "height");
  const hasAspect = leaves.some((f) => f.name === "aspect_ratio");
  if (
    hasAspect || width?.kind !== "number" || height?.kind !== "number" || !width.integer ||
    !height.integer
  ) {
    return leaves;
  }
  const fits = (n: number, f: NumberFieldDesc) =>
    (f.min === undefined || n >= f.min) && (f.max === undefined || n <= f.max);
  const size: SizeFieldDesc = {
    name: "width",
    label: "Size",
    description: "",
    required: width.required || height.required,
    kind: "size",
    width,
    height,
    presets: ASPECT_KEYS.filter((k) =>
      fits(ASPECTS[k].width, width) && fits(ASPECTS[k].height, height)
    ),
  };
  return leaves.filter((f) => f !== height).map((f) => f === width ? size : f);
}

/** Every input the fields stand for (width and height of a size field separately). */
export function leafFields(fields: FieldDesc[]): LeafField[] {
  return fields.flatMap((f) => f.kind === "size" ? [f.width, f.height] : [f]);
}

/** Names of the inputs the fields stand for. */
export function inputNames(fields: FieldDesc[]): Set<string> {
  return new Set(leafFields(fields).map((f) => f.name));
}

/** The value an input has in the form: the one the user set, or its default. */
export function valueOf(field: LeafField, inputs: Inputs): unknown {
  const v = inputs[field.name];
  return v !== undefined ? v : "default" in field ? field.default : undefined;
}

function rangeText(f: { min?: number; max?: number }): string {
  if (f.min !== undefined && f.max !== undefined) return `from ${f.min} to ${f.max}`;
  return f.min !== undefined ? `at least ${f.min}` : `at most ${f.max}`;
}

/** Why a value does not fit its input, or null when it does. */
export function checkValue(field: LeafField, value: unknown): string | null {
  switch (field.kind) {
    case "choice":
      return field.options.includes(value as string | number)
        ? null
        : `Choose one of ${field.options.join(", ")}`;
    case "seed":
    case "number": {
      if (typeof value !== "number" || !Number.isFinite(value)) return "Must be a number";
      const integer = field.kind === "seed" || field.integer;
      if (integer && !Number.isInteger(value)) return "Must be a whole number";
      const f = field.kind === "seed"
        ? { ...field, exclusiveMin: false, exclusiveMax: false }
        : field;
      const low = f.min !== undefined && (f.exclusiveMin ? value <= f.min : value < f.min);
      const high = f.max !== undefined && (f.exclusiveMax ? value >= f.max : value > f.max);
      return low || high ? `Must be ${rangeText(f)}` : null;
    }
    case "boolean":
      return typeof value === "boolean" ? null : "Must be on or off";
    case "text":
      if (typeof value !== "string") return "Must be text";
      return field.maxLength !== undefined && value.length > field.maxLength
        ? `At most ${field.maxLength} characters`
        : null;
    case "image":
      if (field.many) {
        return Array.isArray(value) && value.every((v) => typeof v === "string" && v)
          ? null
          : "Must be a list of images";
      }
      return typeof value === "string" && value ? null : "Must be an image";
    case "json":
      if (typeof value !== "string") return "Must be JSON";
      try {
        JSON.parse(value);
        return null;
      } catch {
        return "Not valid JSON";
      }
  }
}

/** An error keyed by the input it belongs to (`parameters.<name>`, as the API names it). */
export type InputErrorKey = `parameters.${string}`;

/**
 * The `parameters` the fields send: every input the user set (checked), or its default when it
 * has one. A required input with neither is an error. The seed is the caller's (it has a lock).
 */
export function collectInputs(
  fields: FieldDesc[],
  inputs: Inputs,
): { parameters: Record<string, unknown>; errors: Partial<Record<InputErrorKey, string>> } {
  const parameters: Record<string, unknown> = {};
  const errors: Partial<Record<InputErrorKey, string>> = {};
  for (const field of leafFields(fields)) {
    if (field.kind === "seed") continue;
    const set = inputs[field.name];
    const value = valueOf(field, inputs);
    if (
      value === undefined || (field.kind === "image" && field.many && !(set as string[])?.length)
    ) {
      if (field.required) {
        errors[`parameters.${field.name}`] = field.kind === "image" ? "Add an image" : "Required";
      }
      continue;
    }
    if (set === undefined) {
      parameters[field.name] = value; // a default, from the schema itself
      continue;
    }
    const problem = checkValue(field, set);
    if (problem) errors[`parameters.${field.name}`] = problem;
    else parameters[field.name] = field.kind === "json" ? JSON.parse(set as string) : set;
  }
  return { parameters, errors };
}

/** A value left behind when the model changed. */
export interface DroppedValue {
  name: string;
  label: string;
  value: InputValue;
}

/**
 * The values that carry over to another model's fields: those whose input exists there and
 * accepts the value. The others are returned as dropped (labelled with the old fields, if known).
 */
export function carryOver(
  inputs: Inputs,
  to: FieldDesc[],
  from: FieldDesc[] = [],
): { inputs: Inputs; dropped: DroppedValue[] } {
  const target = new Map(leafFields(to).map((f) => [f.name, f]));
  const before = new Map(leafFields(from).map((f) => [f.name, f]));
  const kept: Inputs = {};
  const dropped: DroppedValue[] = [];
  for (const [name, value] of Object.entries(inputs)) {
    const field = target.get(name);
    if (field && checkValue(field, value) === null) kept[name] = value;
    else dropped.push({ name, label: before.get(name)?.label ?? humanize(name), value });
  }
  return { inputs: kept, dropped };
}

/** A dropped value as the notice shows it ("Steps 28", "Image"). */
export function describeDropped(d: DroppedValue): string {
  if (
    typeof d.value === "string" &&
    (d.value.startsWith("/uploads/") || d.value.startsWith("upload:"))
  ) {
    return d.label;
  }
  if (Array.isArray(d.value)) return `${d.label} (${d.value.length})`;
  const text = String(d.value);
  return `${d.label} ${text.length > 24 ? text.slice(0, 23) + "…" : text}`;
}

/**
 * Where a 422 detail's field (`parameters.steps`, `parameters.image_input.1`) is shown: the key
 * of the form's input when it has one (`names`), else null (the extra JSON or the form).
 */
export function inputKeyForDetail(field: string, names: Set<string>): InputErrorKey | null {
  if (!field.startsWith("parameters.")) return null;
  const name = field.slice("parameters.".length).split(/[./[]/)[0];
  return names.has(name) ? `parameters.${name}` : null;
}

/** The id of the element that takes the focus for an input's error. */
export function inputDomId(name: string): string {
  return `f-in-${name.replace(/[^A-Za-z0-9_-]/g, "-")}`;
}
