/**
 * The model side of the fake Replicate API: `GET /v1/models/{owner}/{name}` and
 * `GET /v1/models/{owner}/{name}/versions/{id}` in Replicate's shapes, each version carrying an
 * `openapi_schema` written the way Cog writes it (enums as `allOf: [{$ref}]`, `x-order`).
 */
import { sha256Hex } from "../hash.ts";

/** One published version. */
export interface FakeModelVersion {
  id: string;
  /** Cog's OpenAPI document (components.schemas.Input). */
  openapi_schema: Record<string, unknown>;
  created_at?: string;
}

/** A model the fake knows; the last version is the latest. */
export interface FakeModel {
  description?: string;
  cover_image_url?: string | null;
  versions: FakeModelVersion[];
}

/**
 * The OpenAPI document of an image model as Cog writes it: prompt, aspect_ratio (an enum through
 * allOf/$ref), an image input, bounded integers, output_format (another enum), a boolean.
 */
export function fakeOpenApiSchema(): Record<string, unknown> {
  return {
    openapi: "3.0.2",
    info: { title: "Cog", version: "0.1.0" },
    paths: {},
    components: {
      schemas: {
        Input: {
          type: "object",
          title: "Input",
          required: ["prompt"],
          properties: {
            prompt: {
              type: "string",
              title: "Prompt",
              description: "Prompt for generated image",
              "x-order": 0,
            },
            image: {
              type: "string",
              title: "Image",
              format: "uri",
              description: "Input image for image to image mode",
              "x-order": 1,
            },
            aspect_ratio: {
              allOf: [{ $ref: "#/components/schemas/aspect_ratio" }],
              default: "1:1",
              description: "Aspect ratio for the generated image",
              "x-order": 2,
            },
            num_outputs: {
              type: "integer",
              title: "Num Outputs",
              default: 1,
              minimum: 1,
              maximum: 4,
              description: "Number of outputs to generate",
              "x-order": 3,
            },
            num_inference_steps: {
              type: "integer",
              title: "Num Inference Steps",
              default: 4,
              minimum: 1,
              maximum: 50,
              description: "Number of denoising steps",
              "x-order": 4,
            },
            seed: {
              type: "integer",
              title: "Seed",
              description: "Random seed. Set for reproducible generation",
              "x-order": 5,
            },
            output_format: {
              allOf: [{ $ref: "#/components/schemas/output_format" }],
              default: "webp",
              description: "Format of the output images",
              "x-order": 6,
            },
            width: { type: "integer", title: "Width", minimum: 64, maximum: 2048, "x-order": 7 },
            height: { type: "integer", title: "Height", minimum: 64, maximum: 2048, "x-order": 8 },
            disable_safety_checker: {
              type: "boolean",
              title: "Disable Safety Checker",
              default: false,
              "x-order": 9,
            },
          },
        },
        aspect_ratio: {
          type: "string",
          title: "aspect_ratio",
          enum: ["1:1", "16:9", "21:9", "3:2", "2:3", "4:5", "5:4", "3:4", "4:3", "9:16", "9:21"],
          description: "An enumeration.",
        },
        output_format: {
          type: "string",
          title: "output_format",
          enum: ["webp", "jpg", "png"],
          description: "An enumeration.",
        },
        Output: { type: "array", title: "Output", items: { type: "string", format: "uri" } },
      },
    },
  };
}

/** The model a fake serves for `owner/name` when none was registered: one version, the schema above. */
export async function defaultFakeModel(model: string): Promise<FakeModel> {
  return {
    description: `Fake model ${model}`,
    cover_image_url: `https://replicate.delivery/fake/${model.replace("/", "-")}.webp`,
    versions: [{ id: await sha256Hex(`version of ${model}`), openapi_schema: fakeOpenApiSchema() }],
  };
}

/** Replicate's model JSON. */
export function modelJson(owner: string, name: string, model: FakeModel): Record<string, unknown> {
  const latest = model.versions.at(-1);
  return {
    url: `https://replicate.com/${owner}/${name}`,
    owner,
    name,
    description: model.description ?? null,
    visibility: "public",
    github_url: null,
    paper_url: null,
    license_url: null,
    run_count: 1234,
    cover_image_url: model.cover_image_url ?? null,
    default_example: null,
    latest_version: latest ? versionJson(latest) : null,
  };
}

/** Replicate's version JSON. */
export function versionJson(version: FakeModelVersion): Record<string, unknown> {
  return {
    id: version.id,
    created_at: version.created_at ?? "2025-01-01T00:00:00.000000Z",
    cog_version: "0.14.0",
    openapi_schema: version.openapi_schema,
  };
}
