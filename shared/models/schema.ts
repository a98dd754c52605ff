/**
 * Model input schemas: a provider's OpenAPI document (Replicate publishes one per version) turned
 * into one self-contained JSON Schema of the model's inputs, every `$ref` resolved, `x-order`
 * kept and the properties listed in that order; plus the rule that says which inputs are images.
 */

/** A JSON Schema object (the subset of JSON Schema that model inputs use, and anything else). */
export type JsonSchema = Record<string, unknown>;

/** The inputs of a model: an object schema whose `properties` are self-contained. */
export interface InputSchema extends JsonSchema {
  type: "object";
  properties: Record<string, JsonSchema>;
  required?: string[];
  /** true: inputs it does not list are accepted (and ignored) by the model. */
  additionalProperties?: boolean;
}

/** How deep `$ref`s may nest before the document is taken as cyclic. */
const MAX_REF_DEPTH = 20;

/** Thrown when a document has no usable input schema (no Input, a dangling or cyclic `$ref`). */
export class SchemaError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SchemaError";
  }
}

/**
 * The input schema of a Replicate version's `openapi_schema` (`components.schemas.Input`), with
 * every `$ref` into the document inlined: `allOf: [{$ref}]` beside `default`/`description` (how
 * Cog writes enums) becomes the referenced schema merged with those siblings.
 */
export function inputSchemaOf(openapi: unknown): InputSchema {
  const components = isObject(openapi) && isObject(openapi.components)
    ? openapi.components
    : undefined;
  const input = isObject(components?.schemas) ? components.schemas.Input : undefined;
  if (!isObject(input)) throw new SchemaError("The OpenAPI document has no Input schema");
  return toInputSchema(resolveRefs(input, openapi as JsonSchema));
}

/** A schema (already self-contained) as an InputSchema: an object, properties in x-order. */
export function toInputSchema(schema: JsonSchema): InputSchema {
  const properties = isObject(schema.properties) ? schema.properties : {};
  const ordered = Object.entries(properties)
    .filter((entry): entry is [string, JsonSchema] => isObject(entry[1]))
    .map(([name, field], index) => ({ name, field, index }))
    .sort((a, b) => orderOf(a.field, a.index) - orderOf(b.field, b.index) || a.index - b.index);
  const out: InputSchema = {
    ...schema,
    type: "object",
    properties: Object.fromEntries(ordered.map(({ name, field }) => [name, field])),
  };
  if (Array.isArray(schema.required)) {
    out.required = schema.required.filter((r): r is string => typeof r === "string");
  }
  return out;
}

/** Inlines every local `$ref` (`#/...`) of `schema`, resolved against `root`. */
export function resolveRefs(schema: JsonSchema, root: JsonSchema): JsonSchema {
  return resolveNode(schema, root, 0) as JsonSchema;
}

function resolveNode(node: unknown, root: JsonSchema, depth: number): unknown {
  if (Array.isArray(node)) return node.map((item) => resolveNode(item, root, depth));
  if (!isObject(node)) return node;
  if (depth > MAX_REF_DEPTH) throw new SchemaError("The input schema's $refs nest too deep");
  if (typeof node.$ref === "string") {
    const { $ref, ...siblings } = node;
    const target = resolveNode(pointer(root, $ref), root, depth + 1);
    return isObject(target) ? { ...target, ...mapValues(siblings, root, depth) } : target;
  }
  if (Array.isArray(node.allOf)) {
    const { allOf, ...siblings } = node;
    const parts = allOf.map((part) => resolveNode(part, root, depth + 1));
    const rest = mapValues(siblings, root, depth);
    // Cog's enums: one referenced schema plus default/description/x-order beside it.
    if (parts.length === 1 && isObject(parts[0])) return { ...parts[0], ...rest };
    return { ...rest, allOf: parts };
  }
  return mapValues(node, root, depth);
}

function mapValues(node: JsonSchema, root: JsonSchema, depth: number): JsonSchema {
  const out: JsonSchema = {};
  for (const [key, value] of Object.entries(node)) {
    // `default`, `examples` and `enum` are data, not schemas: kept as they are.
    out[key] = key === "default" || key === "examples" || key === "enum" || key === "const"
      ? value
      : resolveNode(value, root, depth + 1);
  }
  return out;
}

/** The value a local JSON pointer (`#/components/schemas/x`) points at. */
function pointer(root: JsonSchema, ref: string): unknown {
  if (!ref.startsWith("#/")) throw new SchemaError(`Cannot resolve $ref ${ref}: not local`);
  let at: unknown = root;
  for (const raw of ref.slice(2).split("/")) {
    const key = decodeURIComponent(raw).replaceAll("~1", "/").replaceAll("~0", "~");
    if (!isObject(at) || !(key in at)) throw new SchemaError(`Cannot resolve $ref ${ref}`);
    at = at[key];
  }
  return at;
}

function orderOf(field: JsonSchema, index: number): number {
  const order = field["x-order"];
  return typeof order === "number" && Number.isFinite(order) ? order : 1e6 + index;
}

/** Words that make a field an image when it takes a URI (`image`, `input_image`, `mask`, ...). */
const IMAGE_WORDS = /(^|[_-])(image|images|img|mask|photo|picture|frame|control)([_-]|$)/i;

/** True when a field's name says it holds an image (`image`, `init_image`, `mask`...). */
export function isImageFieldName(name: string): boolean {
  return IMAGE_WORDS.test(name);
}

/**
 * The image inputs of a schema: fields named like an image that take a URI (`format: uri`) or a
 * list of them. `many` is true for a list.
 */
export function imageFields(schema: InputSchema): { name: string; many: boolean }[] {
  const out: { name: string; many: boolean }[] = [];
  for (const [name, field] of Object.entries(schema.properties)) {
    if (!isImageFieldName(name)) continue;
    if (field.format === "uri") out.push({ name, many: false });
    else if (field.type === "array" && isObject(field.items) && field.items.format === "uri") {
      out.push({ name, many: true });
    }
  }
  return out;
}

/** True for a plain object (not null, not an array). */
export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
