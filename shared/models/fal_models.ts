/**
 * Model cards of fal endpoints (`fal:<endpoint id>`), built on the fal provider's `inputSchema`:
 * the endpoint's OpenAPI document is fetched and cached there (shared/providers/fal.ts), and its
 * input schema is made self-contained here the way Replicate's are (every `$ref` inlined, the
 * order fal lists in `x-fal-order-properties` kept as `x-order`). fal has no versions: a card's
 * `version` is null and it lives in the catalogue's memory (with the `latest` TTL), not in the
 * database. An endpoint without a published schema answers InputSchemaMissingError.
 */
import { falEndpoint } from "../providers/model_ref.ts";
import {
  InputSchemaMissingError,
  type ModelCard,
  ModelNotFoundError,
  ModelUnavailableError,
  openInputSchema,
} from "./card.ts";
import type { ModelSource } from "./replicate_models.ts";
import {
  type InputSchema,
  isObject,
  type JsonSchema,
  resolveRefs,
  SchemaError,
  toInputSchema,
} from "./schema.ts";

/** Reads an endpoint's input schema (the fal provider's `inputSchema`), or null when none. */
export type FalSchemaReader = (
  model: string,
  options?: { signal?: AbortSignal },
) => Promise<Record<string, unknown> | null>;

/** Settings of the fal model source. */
export interface FalModelSourceOptions {
  inputSchema: FalSchemaReader;
  /** Titles and descriptions of well-known endpoints (the suggested list), by model id. */
  about?: Record<string, { title?: string; description?: string }>;
}

/** The fal model source. */
export function createFalModelSource(options: FalModelSourceOptions): ModelSource {
  return {
    provider: "fal",
    async fetchCard(model, _version, signal) {
      const endpoint = falEndpoint(model);
      if (!endpoint) {
        throw new ModelNotFoundError(model, `Unknown fal model ${model.slice(0, 300)}`);
      }
      let doc: Record<string, unknown> | null;
      try {
        doc = await options.inputSchema(model, { signal });
      } catch (err) {
        throw new ModelUnavailableError(`Cannot read the input schema of ${model} from fal`, {
          cause: err,
        });
      }
      const about = options.about?.[model];
      const card: ModelCard = {
        id: model,
        provider: "fal",
        version: null,
        title: about?.title ?? endpoint,
        description: about?.description ?? null,
        cover_image_url: null,
        input_schema: openInputSchema(),
      };
      if (!doc) throw new InputSchemaMissingError(card);
      try {
        card.input_schema = falInputSchema(doc);
      } catch (err) {
        if (!(err instanceof SchemaError)) throw err;
        throw new InputSchemaMissingError(card);
      }
      return card;
    },
  };
}

/**
 * A fal input schema (the request body's schema with the document's `components` beside it, as
 * the fal provider answers it) as a self-contained InputSchema: `$ref`s inlined, and the order of
 * `x-fal-order-properties` given to fields as `x-order` (a field's own `x-order` wins).
 */
export function falInputSchema(doc: Record<string, unknown>): InputSchema {
  const { components: _components, ...input } = doc;
  const resolved = resolveRefs(input, doc);
  if (resolved.type !== undefined && resolved.type !== "object") {
    throw new SchemaError("The fal input schema is not an object");
  }
  const order = Array.isArray(resolved["x-fal-order-properties"])
    ? resolved["x-fal-order-properties"].filter((n): n is string => typeof n === "string")
    : [];
  const properties = isObject(resolved.properties) ? resolved.properties : {};
  const ordered: Record<string, JsonSchema> = {};
  for (const [name, field] of Object.entries(properties)) {
    if (!isObject(field)) continue;
    const at = order.indexOf(name);
    ordered[name] = at >= 0 && field["x-order"] === undefined ? { ...field, "x-order": at } : field;
  }
  return toInputSchema({ ...resolved, properties: ordered });
}
