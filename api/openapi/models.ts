/** GET /models: what this deployment can run. */
import { LOCAL_STYLES } from "../../shared/providers/local_render.ts";
import { type Json, json, nullable, ref } from "./builders.ts";

/**
 * One provider and whether it is configured (also listed by GET /stats, with its health, and in
 * the `providers` check of /health and /ready).
 */
export const PROVIDER_SCHEMA: Json = {
  type: "object",
  required: ["name", "configured"],
  properties: {
    name: { type: "string", examples: ["local", "replicate", "fal"] },
    configured: { type: "boolean" },
    hint: { type: "string", description: "What to set to enable it." },
    status: {
      type: "string",
      enum: ["up", "down", "probing", "off"],
      description: "`down`: its circuit is open (repeated failures; new predictions go " +
        "elsewhere or wait); `probing`: half-open, one request is testing it; `off`: not " +
        "configured.",
    },
    circuit: {
      ...nullable({ type: "string", enum: ["closed", "open", "half_open"] }),
      description: "The circuit as the workers last reported it (null before any use).",
    },
    consecutive_failures: { type: "integer", minimum: 0 },
    last_error: nullable({ type: "string" }),
    since: {
      ...nullable({ type: "string", format: "date-time" }),
      description: "When the circuit last changed state.",
    },
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
              provider: {
                type: "string",
                enum: ["local", "replicate", "fal", "route"],
                description: "`route`: an alias, tried on its `targets` in order.",
              },
              description: { type: "string" },
              targets: {
                type: "array",
                description: "An alias's targets, in the order they are tried.",
                items: {
                  type: "object",
                  required: ["model", "provider", "configured"],
                  properties: {
                    model: { type: "string" },
                    provider: { type: "string", enum: ["local", "replicate", "fal"] },
                    configured: { type: "boolean" },
                  },
                },
              },
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
        summary: "Configured providers, suggested models and aliases (model routes)",
        description: "Aliases (from the built-in table and MODEL_ROUTES) are listed when one of " +
          "their targets' providers is configured; a job on an alias goes to its first healthy " +
          "target and moves on only when a target never accepted the request.",
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
