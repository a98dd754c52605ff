/**
 * The OpenAPI 3.1 description of every route the service answers. Request schemas come from the
 * zod schemas in shared/schemas.ts (so limits cannot drift); response schemas are written here
 * beside the JSON they describe (shared/job_json.ts, api/routes/*.ts).
 */
import { z } from "zod";
import { LOCAL_STYLES } from "../shared/providers/local_render.ts";
import { generateRequest, knownParameters, LIMITS, listQuery } from "../shared/jobs/schemas.ts";

export interface OpenApiOptions {
  /** API prefix (API_V1_PREFIX), e.g. `/api/v1`. */
  prefix: string;
  /** Version of the service, shown as `info.version`. */
  version: string;
  /** Where Bull Board is mounted, when it is (BullMQ backend only); omitted otherwise. */
  adminQueuesPath?: string;
}

type Json = Record<string, unknown>;

const JOB_ID = "5b7c3f0e-8a1d-4c2b-9e6f-0123456789ab";
const TIME = "2025-03-04T05:06:07.000Z";
const JOB_STATUSES = ["pending", "processing", "completed", "failed", "canceled"] as const;

/** A component reference. */
function ref(kind: "schemas" | "responses" | "parameters" | "headers", name: string): Json {
  return { $ref: `#/components/${kind}/${name}` };
}

/** An object schema whose properties are all required except those named `optional`. */
function object(properties: Record<string, Json>, optional: string[] = []): Json {
  const required = Object.keys(properties).filter((key) => !optional.includes(key));
  return { type: "object", required, properties };
}

/** Zod → JSON Schema 2020-12 (the dialect of OpenAPI 3.1), without the `$schema` marker. */
function fromZod(schema: z.ZodType, io: "input" | "output" = "input"): Json {
  const { $schema: _, ...rest } = z.toJSONSchema(schema, { io, unrepresentable: "any" }) as Json;
  return rest;
}

/** GET /me and the incoming Replicate webhook. */
function accessPaths(prefix: string): Json {
  const unauthorized = jsonError("Missing, wrong or revoked API key.", {
    missing: errorExample(
      "unauthorized",
      "An API key is required: send Authorization: Bearer <key>",
    ),
  });
  return {
    [`${prefix}/me`]: {
      get: {
        tags: ["Operations"],
        operationId: "me",
        summary: "Whether the API needs a key, and which key was presented",
        security: [{ apiKey: [] }, {}],
        responses: {
          200: json("The caller.", {
            type: "object",
            required: ["auth_required", "authenticated", "key"],
            properties: {
              auth_required: { type: "boolean" },
              authenticated: { type: "boolean" },
              key: {
                oneOf: [{ type: "null" }, {
                  type: "object",
                  properties: {
                    name: { type: "string" },
                    prefix: { type: "string" },
                    admin: { type: "boolean" },
                  },
                }],
              },
            },
          }, {
            auth_required: true,
            authenticated: true,
            key: { name: "ci", prefix: "dr_AbCdEfG", admin: false },
          }),
          401: unauthorized,
        },
      },
    },
    [`${prefix}/jobs/{job_id}/webhooks`]: {
      get: {
        tags: ["Jobs"],
        operationId: "listWebhookDeliveries",
        summary: "Outgoing webhook deliveries of a job (state, attempts, last answer)",
        description: "A job submitted with `webhook_url` gets a signed POST (Standard Webhooks: " +
          "`webhook-id`, `webhook-timestamp`, `webhook-signature`, HMAC-SHA256 with the key's " +
          "whsec_ secret) on each terminal state in `webhook_events`, retried with backoff.",
        parameters: [{
          name: "job_id",
          in: "path",
          required: true,
          schema: { type: "string", format: "uuid" },
        }],
        responses: {
          200: json("Deliveries, oldest first.", {
            type: "array",
            items: {
              type: "object",
              properties: {
                id: { type: "string", format: "uuid" },
                event: { type: "string", enum: ["completed", "failed", "canceled"] },
                url: { type: "string" },
                state: { type: "string", enum: ["pending", "delivered", "failed"] },
                attempts: { type: "integer" },
                last_status: { type: ["integer", "null"] },
                last_error: { type: ["string", "null"] },
                next_attempt_at: { type: ["string", "null"], format: "date-time" },
                created_at: { type: "string", format: "date-time" },
                delivered_at: { type: ["string", "null"], format: "date-time" },
              },
            },
          }, [{
            id: "0b6f4c1e-2d8a-4c55-9a43-1f0f8e2b6b1d",
            event: "completed",
            url: "https://hooks.example.com/darkroom",
            state: "delivered",
            attempts: 1,
            last_status: 200,
            last_error: null,
            next_attempt_at: null,
            created_at: "2026-11-25T14:00:03.000Z",
            delivered_at: "2026-11-25T14:00:03.120Z",
          }]),
          401: unauthorized,
          404: jsonError("No such job (or another key's).", {
            missing: errorExample("not_found", "Job 5b7c… not found"),
          }),
        },
      },
    },
    [`${prefix}/webhooks/replicate`]: {
      post: {
        tags: ["Operations"],
        operationId: "replicateWebhook",
        summary: "Prediction updates pushed by Replicate (signed; needs REPLICATE_WEBHOOK_SECRET)",
        security: [{}],
        parameters: ["webhook-id", "webhook-timestamp", "webhook-signature"].map((name) => ({
          name,
          in: "header",
          required: true,
          schema: { type: "string" },
        })),
        requestBody: {
          required: true,
          content: { "application/json": { schema: { type: "object" } } },
        },
        responses: {
          200: json("Accepted, ignored (unknown prediction) or a duplicate delivery.", {
            type: "object",
            properties: { status: { type: "string", enum: ["accepted", "ignored", "duplicate"] } },
          }, { status: "accepted" }),
          400: jsonError("Malformed JSON.", { bad: errorExample("bad_request", "Malformed JSON") }),
          401: jsonError("Signature missing, wrong or too old.", {
            forged: errorExample("invalid_signature", "Webhook signature does not match"),
          }),
          404: jsonError("Webhooks are off (no secret configured).", {
            off: errorExample("not_found", "Replicate webhooks are not configured"),
          }),
          413: jsonError("Body over 1 MB.", {
            big: errorExample("payload_too_large", "Webhook body must be at most 1048576 bytes"),
          }),
          422: jsonError("Not a prediction.", {
            shape: errorExample("validation_error", "Webhook body is not a prediction"),
          }),
        },
      },
    },
  };
}

