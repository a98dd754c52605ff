/**
 * The OpenAPI 3.1 description of every route the service answers, assembled from one module per
 * resource beside it. Request schemas come from the zod schemas in shared/jobs/schemas.ts (so
 * limits cannot drift); response schemas are written beside the JSON they describe.
 */
import { LIMITS } from "../../shared/jobs/schemas.ts";
import type { Json } from "./builders.ts";
import { commonHeaders, commonParameters, errorResponses, errorSchemas } from "./common.ts";
import { docsPaths } from "./docs.ts";
import { eventPaths } from "./events.ts";
import { imagePaths } from "./images.ts";
import { jobHeaders, jobParameters, jobPaths, jobResponses, jobSchemas } from "./jobs.ts";
import { libraryPaths, librarySchemas } from "./library.ts";
import { mePaths } from "./me.ts";
import { modelPaths, modelSchemas } from "./models.ts";
import { adminQueuesPaths, healthPaths, metricsPaths, opsSchemas } from "./ops.ts";
import { uiPaths } from "./ui.ts";
import { uploadPaths, uploadSchemas } from "./uploads.ts";
import { usagePaths, usageSchemas } from "./usage.ts";
import { webhookPaths } from "./webhooks.ts";

export interface OpenApiOptions {
  /** API prefix (API_V1_PREFIX), e.g. `/api/v1`. */
  prefix: string;
  /** Version of the service, shown as `info.version`. */
  version: string;
  /** Where the queue dashboard is mounted (Bull Board, or the KV queue's page), if it is. */
  adminQueuesPath?: string;
}

/** Builds the OpenAPI 3.1 document of the service. */
export function openApiDocument(options: OpenApiOptions): Json {
  const { prefix, version } = options;
  return {
    openapi: "3.1.1",
    info: {
      title: "Darkroom API",
      version,
      summary: "Self-hostable AI image generation: submit prompts, follow jobs, fetch images.",
      description: 'Every error has one shape: `{"error": {"code", "message", ' +
        '"details"?}}`. Validation failures answer 422 with `details: [{field, message}]`; ' +
        "malformed JSON or invalid UTF-8 400; a wrong content type 415; a body over " +
        `${LIMITS.bodyBytes} bytes 413; an unknown or malformed job id 404; 503 when the ` +
        "database or the queue cannot take the request. Every answer carries `X-Request-Id`. " +
        "Per key (per client address when open), submits and reads are limited per minute and " +
        "live streams in number: beyond, 429 with `Retry-After` (and `RateLimit-*` headers on " +
        "submits and reads).",
    },
    tags: [
      { name: "Jobs", description: "Submit, follow and control image generation jobs." },
      {
        name: "Library",
        description: "Stars, collections and actions on many jobs (search: GET /jobs).",
      },
      { name: "Models", description: "What this deployment can run, and each model's inputs." },
      { name: "Uploads", description: "Images for image inputs." },
      { name: "Usage", description: "Estimated spend, usage per key and budgets." },
      { name: "Events", description: "Live updates." },
      { name: "Images", description: "Stored outputs." },
      { name: "Operations", description: "Health, readiness, figures and metrics." },
      { name: "Documentation", description: "This document and its viewer." },
      { name: "UI", description: "The browser UI." },
    ],
    // The order of the paths is the order Swagger UI lists the operations in within a tag.
    paths: {
      ...jobPaths(prefix),
      ...libraryPaths(prefix),
      ...modelPaths(prefix),
      ...uploadPaths(prefix),
      ...usagePaths(prefix),
      ...healthPaths(prefix),
      ...eventPaths(prefix),
      ...mePaths(prefix),
      ...webhookPaths(prefix),
      ...imagePaths(),
      ...metricsPaths(),
      ...docsPaths(prefix),
      ...uiPaths(),
      ...adminQueuesPaths(options.adminQueuesPath),
    },
    // With AUTH_MODE=api_key every API call needs the key (see `deno task keys`); a missing,
    // wrong or revoked key answers 401, another key's job 404, too many submits 429.
    security: [{ apiKey: [] }, {}],
    components: {
      securitySchemes: {
        apiKey: {
          type: "http",
          scheme: "bearer",
          description: "An API key from `deno task keys create --name NAME` (AUTH_MODE=api_key).",
        },
      },
      schemas: {
        ...jobSchemas(),
        ...librarySchemas(),
        ...errorSchemas(),
        ...modelSchemas(),
        ...opsSchemas(),
        ...uploadSchemas(),
        ...usageSchemas(),
      },
      responses: { ...errorResponses(), ...jobResponses(prefix) },
      parameters: { ...jobParameters(), ...commonParameters() },
      headers: { ...jobHeaders(prefix), ...commonHeaders() },
    },
  };
}
