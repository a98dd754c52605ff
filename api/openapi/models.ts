/** GET /models: what this deployment can run. */
import { LOCAL_STYLES } from "../../shared/providers/local_render.ts";
import { type Json, json, nullable, ref } from "./builders.ts";

/** One provider and whether it is configured (also listed by GET /stats). */
export const PROVIDER_SCHEMA: Json = {
  type: "object",
  required: ["name", "configured"],
  properties: {
    name: { type: "string", examples: ["local", "replicate"] },
    configured: { type: "boolean" },
    hint: { type: "string", description: "What to set to enable it." },
  },
};

/** The `Models` schema. */
export function modelSchemas(): Json {
  return {
    Models: {
      type: "object",
      required: ["providers", "models", "default_model", "custom_models"],
      properties: {
        providers: { type: "array", items: PROVIDER_SCHEMA },
        models: {
          type: "array",
          items: {
            type: "object",
            required: ["id", "provider", "description"],
            properties: {
              id: { type: "string" },
              provider: { type: "string" },
              description: { type: "string" },
            },
          },
        },
        default_model: nullable({ type: "string" }),
        custom_models: {
          type: "boolean",
          description: "True when any Replicate `owner/name[:version]` may be asked for.",
        },
      },
    },
  };
}

/** GET /models. */
export function modelPaths(prefix: string): Json {
  return {
    [`${prefix}/models`]: {
      get: {
        tags: ["Models"],
        operationId: "listModels",
        summary: "Configured providers and suggested models",
        responses: {
          200: json("What this deployment can run.", ref("schemas", "Models"), {
            providers: [
              { name: "local", configured: true },
              { name: "replicate", configured: false, hint: "set REPLICATE_API_TOKEN" },
            ],
            models: LOCAL_STYLES.map((s) => ({
              id: s.id,
              provider: "local",
              description: s.description,
            })),
            default_model: LOCAL_STYLES[0].id,
            custom_models: false,
          }),
        },
      },
    },
  };
}
