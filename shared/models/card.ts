/** What the catalogue says about one model version: the shape of GET /models/{owner}/{name}. */
import { LIMITS } from "../jobs/schemas.ts";
import { LOCAL_MAX_STEPS, LOCAL_STYLES } from "../providers/local_render.ts";
import type { InputSchema } from "./schema.ts";

/** One model version and its inputs, whatever the provider. */
export interface ModelCard {
  /** `owner/name` (`local/<style>` for the offline models). */
  id: string;
  provider: string;
  /** The version the schema belongs to; null for the built-in local models. */
  version: string | null;
  title: string;
  description: string | null;
  cover_image_url: string | null;
  /** Self-contained JSON Schema of the inputs (no `$ref`; `x-order` kept). */
  input_schema: InputSchema;
}

/** Thrown when the provider does not know a model (answered 404, or 422 on a submit). */
export class ModelNotFoundError extends Error {
  constructor(readonly model: string, message = `Model ${model} was not found`) {
    super(message);
    this.name = "ModelNotFoundError";
  }
}

/** Thrown when a model's schema cannot be had now (provider down and nothing cached). */
export class ModelUnavailableError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "ModelUnavailableError";
  }
}

/**
 * Thrown when a provider publishes no input schema for a model (fal, for some endpoints): its
 * inputs pass on unchecked. `card` describes the model with an open schema (any input).
 */
export class InputSchemaMissingError extends ModelUnavailableError {
  constructor(readonly card: ModelCard) {
    super(`${card.provider} publishes no input schema for ${card.id}; its inputs pass unchecked`);
    this.name = "InputSchemaMissingError";
  }
}

/** The schema of a model whose inputs are not described: any input object. */
export function openInputSchema(): InputSchema {
  return { type: "object", properties: {}, additionalProperties: true };
}

/**
 * The inputs every local model takes. Extra fields are accepted and ignored, as they always
 * were (`additionalProperties: true`), so requests that worked before keep working.
 */
export function localInputSchema(): InputSchema {
  const side = (name: string, order: number) => ({
    type: "integer",
    title: name === "width" ? "Width" : "Height",
    description: `${name === "width" ? "Width" : "Height"} of the image in pixels.`,
    minimum: LIMITS.minSide,
    maximum: LIMITS.maxSide,
    default: 1024,
    "x-order": order,
  });
  return {
    type: "object",
    title: "Input",
    required: ["prompt"],
    additionalProperties: true,
    properties: {
      prompt: {
        type: "string",
        title: "Prompt",
        description: "Colour and mood words pick the palette (sunset, ocean, neon, pastel...).",
        "x-order": 0,
      },
      negative_prompt: {
        type: "string",
        title: "Negative prompt",
        description: "Colour words here steer the palette away from those colours.",
        "x-order": 1,
      },
      image: {
        type: "string",
        format: "uri",
        title: "Image",
        description: "Optional starting image: its colours and layout seed the picture.",
        "x-order": 2,
      },
      width: side("width", 3),
      height: side("height", 4),
      num_outputs: {
        type: "integer",
        title: "Number of outputs",
        description: "How many images to make (each with its own composition).",
        minimum: 1,
        maximum: LIMITS.maxOutputs,
        default: 1,
        "x-order": 5,
      },
      num_inference_steps: {
        type: "integer",
        title: "Steps",
        description: "Simulated denoising steps (the progress bar).",
        minimum: 1,
        maximum: LOCAL_MAX_STEPS,
        default: 20,
        "x-order": 6,
      },
      seed: {
        type: "integer",
        title: "Seed",
        description: "Same seed, same picture. Random when left out.",
        minimum: 0,
        maximum: 2 ** 32 - 1,
        "x-order": 7,
      },
    },
  };
}

/** The card of a local model, or null when `id` is not one. */
export function localModelCard(id: string): ModelCard | null {
  const style = LOCAL_STYLES.find((s) => s.id === id);
  if (!style) return null;
  const name = style.id.slice("local/".length);
  return {
    id: style.id,
    provider: "local",
    version: null,
    title: `Offline ${name}`,
    description: style.description,
    cover_image_url: null,
    input_schema: localInputSchema(),
  };
}
