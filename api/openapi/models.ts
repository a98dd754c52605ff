/** GET /models (what this deployment can run) and GET /models/{owner}/{name} (one model's inputs). */
import { localModelCard } from "../../shared/models/card.ts";
import { LOCAL_STYLES } from "../../shared/providers/local_render.ts";
import { errorExample, type Json, json, jsonError, nullable, ref } from "./builders.ts";

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

const FLUX_VERSION = "5599ed30703defd1d160a25a63321b4dec97101d98b4674bcc56e41f62f35637";

/** A Replicate model card, as the catalogue answers it (enums inlined from `allOf`/`$ref`). */
const REPLICATE_CARD_EXAMPLE = {
  id: "black-forest-labs/flux-schnell",
  provider: "replicate",
  version: FLUX_VERSION,
  title: "FLUX.1 [schnell]",
  description: "The fastest image generation model tailored for local development and personal use",
  cover_image_url: "https://replicate.delivery/xezq/schnell-cover.webp",
  input_schema: {
    type: "object",
    title: "Input",
    required: ["prompt"],
    properties: {
      prompt: { type: "string", title: "Prompt", "x-order": 0 },
      aspect_ratio: {
        type: "string",
        title: "aspect_ratio",
        enum: ["1:1", "16:9", "21:9", "3:2", "2:3", "4:5", "5:4", "3:4", "4:3", "9:16", "9:21"],
        description: "Aspect ratio for the generated image",
        default: "1:1",
        "x-order": 1,
      },
      num_outputs: {
        type: "integer",
        title: "Num Outputs",
        minimum: 1,
        maximum: 4,
        default: 1,
        "x-order": 2,
      },
    },
  },
};

/** A fal endpoint's card: from its OpenAPI document, no versions. */
const FAL_CARD_EXAMPLE = {
  id: "fal:fal-ai/flux/schnell",
  provider: "fal",
  version: null,
  title: "fal-ai/flux/schnell",
  description: "FLUX.1 [schnell] on fal",
  cover_image_url: null,
  input_schema: {
    type: "object",
    title: "Input",
    required: ["prompt"],
    properties: {
      prompt: { type: "string", title: "Prompt", "x-order": 0 },
      image_size: {
        anyOf: [
          {
            type: "object",
            properties: { width: { type: "integer" }, height: { type: "integer" } },
          },
          {
            type: "string",
            enum: ["square_hd", "square", "portrait_4_3", "portrait_16_9", "landscape_4_3"],
          },
        ],
        default: "landscape_4_3",
        "x-order": 1,
      },
      num_images: { type: "integer", minimum: 1, maximum: 4, default: 1, "x-order": 2 },
    },
  },
};

/** An alias's card: its targets, and the first configured target's inputs. */
const ROUTE_CARD_EXAMPLE = {
  ...REPLICATE_CARD_EXAMPLE,
  id: "flux-schnell",
  provider: "route",
  version: null,
  title: "flux-schnell",
  description: "FLUX.1 [schnell]: Replicate first, fal when Replicate never takes the request",
  cover_image_url: null,
  targets: [
    { model: "black-forest-labs/flux-schnell", provider: "replicate", configured: true },
    { model: "fal:fal-ai/flux/schnell", provider: "fal", configured: true },
  ],
};

