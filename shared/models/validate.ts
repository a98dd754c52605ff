/**
 * Checks a model's inputs against its input schema with Ajv, before anything is stored. Each
 * schema is compiled once (per model version) and kept; a check is then one call of the compiled
 * function (well under a microsecond for a valid input). Problems come back as `{field, message}`
 * naming the field and the allowed values or range.
 */
import { Ajv, type ErrorObject, type ValidateFunction } from "ajv";
import addFormatsModule from "ajv-formats";
import type { ModelCard } from "./card.ts";
import { imageFields, type InputSchema, isObject, type JsonSchema } from "./schema.ts";
import { isImageReference } from "./image_refs.ts";

/** One problem with one field, as the API's `details` list them. */
export interface FieldProblem {
  field: string;
  message: string;
}

/** A model's compiled inputs: what the submit path needs, computed once per version. */
export interface CompiledInputs {
  readonly card: ModelCard;
  /** Image inputs (`format: uri` fields named like an image); `many` for a list of them. */
  readonly imageFields: readonly { name: string; many: boolean }[];
  /** True when the schema has a `prompt` input (the request's prompt is then one of them). */
  readonly hasPrompt: boolean;
  /** Checks inputs; `[]` when they are fine. `strict` refuses inputs the schema does not list. */
  check(input: Record<string, unknown>, options: CheckOptions): FieldProblem[];
}

export interface CheckOptions {
  strict: boolean;
  /** The request field an input came from (`prompt`, or `parameters.<name>` by default). */
  fieldOf?: (name: string) => string;
}

/** The image format Ajv checks image inputs with (see image_refs.ts). */
const IMAGE_FORMAT = "darkroom-image";

// ajv-formats is CommonJS; under Deno its default export is the plugin function itself.
const addFormats = addFormatsModule as unknown as (ajv: Ajv, formats: string[]) => Ajv;

/** Compiled inputs per model version, at most `max` of them (the least recently used go first). */
export function createInputValidators(options: { max?: number } = {}) {
  const max = options.max ?? 500;
  const ajv = new Ajv({ allErrors: true, strict: false, validateSchema: false });
  addFormats(ajv, ["uri", "uri-reference", "email", "date-time", "date", "time", "uuid"]);
  ajv.addFormat(IMAGE_FORMAT, { type: "string", validate: isImageReference });
  const compiled = new Map<string, CompiledInputs>();

  return {
    /** The compiled inputs of a card (compiled on first use). */
    forCard(card: ModelCard): CompiledInputs {
      const key = `${card.id}@${card.version ?? ""}`;
      const hit = compiled.get(key);
      if (hit && hit.card.input_schema === card.input_schema) {
        // Map order is use order: move it to the end.
        compiled.delete(key);
        compiled.set(key, hit);
        return hit;
      }
      const made = compile(ajv, card);
      compiled.set(key, made);
      if (compiled.size > max) compiled.delete(compiled.keys().next().value!);
      return made;
    },
    get size() {
      return compiled.size;
    },
  };
}

export type InputValidators = ReturnType<typeof createInputValidators>;

function compile(ajv: Ajv, card: ModelCard): CompiledInputs {
  const schema = card.input_schema;
  const images = imageFields(schema);
  const open = schema.additionalProperties === true;
  const checked = checkingSchema(schema, images.map((f) => f.name));
  let validate: ValidateFunction;
  try {
    validate = ajv.compile(checked);
  } catch {
    // A schema Ajv cannot use: accept the inputs (the provider checks them again).
    validate = ajv.compile({});
  }
  const known = Object.keys(schema.properties);
  return {
    card,
    imageFields: images,
    hasPrompt: "prompt" in schema.properties,
    check(input, options) {
      if (validate(input)) return [];
      const fieldOf = options.fieldOf ?? ((name: string) => `parameters.${name}`);
      const problems: FieldProblem[] = [];
      const seen = new Set<string>();
      for (const error of validate.errors ?? []) {
        if (error.keyword === "additionalProperties" && (open || !options.strict)) continue;
        const problem = describe(error, schema, input, known, card.id, fieldOf);
        if (!problem || seen.has(problem.field)) continue;
        seen.add(problem.field);
        problems.push(problem);
      }
      return problems;
    },
  };
}

/**
 * The schema Ajv compiles: unknown inputs flagged (`additionalProperties: false`, filtered out
 * again when the request is not strict), image inputs checked as image references, and
 * OpenAPI 3.0's boolean `exclusiveMinimum`/`exclusiveMaximum` turned into numbers.
 */
function checkingSchema(schema: InputSchema, images: string[]): JsonSchema {
  const properties: Record<string, JsonSchema> = {};
  for (const [name, field] of Object.entries(schema.properties)) {
    let copy = normalise(field);
    if (images.includes(name)) {
      copy = copy.type === "array" && isObject(copy.items)
        ? { ...copy, items: { ...copy.items, format: IMAGE_FORMAT } }
        : { ...copy, format: IMAGE_FORMAT };
    }
    properties[name] = copy;
  }
  return {
    type: "object",
    properties,
    ...(schema.required ? { required: schema.required } : {}),
    additionalProperties: false,
  };
}