function errorExample(code: string, message: string, details?: unknown): Json {
  return { error: details === undefined ? { code, message } : { code, message, details } };
}

function jsonError(description: string, examples: Record<string, Json>): Json {
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

function json(description: string, schema: Json, example: unknown, headers?: Json): Json {
  return {
    description,
    ...(headers ? { headers } : {}),
    content: { "application/json": { schema, example } },
  };
}

const IMAGE_JSON = {
  url: `/images/${JOB_ID}-0.png`,
  content_type: "image/png",
  width: 768,
  height: 512,
  bytes: 81234,
};

const JOB_EXAMPLE = {
  id: JOB_ID,
  prompt: "a lighthouse on a cliff at dusk",
  negative_prompt: "blurry",
  model: "local/aurora",
  parameters: { width: 768, height: 512, num_outputs: 1, seed: 42 },
  status: "completed",
  progress: 100,
  media_path: `generated/${JOB_ID}-0.png`,
  images: [IMAGE_JSON],
  image_url: IMAGE_JSON.url,
  error_message: null,
  retry_count: 0,
  created_at: TIME,
  started_at: TIME,
  completed_at: TIME,
  updated_at: TIME,
  priority: "normal",
  actions: { cancel: false, retry: false, delete: true },
};

const PENDING_JOB = {
  ...JOB_EXAMPLE,
  status: "pending",
  progress: 0,
  media_path: null,
  images: [],
  image_url: null,
  started_at: null,
  completed_at: null,
  actions: { cancel: true, retry: false, delete: true },
};

/** The request body schema of POST /generate, from zod, with the known parameters spelled out. */
function generateRequestSchema(): Json {
  const schema = fromZod(generateRequest);
  const props = schema.properties as Record<string, Json>;
  // The parameters are a JSON object piped into `knownParameters`; zod's input view shows only
  // the object, so point at the detailed schema (other fields still pass through).
  const { default: dflt } = props.parameters;
  props.parameters = {
    ...ref("schemas", "GenerationParameters"),
    default: dflt,
    description: `Passed to the provider. Known fields are checked; others pass through as ` +
      `plain JSON (at most ${LIMITS.parametersBytes} bytes, ${LIMITS.parametersDepth} levels ` +
      `deep, finite numbers, no NUL characters).`,
  };
  props.prompt = {
    ...props.prompt,
    minLength: 1,
    description: "What to draw: 1–2,000 characters, not only spaces, no NUL, valid Unicode.",
  };
  props.negative_prompt = {
    ...props.negative_prompt,
    description: "What to avoid (models that support it).",
  };
  props.model = {
    ...props.model,
    description:
      `\`local/<style>\` (${
        LOCAL_STYLES.map((s) => s.id).join(", ")
      }; always available), or a Replicate model as \`owner/name\` or ` +
      "`owner/name:<64-hex version>` (needs REPLICATE_API_TOKEN; see GET /models).",
  };
  props.priority = {
    ...props.priority,
    description: "Queue priority: high jobs are taken before normal, normal before low.",
  };
  return {
    ...schema,
    description: `Body of POST /generate (JSON, at most ${LIMITS.bodyBytes} bytes).`,
  };
}

/** Query parameters of GET /jobs, one per property of the zod schema. */
function listParameters(): Json[] {
  const schema = fromZod(listQuery);
  const required = new Set((schema.required as string[] | undefined) ?? []);
  const descriptions: Record<string, string> = {
    skip: "Jobs to skip (newest first).",
    limit: "Jobs to return.",
    status: "Only jobs with this status.",
  };
  return Object.entries(schema.properties as Record<string, Json>).map(([name, s]) => ({
    name,
    in: "query",
    required: required.has(name),
    description: descriptions[name],
    schema: s,
  }));
}

function schemas(): Json {
  const nullable = (schema: Json) => ({ anyOf: [schema, { type: "null" }] });
  const check = {
    type: "object",
    required: ["ok", "latency_ms"],
    properties: {
      ok: { type: "boolean" },
      latency_ms: { type: "integer", minimum: 0 },
      error: { type: "string", description: "Why the check failed (at most 200 characters)." },
    },
  };
  const workers = {
    type: "object",
    required: ["online", "capacity", "active"],
    properties: {
      online: { type: "integer", minimum: 0, description: "Workers seen in the last 15 s." },
      capacity: { type: "integer", minimum: 0, description: "Jobs they can run at once." },
      active: { type: "integer", minimum: 0, description: "Jobs they are running now." },
    },
  };
  const provider = {
    type: "object",
    required: ["name", "configured"],
    properties: {
      name: { type: "string", examples: ["local", "replicate"] },
      configured: { type: "boolean" },
      hint: { type: "string", description: "What to set to enable it." },
    },
  };
  return {
    GenerateRequest: generateRequestSchema(),
    GenerationParameters: {
      ...fromZod(knownParameters),
      description: "Provider input. The fields below are validated; any other field is passed " +
        "through to the provider.",
    },
    JobStatus: { type: "string", enum: [...JOB_STATUSES] },
    Priority: { type: "string", enum: ["high", "normal", "low"] },
    Accepted: {
      type: "object",
      required: ["job_id", "status", "message"],
      properties: {
        job_id: { type: "string", format: "uuid" },
        status: { const: "pending" },
        message: {
          type: "string",
          examples: ["Job accepted and queued", "Job already accepted for this Idempotency-Key"],
        },
      },
    },
    Image: {
      type: "object",
      required: ["url", "content_type", "width", "height", "bytes"],
      properties: {
        url: { type: "string", description: "Served by GET /images/{file}." },
        content_type: {
          type: "string",
          enum: ["image/png", "image/jpeg", "image/webp", "image/gif"],
        },
        width: nullable({ type: "integer", minimum: 1 }),
        height: nullable({ type: "integer", minimum: 1 }),
        bytes: { type: "integer", minimum: 0 },
      },
    },
    Job: {
      description: "A job as the API shows it (the old stack's fields plus Darkroom's).",
      ...object({
        id: { type: "string", format: "uuid" },
        prompt: { type: "string" },
        negative_prompt: nullable({ type: "string" }),
        model: { type: "string" },
        parameters: { type: "object", additionalProperties: true },
        status: ref("schemas", "JobStatus"),
        progress: {
          type: "number",
          minimum: 0,
          maximum: 100,
          description: "0–100, from the provider's step logs.",
        },
        media_path: {
          ...nullable({ type: "string" }),
          description: "Old field: the first stored image, relative to STORAGE_PATH.",
        },
        images: { type: "array", items: ref("schemas", "Image") },
        image_url: {
          ...nullable({ type: "string" }),
          description: "The first image, as a URL this service serves.",
        },
        error_message: nullable({ type: "string" }),
        retry_count: { type: "integer", minimum: 0 },
        created_at: { type: "string", format: "date-time" },
        started_at: nullable({ type: "string", format: "date-time" }),
        completed_at: nullable({ type: "string", format: "date-time" }),
        updated_at: { type: "string", format: "date-time" },
        priority: ref("schemas", "Priority"),
        actions: {
          type: "object",
          description: "What can be done to the job now.",
          required: ["cancel", "retry", "delete"],
          properties: {
            cancel: { type: "boolean" },
            retry: { type: "boolean" },
            delete: { type: "boolean" },
          },
        },
      }),
    },
    Error: {
      type: "object",
      description: "The one error shape of the API.",
      required: ["error"],
      properties: {
        error: {
          type: "object",
          required: ["code", "message"],
          properties: {
            code: {
              type: "string",
              description: "Stable machine-readable code.",
              examples: [
                "bad_request",
                "not_found",
                "conflict",
                "idempotency_conflict",
                "payload_too_large",
                "unsupported_media_type",
                "validation_error",
                "service_unavailable",
                "internal_error",
              ],
            },
            message: { type: "string" },
            details: {
              description: "For validation errors, the list of problems; for 500s, the " +
                "request id to quote when reporting the problem.",
              anyOf: [
                { type: "array", items: ref("schemas", "FieldError") },
                { type: "object", additionalProperties: true },
              ],
            },
          },
        },
      },
    },
    FieldError: {
      type: "object",
      required: ["field", "message"],
      properties: {
        field: { type: "string", description: "Dotted path, `(body)` or a header name." },
        message: { type: "string" },
      },
    },
    Models: {
      type: "object",
      required: ["providers", "models", "default_model", "custom_models"],
      properties: {
        providers: { type: "array", items: provider },
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
    Health: {
      type: "object",
      required: ["status", "checks", "time"],
      properties: {
        status: {
          type: "string",
          enum: ["ok", "degraded", "unavailable"],
          description: "`degraded`: no worker seen in 15 s; `unavailable` (503): the database " +
            "or the queue cannot be reached.",
        },
        checks: {
          type: "object",
          required: ["database", "queue", "workers"],
          properties: {
            database: check,
            queue: {
              ...check,
              required: [...check.required, "backend"],
              properties: { ...check.properties, backend: { enum: ["bullmq", "kv"] } },
            },
            workers: {
              ...workers,
              required: ["ok", ...workers.required],
              properties: { ok: { type: "boolean" }, ...workers.properties },
            },
          },
        },
        time: { type: "string", format: "date-time" },
      },
    },
    Ready: {
      type: "object",
      required: ["status", "checks"],
      properties: {
        status: { type: "string", enum: ["ready", "not_ready"] },
        checks: {
          type: "object",
          required: ["database", "queue", "migrations", "storage"],
          properties: Object.fromEntries(
            ["database", "queue", "migrations", "storage"].map((name) => [name, {
              ...ref("schemas", "Check"),
            }]),
          ),
        },
      },
    },
    Check: {
      ...check,
      description: "One dependency check: whether it passed and how long it took.",
    },
    Stats: object({
      scope: {
        enum: ["instance", "key"],
        description: "`instance` for admin keys (and the open API): every figure. `key` for " +
          "other keys: their own jobs and streams; the queue's counts and the workers are left out.",
      },
      queue: {
        type: "object",
        required: ["backend"],
        description: "The counts (`waiting`, `active`, …) are in the `instance` scope only.",
        properties: {
          backend: { enum: ["bullmq", "kv"] },
          ...Object.fromEntries(
            ["waiting", "active", "delayed", "failed", "completed"].map((k) => [k, {
              type: "integer",
              minimum: 0,
            }]),
          ),
        },
      },
      workers,
      jobs_last_hour: {
        type: "object",
        required: ["total", "by_status"],
        properties: {
          total: { type: "integer", minimum: 0 },
          by_status: {
            type: "object",
            propertyNames: ref("schemas", "JobStatus"),
            additionalProperties: { type: "integer", minimum: 0 },
          },
        },
      },
      median_duration_s: {
        ...nullable({ type: "number", minimum: 0 }),
        description: "Median run time of jobs finished in the last hour.",
      },
      database: { enum: ["postgres", "pglite"] },
      providers: { type: "array", items: provider },
      live_clients: {
        type: "integer",
        minimum: 0,
        description: "Open GET /events connections on this API process (the key's own in the " +
          "`key` scope).",
      },
    }, ["workers"]),
  };
}

function responses(prefix: string): Json {
  return {
    BadRequest: jsonError("Malformed JSON, invalid UTF-8 or an empty body.", {
      malformed: errorExample(
        "bad_request",
        "Malformed JSON in request body: Expected property name or '}' in JSON at position 1",
      ),
      utf8: errorExample("bad_request", "Request body is not valid UTF-8"),
    }),
    NotFound: jsonError("No such job (unknown or malformed id).", {
      job: errorExample("not_found", `Job ${JOB_ID} not found`),
    }),
    Conflict: jsonError("The job is not in a state that allows this.", {
      finished: errorExample("conflict", `Job ${JOB_ID} is already completed`),
    }),
    PayloadTooLarge: jsonError(`The body is over ${LIMITS.bodyBytes} bytes.`, {
      too_large: errorExample(
        "payload_too_large",
        `Request body must be at most ${LIMITS.bodyBytes} bytes`,
      ),
    }),
    UnsupportedMediaType: jsonError("The body is not `application/json`.", {
      content_type: errorExample("unsupported_media_type", "Content-Type must be application/json"),
    }),
    ValidationFailed: jsonError("The input is invalid; `details` lists each problem.", {
      query: errorExample("validation_error", "Query is invalid", [
        { field: "limit", message: "limit must be at most 100" },
      ]),
    }),
    Unavailable: jsonError(
      "The database or the queue cannot take the request right now; nothing was kept.",
      {
        unavailable: errorExample(
          "service_unavailable",
          "A backing service is unavailable; try again shortly",
        ),
      },
    ),
    InternalError: jsonError("An unexpected error (logged with the request id).", {
      internal: errorExample("internal_error", "Internal server error", {
        request_id: "0f6c2d8e-3a4b-4c5d-8e9f-a0b1c2d3e4f5",
      }),
    }),
    ImageNotFound: jsonError("No such image: unknown, or not a name this service wrote.", {
      image: errorExample("not_found", "Image not found"),
    }),
    AssetNotFound: jsonError("No such asset.", {
      asset: errorExample("not_found", "Asset not found"),
    }),
    JobAccepted: json(
      "Accepted: the job is stored and queued. Poll the `Location` or listen to " +
        `${prefix}/events.`,
      ref("schemas", "Accepted"),
      { job_id: JOB_ID, status: "pending", message: "Job accepted and queued" },
      {
        Location: ref("headers", "Location"),
        "Idempotent-Replayed": ref("headers", "IdempotentReplayed"),
      },
    ),
  };
}

function parameters(): Json {
  return {
    JobId: {
      name: "job_id",
      in: "path",
      required: true,
      description: "The job's UUID (any other value is answered 404).",
      schema: { type: "string", format: "uuid" },
      example: JOB_ID,
    },
    IdempotencyKey: {
      name: "Idempotency-Key",
      in: "header",
      required: false,
      description: "Makes the request safe to retry: the same key with the same body answers " +
        "the first job (with `Idempotent-Replayed: true`); with another body, 409.",
      schema: { type: "string", pattern: "^[\\x21-\\x7e]{1,255}$" },
      example: "order-42",
    },
    RequestId: {
      name: "X-Request-Id",
      in: "header",
      required: false,
      description: "Your id for this request (`[A-Za-z0-9._:-]{1,128}`), echoed back and " +
        "logged; otherwise one is made up.",
      schema: { type: "string", pattern: "^[A-Za-z0-9._:-]{1,128}$" },
    },
  };
}

function headers(prefix: string): Json {
  return {
    Location: {
      description: `Where to read the job: \`${prefix}/status/{job_id}\`.`,
      schema: { type: "string" },
    },
    IdempotentReplayed: {
      description: "`true` when the answer is the job of an earlier request with this key.",
      schema: { const: "true" },
    },
    XTotalCount: {
      description: "Jobs matching the filter, ignoring skip and limit.",
      schema: { type: "integer", minimum: 0 },
    },
    ImmutableCache: {
      description: "`public, max-age=31536000, immutable`",
      schema: { type: "string" },
    },
  };
}

/** Operations on one job id: read, cancel, retry, delete. */
function jobPaths(prefix: string): Json {
  const read = (operationId: string, summary: string, description: string) => ({
    tags: ["Jobs"],
    operationId,
    summary,
    description,
    parameters: [ref("parameters", "JobId")],
    responses: {
      200: json("The job.", ref("schemas", "Job"), JOB_EXAMPLE),
      404: ref("responses", "NotFound"),
      503: ref("responses", "Unavailable"),
      500: ref("responses", "InternalError"),
    },
  });
  return {
    [`${prefix}/status/{job_id}`]: {
      get: read(
        "getJobStatus",
        "Read a job (the old stack's path)",
        `The same answer as GET ${prefix}/jobs/{job_id}.`,
      ),
    },
    [`${prefix}/jobs/{job_id}`]: {
      get: read("getJob", "Read a job", "Status, progress, images and what can be done next."),
      delete: {
        tags: ["Jobs"],
        operationId: "deleteJob",
        summary: "Delete a job",
        description: "Removes the job, its queue entry and its stored images. A running job is " +
          "deleted too; its worker notices and stops.",
        parameters: [ref("parameters", "JobId")],
        responses: {
          204: { description: "Deleted." },
          404: ref("responses", "NotFound"),
          503: ref("responses", "Unavailable"),
          500: ref("responses", "InternalError"),
        },
      },
    },
    [`${prefix}/jobs/{job_id}/cancel`]: {
      post: {
        tags: ["Jobs"],
        operationId: "cancelJob",
        summary: "Cancel a pending or running job",
        description: "A queued job leaves the queue; a running one is canceled at the provider " +
          "by its worker at the next poll.",
        parameters: [ref("parameters", "JobId")],
        responses: {
          200: json("The canceled job.", ref("schemas", "Job"), {
            ...PENDING_JOB,
            status: "canceled",
            actions: { cancel: false, retry: true, delete: true },
          }),
          404: ref("responses", "NotFound"),
          409: ref("responses", "Conflict"),
          503: ref("responses", "Unavailable"),
          500: ref("responses", "InternalError"),
        },
      },
    },
    [`${prefix}/jobs/{job_id}/retry`]: {
      post: {
        tags: ["Jobs"],
        operationId: "retryJob",
        summary: "Run a failed or canceled job again",
        description: "Resets the job to `pending` (removing any images) and queues it.",
        parameters: [ref("parameters", "JobId")],
        responses: {
          202: json("The job, pending again.", ref("schemas", "Job"), PENDING_JOB),
          404: ref("responses", "NotFound"),
          409: jsonError("Only failed or canceled jobs can be retried.", {
            not_finished: errorExample(
              "conflict",
              "Only failed or canceled jobs can be retried (job is pending)",
            ),
          }),
          503: ref("responses", "Unavailable"),
          500: ref("responses", "InternalError"),
        },
      },
    },
  };
}

function apiPaths(prefix: string): Json {
  return {
    [`${prefix}/generate`]: {
      post: {
        tags: ["Jobs"],
        operationId: "generate",
        summary: "Submit a prompt",
        description: "Validates the request, stores the job (`pending`) and queues it. The " +
          "provider is never awaited here: poll the job or listen to the events.",
        parameters: [ref("parameters", "IdempotencyKey"), ref("parameters", "RequestId")],
        requestBody: {
          required: true,
          content: {
            "application/json": {
              schema: ref("schemas", "GenerateRequest"),
              examples: {
                local: {
                  summary: "Offline model",
                  value: {
                    prompt: "a lighthouse on a cliff at dusk",
                    model: "local/aurora",
                    parameters: { width: 768, height: 512, num_outputs: 2 },
                  },
                },
                replicate: {
                  summary: "Replicate model (needs REPLICATE_API_TOKEN)",
                  value: {
                    prompt: "an astronaut riding a horse",
                    model: "black-forest-labs/flux-schnell",
                    negative_prompt: "blurry",
                    parameters: { num_outputs: 2, seed: 42 },
                    priority: "high",
                  },
                },
              },
            },
          },
        },
        responses: {
          202: ref("responses", "JobAccepted"),
          400: ref("responses", "BadRequest"),
          409: jsonError("The Idempotency-Key was used with a different body.", {
            idempotency: errorExample(
              "idempotency_conflict",
              "This Idempotency-Key was used with a different request body",
            ),
          }),
          413: ref("responses", "PayloadTooLarge"),
          415: ref("responses", "UnsupportedMediaType"),
          422: jsonError(
            "The body, a field or the Idempotency-Key is invalid, or the model's provider is " +
              "not configured (the message says which variable to set).",
            {
              fields: errorExample("validation_error", "Request body is invalid", [
                { field: "prompt", message: "prompt must not be empty" },
                { field: "parameters.width", message: "must be at most 2048" },
              ]),
              provider: errorExample(
                "validation_error",
                "Model black-forest-labs/flux-schnell needs the Replicate provider, which is " +
                  "not configured: set REPLICATE_API_TOKEN (or use a local/... model)",
                [{
                  field: "model",
                  message: "Model black-forest-labs/flux-schnell needs the Replicate provider, " +
                    "which is not configured: set REPLICATE_API_TOKEN (or use a local/... model)",
                }],
              ),
            },
          ),
          503: ref("responses", "Unavailable"),
          500: ref("responses", "InternalError"),
        },
      },
    },
    [`${prefix}/jobs`]: {
      get: {
        tags: ["Jobs"],
        operationId: "listJobs",
        summary: "List jobs, newest first",
        parameters: listParameters(),
        responses: {
          200: json("A page of jobs.", { type: "array", items: ref("schemas", "Job") }, [
            JOB_EXAMPLE,
          ], { "X-Total-Count": ref("headers", "XTotalCount") }),
          422: ref("responses", "ValidationFailed"),
          503: ref("responses", "Unavailable"),
          500: ref("responses", "InternalError"),
        },
      },
    },
    ...jobPaths(prefix),
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
    [`${prefix}/health`]: {
      get: {
        tags: ["Operations"],
        operationId: "health",
        summary: "Database, queue and worker health",
        responses: {
          200: json(
            "Reachable (`ok`, or `degraded` without live workers).",
            ref(
              "schemas",
              "Health",
            ),
            {
              status: "ok",
              checks: {
                database: { ok: true, latency_ms: 1 },
                queue: { ok: true, latency_ms: 1, backend: "bullmq" },
                workers: { ok: true, online: 2, capacity: 128, active: 3 },
              },
              time: TIME,
            },
          ),
          503: json("The database or the queue cannot be reached.", ref("schemas", "Health"), {
            status: "unavailable",
            checks: {
              database: { ok: true, latency_ms: 2 },
              queue: {
                ok: false,
                latency_ms: 2000,
                error: "no answer within 2000 ms",
                backend: "bullmq",
              },
              workers: { ok: false, online: 0, capacity: 0, active: 0 },
            },
            time: TIME,
          }),
        },
      },
    },
    [`${prefix}/ready`]: {
      get: {
        tags: ["Operations"],
        operationId: "ready",
        summary: "Readiness for traffic (load balancers, orchestrators)",
        description: "Ready when the database and the queue answer, every migration is " +
          "applied and the image storage is writable.",
        responses: {
          200: json("Ready.", ref("schemas", "Ready"), {
            status: "ready",
            checks: {
              database: { ok: true, latency_ms: 1 },
              queue: { ok: true, latency_ms: 1 },
              migrations: { ok: true, latency_ms: 2 },
              storage: { ok: true, latency_ms: 1 },
            },
          }),
          503: json("Not ready: a check failed.", ref("schemas", "Ready"), {
            status: "not_ready",
            checks: {
              database: { ok: true, latency_ms: 1 },
              queue: { ok: true, latency_ms: 1 },
              migrations: {
                ok: false,
                latency_ms: 3,
                error: "pending migrations: run deno task migrate",
              },
              storage: { ok: true, latency_ms: 1 },
            },
          }),
        },
      },
    },
    [`${prefix}/stats`]: {
      get: {
        tags: ["Operations"],
        operationId: "stats",
        summary: "Queue, workers and last-hour figures",
        description: "Instance-wide for admin keys (and the open API); any other key gets its " +
          'own jobs of the last hour and its own live streams (`scope: "key"`).',
        responses: {
          200: json("Live figures.", ref("schemas", "Stats"), {
            scope: "instance",
            queue: {
              backend: "bullmq",
              waiting: 2,
              active: 1,
              delayed: 0,
              failed: 0,
              completed: 0,
            },
            workers: { online: 1, capacity: 64, active: 1 },
            jobs_last_hour: { total: 12, by_status: { completed: 9, pending: 2, processing: 1 } },
            median_duration_s: 4.21,
            database: "postgres",
            providers: [
              { name: "local", configured: true },
              { name: "replicate", configured: false, hint: "set REPLICATE_API_TOKEN" },
            ],
            live_clients: 1,
          }),
          503: ref("responses", "Unavailable"),
          500: ref("responses", "InternalError"),
        },
      },
    },
    [`${prefix}/events`]: {
      get: {
        tags: ["Events"],
        operationId: "events",
        summary: "Live job changes (Server-Sent Events)",
        description: "First an `event: ready`, then `event: job` with the job's JSON (as GET " +
          '/jobs/{job_id}) each time a job changes, and `event: job_deleted` with `{"id"}` ' +
          "when one is deleted. Every event has an `id`: reconnect with `Last-Event-ID` (or " +
          "`?last_event_id=`) to get what changed meanwhile. A `: ping` comment is sent after " +
          "15 s of silence. A stream carries only the jobs its key may see, deletions included, " +
          "and ends within seconds of its key being revoked. Each key may hold " +
          "`MAX_STREAMS_PER_KEY` streams at once (429 beyond).",
        parameters: [
          {
            name: "Last-Event-ID",
            in: "header",
            required: false,
            description: "Resume after this event id.",
            schema: { type: "string" },
          },
          {
            name: "last_event_id",
            in: "query",
            required: false,
            description: "The same, for clients that cannot set headers (EventSource).",
            schema: { type: "string" },
          },
          {
            name: "access_token",
            in: "query",
            required: false,
            description: "The API key, for EventSource (which cannot send headers). Accepted " +
              "here only: anywhere else a key in the URL is refused with 401.",
            schema: { type: "string" },
          },
        ],
        responses: {
          200: {
            description: "An endless event stream.",
            content: {
              "text/event-stream": {
                schema: { type: "string" },
                example: `event: ready\ndata: {}\nretry: 2000\n\n` +
                  `event: job\nid: 1741064767000001\ndata: ${JSON.stringify(PENDING_JOB)}\n\n` +
                  `event: job_deleted\nid: 1741064767000002\ndata: {"id":"${JOB_ID}"}\n\n`,
              },
            },
          },
          429: jsonError("The key already holds `MAX_STREAMS_PER_KEY` open streams.", {
            streams: errorExample(
              "rate_limited",
              "Too many live streams: at most 5 open at once; close one and try again",
            ),
          }),
        },
      },
    },
  };
}

function imagePath(): Json {
  const common = {
    tags: ["Images"],
    parameters: [
      {
        name: "file",
        in: "path",
        required: true,
        description: "A file name from a job's `images[].url`.",
        schema: { type: "string", pattern: "^[^/]+\\.(png|jpe?g|webp|gif)$" },
        example: `${JOB_ID}-0.png`,
      },
      ...[
        ["Range", "A single byte range, e.g. `bytes=0-1023`."],
        ["If-None-Match", "Answer 304 when the ETag still matches."],
        ["If-Modified-Since", "Answer 304 when the file is not newer."],
        ["If-Range", "Apply the Range only while this validator matches."],
      ].map(([name, description]) => ({
        name,
        in: "header",
        required: false,
        description,
        schema: { type: "string" },
      })),
    ],
  };
  const fileHeaders = {
    ETag: { schema: { type: "string" } },
    "Last-Modified": { schema: { type: "string" } },
    "Cache-Control": ref("headers", "ImmutableCache"),
    "Accept-Ranges": { schema: { const: "bytes" } },
  };
  const binary = Object.fromEntries(
    ["image/png", "image/jpeg", "image/webp", "image/gif"].map((t) => [t, {
      schema: { type: "string", contentMediaType: t },
    }]),
  );
  const responses = (withBody: boolean) => ({
    200: {
      description: "The image.",
      headers: fileHeaders,
      ...(withBody ? { content: binary } : {}),
    },
    206: {
      description: "The requested byte range.",
      headers: { ...fileHeaders, "Content-Range": { schema: { type: "string" } } },
      ...(withBody ? { content: binary } : {}),
    },
    304: { description: "Not modified.", headers: fileHeaders },
    404: ref("responses", "ImageNotFound"),
    416: jsonError("The range is outside the file.", {
      range: errorExample("range_not_satisfiable", "Requested range not satisfiable"),
    }),
  });
  return {
    "/images/{file}": {
      get: {
        ...common,
        operationId: "getImage",
        summary: "A stored image",
        description: "Long-lived caching, validators, 304 and single byte ranges.",
        responses: responses(true),
      },
      head: {
        ...common,
        operationId: "headImage",
        summary: "A stored image's headers",
        responses: responses(false),
      },
    },
  };
}

function operationsPaths(prefix: string, adminQueuesPath?: string): Json {
  const html = (description: string) => ({
    description,
    content: { "text/html": { schema: { type: "string" } } },
  });
  const paths: Json = {
    "/metrics": {
      get: {
        tags: ["Operations"],
        operationId: "metrics",
        summary: "Prometheus metrics",
        responses: {
          200: {
            description: "Prometheus text exposition format.",
            content: {
              "text/plain": {
                schema: { type: "string" },
                example: "# HELP darkroom_http_requests_total HTTP requests by route and status\n" +
                  "# TYPE darkroom_http_requests_total counter\n" +
                  'darkroom_http_requests_total{method="POST",route="/api/v1/generate",' +
                  'status="202",role="api"} 12\n',
              },
            },
          },
          404: jsonError("Metrics are off in this process.", {
            off: errorExample("not_found", "Metrics are off"),
          }),
        },
      },
    },
    [`${prefix}/openapi.json`]: {
      get: {
        tags: ["Documentation"],
        operationId: "openapi",
        summary: "This document",
        responses: {
          200: {
            description: "OpenAPI 3.1.",
            content: {
              "application/json": {
                schema: { type: "object" },
                example: { openapi: "3.1.1", info: { title: "Darkroom API" } },
              },
            },
          },
        },
      },
    },
    [`${prefix}/docs`]: {
      get: {
        tags: ["Documentation"],
        operationId: "docs",
        summary: "Interactive documentation (Swagger UI, served locally)",
        responses: { 200: html("The Swagger UI page.") },
      },
    },
    [`${prefix}/docs/init.js`]: {
      get: {
        tags: ["Documentation"],
        operationId: "docsInit",
        summary: "Swagger UI start-up script",
        responses: {
          200: {
            description: "JavaScript.",
            content: { "text/javascript": { schema: { type: "string" } } },
          },
        },
      },
    },
    [`${prefix}/docs/assets/{file}`]: {
      get: {
        tags: ["Documentation"],
        operationId: "docsAsset",
        summary: "Swagger UI files (from npm:swagger-ui-dist)",
        parameters: [{
          name: "file",
          in: "path",
          required: true,
          schema: {
            type: "string",
            enum: [
              "swagger-ui.css",
              "index.css",
              "swagger-ui-bundle.js",
              "favicon-16x16.png",
              "favicon-32x32.png",
            ],
          },
        }],
        responses: {
          200: {
            description: "The file, cacheable for a year (its URL carries the version).",
            headers: { "Cache-Control": ref("headers", "ImmutableCache") },
            content: {
              "text/css": { schema: { type: "string" } },
              "text/javascript": { schema: { type: "string" } },
              "image/png": { schema: { type: "string", contentMediaType: "image/png" } },
            },
          },
          404: ref("responses", "AssetNotFound"),
        },
      },
    },
    "/": {
      get: {
        tags: ["UI"],
        operationId: "ui",
        summary: "The browser UI",
        responses: { 200: html("The UI's HTML shell (or how to build it).") },
      },
    },
    "/assets/{file}": {
      get: {
        tags: ["UI"],
        operationId: "uiAsset",
        summary: "The browser UI's bundle",
        parameters: [{
          name: "file",
          in: "path",
          required: true,
          schema: { type: "string", pattern: "^[A-Za-z0-9][A-Za-z0-9._-]{0,200}$" },
        }],
        responses: {
          200: {
            description: "A hashed, immutable asset (JS, CSS, images, fonts).",
            headers: { "Cache-Control": ref("headers", "ImmutableCache") },
            content: { "*/*": { schema: { type: "string" } } },
          },
          404: ref("responses", "AssetNotFound"),
        },
      },
    },
  };
  if (adminQueuesPath) {
    paths[adminQueuesPath] = {
      get: {
        tags: ["Operations"],
        operationId: "adminQueues",
        summary: "Queue dashboard (Bull Board, read-only)",
        description: `Bull Board's UI; its JSON API lives under ${adminQueuesPath}/api/ and is ` +
          "not described here.",
        responses: { 200: html("The dashboard.") },
      },
    };
  }
  return paths;
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
      { name: "Models", description: "What this deployment can run." },
      { name: "Events", description: "Live updates." },
      { name: "Images", description: "Stored outputs." },
      { name: "Operations", description: "Health, readiness, figures and metrics." },
      { name: "Documentation", description: "This document and its viewer." },
      { name: "UI", description: "The browser UI." },
    ],
    paths: {
      ...apiPaths(prefix),
      ...accessPaths(prefix),
      ...imagePath(),
      ...operationsPaths(prefix, options.adminQueuesPath),
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
      schemas: schemas(),
      responses: responses(prefix),
      parameters: parameters(),
      headers: headers(prefix),
    },
  };
}