/** The `Models` and `ModelCard` schemas. */
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
            required: ["id", "provider", "title", "description", "cover_image_url", "source"],
            properties: {
              id: { type: "string" },
              provider: {
                type: "string",
                enum: ["local", "replicate", "fal", "route"],
                description: "`route`: an alias, tried on its `targets` in order.",
              },
              title: { type: "string" },
              description: { type: "string" },
              cover_image_url: {
                ...nullable({ type: "string" }),
                description: "Known once the model's card was fetched (in the background).",
              },
              source: {
                type: "string",
                enum: ["local", "curated", "recent", "route"],
                description: "Offline model, suggested Replicate model, used by recent jobs, " +
                  "or an alias.",
              },
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
    ModelCard: {
      type: "object",
      description: "One model version and its inputs, the same for every provider.",
      required: [
        "id",
        "provider",
        "version",
        "title",
        "description",
        "cover_image_url",
        "input_schema",
      ],
      properties: {
        id: {
          type: "string",
          description: "`owner/name` (`local/<style>` offline, `fal:<endpoint id>`, or an alias).",
        },
        provider: {
          type: "string",
          enum: ["local", "replicate", "fal", "route"],
          description: "`route`: an alias (see `targets`).",
        },
        version: {
          ...nullable({ type: "string" }),
          description: "The version the schema belongs to (the latest one for `owner/name`); " +
            "null for the built-in local models, fal endpoints (fal has no versions) and aliases.",
        },
        title: { type: "string" },
        description: nullable({ type: "string" }),
        cover_image_url: nullable({ type: "string" }),
        input_schema: {
          type: "object",
          description: "Self-contained JSON Schema of the inputs: no `$ref`, properties in " +
            "`x-order` order, enums inlined. POST /generate checks `prompt`, `negative_prompt` " +
            "and `parameters` against it. Fields with `format: uri` named like an image " +
            "(`image`, `input_image`, `mask`, `control_image`...) take an upload's `url`, " +
            "`upload:<id>`, an https URL or a data:image URI.",
          additionalProperties: true,
        },
        targets: {
          type: "array",
          description: "An alias's targets in the order they are tried (aliases only); its " +
            "`input_schema` is its first configured target's, written in that provider's words " +
            "(each target gets the inputs mapped to its own).",
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
  };
}

/** GET /models, GET /models/{owner}/{name} and GET /models/{model} (fal endpoints, aliases). */
export function modelPaths(prefix: string): Json {
  const notFound = jsonError("No such model (locally, or at its provider).", {
    local: errorExample("not_found", "Unknown local model local/unknown; choose one of ..."),
    replicate: errorExample("not_found", "Model someone/nothing was not found at Replicate"),
  });
  return {
    [`${prefix}/models`]: {
      get: {
        tags: ["Models"],
        operationId: "listModels",
        summary: "Configured providers, offered models and aliases (model routes)",
        description: "Local models, a curated list of popular Replicate models when " +
          "REPLICATE_API_TOKEN is set, and the models of recent jobs; with titles, and cover " +
          "images once known. Never waits for a provider. Aliases (from the built-in table and " +
          "MODEL_ROUTES) are listed when one of their targets' providers is configured; a job on " +
          "an alias goes to its first healthy target and moves on only when a target never " +
          "accepted the request.",
        responses: {
          200: json("What this deployment can run.", ref("schemas", "Models"), {
            providers: [
              { name: "local", configured: true },
              { name: "replicate", configured: false, hint: "set REPLICATE_API_TOKEN" },
            ],
            models: LOCAL_STYLES.map((s) => ({
              id: s.id,
              provider: "local",
              title: s.id.split("/")[1],
              description: s.description,
              cover_image_url: null,
              source: "local",
            })),
            default_model: LOCAL_STYLES[0].id,
            custom_models: false,
          }),
        },
      },
    },
    [`${prefix}/models/{owner}/{name}`]: {
      get: {
        tags: ["Models"],
        operationId: "getModel",
        summary: "One model and its inputs (JSON Schema)",
        description: "`{name}` may end in `:<64-hex version>` for one version; without it, the " +
          "latest version (asked again after MODEL_SCHEMA_TTL_S). Schemas are fetched from the " +
          "provider once per version and kept in the database; when the provider is down the " +
          "stored copy answers.",
        parameters: [
          {
            name: "owner",
            in: "path",
            required: true,
            description: "The model's owner (`local` for the offline models).",
            schema: { type: "string" },
            example: "black-forest-labs",
          },
          {
            name: "name",
            in: "path",
            required: true,
            description: "The model's name, optionally `:<version>`.",
            schema: { type: "string" },
            example: "flux-schnell",
          },
        ],
        responses: {
          200: {
            description: "The model card.",
            content: {
              "application/json": {
                schema: ref("schemas", "ModelCard"),
                examples: {
                  replicate: { value: REPLICATE_CARD_EXAMPLE },
                  local: { value: localModelCard(LOCAL_STYLES[0].id) },
                },
              },
            },
          },
          404: notFound,
          422: jsonError(
            "The model's provider is not configured (the message names the variable).",
            {
              provider: errorExample(
                "validation_error",
                "Model black-forest-labs/flux-schnell needs the Replicate provider, which is not " +
                  "configured: set REPLICATE_API_TOKEN (or use a local/... model)",
                [{
                  field: "model",
                  message: "Model black-forest-labs/flux-schnell needs the Replicate provider, " +
                    "which is not configured: set REPLICATE_API_TOKEN (or use a local/... model)",
                }],
              ),
            },
          ),
          503: jsonError("The provider cannot be reached and no copy is stored.", {
            provider_down: errorExample(
              "service_unavailable",
              "Cannot read model black-forest-labs/flux-schnell from Replicate: status 502",
            ),
          }),
          500: ref("responses", "InternalError"),
        },
      },
    },
    [`${prefix}/models/{model}`]: {
      get: {
        tags: ["Models"],
        operationId: "getModelByReference",
        summary: "A fal endpoint's or an alias's card (any model reference)",
        description: "`{model}` is any model reference, slashes and all: `fal:<endpoint id>` " +
          "(e.g. `fal:fal-ai/flux/schnell`: the input schema of the endpoint's OpenAPI " +
          "document, `$ref`s inlined, fal's `x-fal-order-properties` kept as `x-order`; an " +
          "endpoint that publishes none answers an open schema, and its inputs pass unchecked), " +
          "an alias (its `targets` and its first configured target's inputs), or `owner/name` " +
          "as above.",
        parameters: [{
          name: "model",
          in: "path",
          required: true,
          description: "A model reference; its slashes may be sent as they are.",
          schema: { type: "string" },
          example: "fal:fal-ai/flux/schnell",
        }],
        responses: {
          200: {
            description: "The model card.",
            content: {
              "application/json": {
                schema: ref("schemas", "ModelCard"),
                examples: {
                  fal: { value: FAL_CARD_EXAMPLE },
                  route: { value: ROUTE_CARD_EXAMPLE },
                },
              },
            },
          },
          404: jsonError("No such model or alias.", {
            alias: errorExample(
              "not_found",
              "Unknown model nothing: use owner/name, fal:<endpoint>, local/<style> or an alias",
            ),
          }),
          422: jsonError(
            "The model's provider is not configured (the message names the variable).",
            {
              provider: errorExample(
                "validation_error",
                "Model fal:fal-ai/flux/schnell needs the fal provider, which is not configured: " +
                  "set FAL_KEY (or use a local/... model)",
                [{
                  field: "model",
                  message: "Model fal:fal-ai/flux/schnell needs the fal provider, which is not " +
                    "configured: set FAL_KEY (or use a local/... model)",
                }],
              ),
            },
          ),
          503: jsonError("fal cannot be reached and no copy is kept.", {
            provider_down: errorExample(
              "service_unavailable",
              "Cannot read the input schema of fal:fal-ai/flux/schnell from fal",
            ),
          }),
          500: ref("responses", "InternalError"),
        },
      },
    },
  };
}
