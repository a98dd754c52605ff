/** Small builders for the pieces of the OpenAPI document: references, schemas, answers. */
import { z } from "zod";

/** A JSON object of the document. */
export type Json = Record<string, unknown>;

/** A component reference. */
export function ref(kind: "schemas" | "responses" | "parameters" | "headers", name: string): Json {
  return { $ref: `#/components/${kind}/${name}` };
}

/** An object schema whose properties are all required except those named `optional`. */
export function object(properties: Record<string, Json>, optional: string[] = []): Json {
  const required = Object.keys(properties).filter((key) => !optional.includes(key));
  return { type: "object", required, properties };
}

/** The schema, or null. */
export function nullable(schema: Json): Json {
  return { anyOf: [schema, { type: "null" }] };
}

/** Zod → JSON Schema 2020-12 (the dialect of OpenAPI 3.1), without the `$schema` marker. */
export function fromZod(schema: z.ZodType, io: "input" | "output" = "input"): Json {
  const { $schema: _, ...rest } = z.toJSONSchema(schema, { io, unrepresentable: "any" }) as Json;
  return rest;
}

/** The API's error body, `{"error": {code, message, details?}}`. */
export function errorExample(code: string, message: string, details?: unknown): Json {
  return { error: details === undefined ? { code, message } : { code, message, details } };
}

/** An error response: the Error schema with named examples. */
export function jsonError(description: string, examples: Record<string, Json>): Json {
  return {
    description,
    content: {
      "application/json": {
        schema: ref("schemas", "Error"),
        examples: Object.fromEntries(
          Object.entries(examples).map(([name, value]) => [name, { value }]),
        ),
      },
    },
  };
}

/** A JSON response with its schema, one example and optional headers. */
export function json(description: string, schema: Json, example: unknown, headers?: Json): Json {
  return {
    description,
    ...(headers ? { headers } : {}),
    content: { "application/json": { schema, example } },
  };
}

/** An HTML response. */
export function html(description: string): Json {
  return { description, content: { "text/html": { schema: { type: "string" } } } };
}