function normalise(field: JsonSchema): JsonSchema {
  const out: JsonSchema = { ...field };
  for (const [flag, bound] of [["exclusiveMinimum", "minimum"], ["exclusiveMaximum", "maximum"]]) {
    if (typeof out[flag] === "boolean") {
      if (out[flag] && typeof out[bound] === "number") out[flag] = out[bound];
      else delete out[flag];
      if (out[flag] !== undefined) delete out[bound];
    }
  }
  if (isObject(out.items)) out.items = normalise(out.items);
  return out;
}

/** Words for an Ajv error: the field it concerns and what is allowed. */
function describe(
  error: ErrorObject,
  schema: InputSchema,
  input: Record<string, unknown>,
  known: string[],
  model: string,
  fieldOf: (name: string) => string,
): FieldProblem | null {
  const path = error.instancePath.split("/").slice(1).map((p) =>
    p.replaceAll("~1", "/").replaceAll("~0", "~")
  );
  const params = error.params as Record<string, unknown>;
  if (error.keyword === "required") {
    const name = String(params.missingProperty);
    return { field: fieldOf(name), message: `is required by ${model}` };
  }
  if (error.keyword === "additionalProperties") {
    const name = String(params.additionalProperty);
    const near = closest(name, known);
    return {
      field: fieldOf(name),
      message: `is not an input of ${model}` + (near ? ` (did you mean ${near}?)` : "") +
        `; its inputs are ${known.join(", ") || "none"}. Send "strict_inputs": false to pass ` +
        "it on anyway",
    };
  }
  if (path.length === 0) return { field: "parameters", message: error.message ?? "is invalid" };
  const field = [fieldOf(path[0]), ...path.slice(1)].join(".");
  const value = valueAt(input, path);
  let fieldSchema: unknown = schema.properties[path[0]];
  if (path.length > 1 && isObject(fieldSchema)) fieldSchema = fieldSchema.items;
  const own = isObject(fieldSchema) ? fieldSchema : {};
  const got = ` (got ${shown(value)})`;
  switch (error.keyword) {
    case "type":
      return { field, message: `must be ${typeWords(String(params.type))}${got}` };
    case "enum": {
      const allowed = (params.allowedValues as unknown[]) ?? [];
      return { field, message: `must be one of ${allowed.map(shown).join(", ")}${got}` };
    }
    case "minimum":
    case "maximum":
    case "exclusiveMinimum":
    case "exclusiveMaximum":
      return { field, message: `${rangeWords(own)}${got}` };
    case "format":
      return {
        field,
        message: params.format === IMAGE_FORMAT
          ? "must be an uploaded image (its url or upload:<id>), an https:// URL or a " +
            "data:image/... URI"
          : `must be a ${String(params.format).toUpperCase()}${got}`,
      };
    default:
      return { field, message: `${error.message ?? "is invalid"}${got}` };
  }
}

function rangeWords(field: JsonSchema): string {
  const num = (v: unknown) => (typeof v === "number" ? v : undefined);
  const low = num(field.minimum) ?? num(field.exclusiveMinimum);
  const high = num(field.maximum) ?? num(field.exclusiveMaximum);
  const lowWord = num(field.minimum) !== undefined ? "at least" : "more than";
  const highWord = num(field.maximum) !== undefined ? "at most" : "less than";
  if (low !== undefined && high !== undefined) {
    const inclusive = num(field.minimum) !== undefined && num(field.maximum) !== undefined;
    return inclusive
      ? `must be from ${low} to ${high}`
      : `must be ${lowWord} ${low} and ${highWord} ${high}`;
  }
  if (low !== undefined) return `must be ${lowWord} ${low}`;
  if (high !== undefined) return `must be ${highWord} ${high}`;
  return "is out of range";
}

function typeWords(type: string): string {
  const words: Record<string, string> = {
    integer: "an integer",
    number: "a number",
    string: "a string",
    boolean: "true or false",
    array: "a list",
    object: "an object",
    null: "null",
  };
  return type.split(",").map((t) => words[t] ?? t).join(" or ");
}

function valueAt(input: Record<string, unknown>, path: string[]): unknown {
  let at: unknown = input;
  for (const key of path) {
    if (Array.isArray(at)) at = at[Number(key)];
    else if (isObject(at)) at = at[key];
    else return undefined;
  }
  return at;
}

/** A value as the message shows it: JSON, cut short. */
function shown(value: unknown): string {
  const text = value === undefined ? "nothing" : JSON.stringify(value) ?? String(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

/** The known name nearest to `name` (a typo: at most a third of it differs), or null. */
function closest(name: string, known: string[]): string | null {
  let best: string | null = null;
  let bestDistance = Math.max(2, Math.floor(name.length / 3)) + 1;
  for (const candidate of known) {
    const d = editDistance(name.toLowerCase(), candidate.toLowerCase(), bestDistance);
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best;
}

/** Levenshtein distance, giving up (returning `limit`) once it cannot be below `limit`. */
function editDistance(a: string, b: string, limit: number): number {
  if (Math.abs(a.length - b.length) >= limit) return limit;
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    let rowMin = i;
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      row[j] = Math.min(previous[j] + 1, row[j - 1] + 1, previous[j - 1] + cost);
      rowMin = Math.min(rowMin, row[j]);
    }
    if (rowMin >= limit) return limit;
    previous = row;
  }
  return previous[b.length];
}
