/**
 * Jobs: POST /generate, GET /jobs and the operations on one job (read, cancel, retry, delete),
 * with their components. Request schemas come from the zod schemas that validate the requests
 * (shared/jobs/schemas.ts), so limits cannot drift; the Job schema describes shared/jobs/json.ts.
 */
import { JOB_STATUSES } from "../../shared/jobs/repo.ts";
import { generateRequest, knownParameters, LIMITS, listQuery } from "../../shared/jobs/schemas.ts";
import { LOCAL_STYLES } from "../../shared/providers/local_render.ts";
import {
  errorExample,
  fromZod,
  type Json,
  json,
  jsonError,
  nullable,
  object,
  ref,
} from "./builders.ts";
import { JOB_EXAMPLE, JOB_ID, PENDING_JOB } from "./examples.ts";
import { budgetExceeded } from "./usage.ts";

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
      }; always available), a Replicate model as \`owner/name\` or ` +
      "`owner/name:<64-hex version>` (needs REPLICATE_API_TOKEN), a fal model as " +
      "`fal:<endpoint id>` (needs FAL_KEY), or an alias (a model route such as `flux-schnell`: " +
      "tried on its targets in order, moving on only when a target never accepted the request; " +
      "see GET /models).",
  };
  props.priority = {
    ...props.priority,
    description: "Queue priority: high jobs are taken before normal, normal before low.",
  };
  props.dedupe = {
    ...props.dedupe,
    description: "With an explicit `parameters.seed`: answer 200 with the newest completed job " +
      "of the same key with the same model, prompt, negative prompt and parameters (key order " +
      "and surrounding spaces aside) made within DEDUPE_WINDOW_S, at no cost, instead of " +
      "running it again. Without a seed: 422.",
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
    skip: "Jobs to skip (in the page order). Paging by `cursor` stays fast deep into the " +
      "history; `skip` cannot be combined with it.",
    limit: "Jobs to return.",
    status: "Only jobs with this status.",
    provider: "Only jobs held by this provider (a route's job once a target took it).",
    q: "Words of the prompt or negative prompt, over the whole history: every word (a run of " +
      "letters and digits, any case) must start a word of the job's prompts (`light` finds " +
      "`lighthouse`). Text without a letter or digit filters nothing.",
    model: "Only jobs of this model; `owner/name` also matches its versions " +
      "`owner/name:<version>`.",
    starred: "`true`: only starred jobs; `false`: only the others.",
    collection: "Only jobs in this collection (one of the caller's; another id is 422).",
    after: "Only jobs made at or after this moment: `2025-06-01` (midnight UTC) or an RFC 3339 " +
      "date-time with its offset.",
    before: "Only jobs made before this moment (same forms as `after`).",
    sort: "`newest` (the default) or `oldest` first.",
    cursor: "Where the page starts: the `X-Next-Cursor` of the page before (opaque; it " +
      "belongs to one `sort`).",
  };
  return Object.entries(schema.properties as Record<string, Json>).map(([name, s]) => ({
    name,
    in: "query",
    required: required.has(name),
    description: descriptions[name],
    schema: s,
  }));
}

/** Schemas of the request, the acceptance and the job. */
export function jobSchemas(): Json {
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
    FinishedJob: {
      description: "A finished job, with `job_id` (its `id`) as a 202 answer has it.",
      allOf: [ref("schemas", "Job"), {
        type: "object",
        required: ["job_id"],
        properties: { job_id: { type: "string", format: "uuid" } },
      }],
    },
    Image: {
      type: "object",
      required: ["url", "thumbnail_url", "content_type", "width", "height", "bytes"],
      properties: {
        url: { type: "string", description: "Served by GET /images/{file}." },
        thumbnail_url: {
          type: "string",
          description: "A WebP of at most 512 px on the long side (`<name>.thumb.webp`), for " +
            "grids; made when the image is stored, or on first request for older images.",
        },
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
        thumbnail_url: {
          ...nullable({ type: "string" }),
          description: "The first image's thumbnail.",
        },
        input_images: {
          type: "array",
          items: ref("schemas", "InputImage"),
          description: "The images given as inputs (image fields of `parameters`).",
        },
        error_message: nullable({ type: "string" }),
        retry_count: { type: "integer", minimum: 0 },
        created_at: { type: "string", format: "date-time" },
        started_at: nullable({ type: "string", format: "date-time" }),
        completed_at: nullable({ type: "string", format: "date-time" }),
        updated_at: { type: "string", format: "date-time" },
        priority: ref("schemas", "Priority"),
        webhook_url: {
          ...nullable({ type: "string" }),
          description: "Where a signed POST goes when the job ends (see its /webhooks).",
        },
        webhook_events: {
          ...nullable({
            type: "array",
            items: { type: "string", enum: ["completed", "failed", "canceled"] },
          }),
          description: "The end states that are sent; null: all of them.",
        },
        provider: {
          type: "string",
          enum: ["local", "replicate", "fal"],
          description: "Who holds the job's prediction; for a job on a route that no target " +
            "has taken yet, the first target's provider.",
        },
        provider_model: {
          ...nullable({ type: "string" }),
          description: "The model as its provider knows it: what actually served the job " +
            "(`owner/name`, `fal:<endpoint>`); null while a route has not placed the job.",
        },
        route: {
          ...nullable({ type: "string" }),
          description: "The alias the job was submitted with (a model route), or null.",
        },
        inputs_validated: {
          ...nullable({ type: "boolean" }),
          description: "True when `prompt`/`parameters` were checked against the model's input " +
            "schema at submit; false when they passed on unchecked: a route alias (each target " +
            "takes its own mapped inputs), a fal endpoint that publishes no schema, or a schema " +
            "that could not be had then (the provider checks them when the prediction is " +
            "made); null for jobs stored before this was recorded.",
        },
        queue_position: {
          ...nullable({ type: "integer", minimum: 0 }),
          description: "The job's place in a line. `pending`: its place among the waiting " +
            "jobs (1: next to start), by priority then age, among the first 1,000 waiting jobs " +
            "(read at most once a second). `processing` at a provider with a queue of its own " +
            "(fal's IN_QUEUE): its place in that queue as the provider said it (fal counts " +
            "from 0). Null otherwise.",
        },
        predictions: {
          type: "integer",
          minimum: 0,
          description: "Provider predictions made for the job (1 for a job run once; local " +
            "renders count too).",
        },
        predict_time_s: {
          ...nullable({ type: "number", minimum: 0 }),
          description: "The provider's predict time (Replicate's `metrics.predict_time`, what " +
            "it bills by the second), summed over the job's predictions; null until known.",
        },
        cost_usd: {
          ...nullable({ type: "number", minimum: 0 }),
          description: "**Estimated** cost in USD, from the price table (PRICING; built-in " +
            "prices for popular official models, a per-second default otherwise; local models " +
            "cost 0), not the provider's bill. Null until known: while the job runs, or when " +
            "the provider gave no predict time for a per-second price.",
        },
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
        starred: {
          type: "boolean",
          description: "Starred by its owner (POST/DELETE /jobs/{job_id}/star).",
        },
        eta_s: {
          ...nullable({ type: "number", minimum: 0 }),
          description: "Seconds until an unfinished job should be done, from its model's " +
            "recent runs (the median run of the model among the last 500 completed jobs, at " +
            "least three of them): a running job's median run minus the time it has run, or " +
            "what its progress says once it runs longer; a waiting job's median run times its " +
            "turn among the workers' slots. Null when unknown or finished.",
        },
      }),
    },
  };
}

/** The answers of POST /generate. */
export function jobResponses(prefix: string): Json {
  return {
    JobFinished: json(
      "`Prefer: wait=N` was sent and the job finished (completed, or failed: see `status`) " +
        "within N seconds: the job itself, with `job_id`.",
      ref("schemas", "FinishedJob"),
      { job_id: JOB_ID, ...JOB_EXAMPLE },
      {
        Location: ref("headers", "Location"),
        "Preference-Applied": ref("headers", "PreferenceApplied"),
      },
    ),
    JobDeduplicated: json(
      '`"dedupe": true` and the same request completed within DEDUPE_WINDOW_S: that job, ' +
        "at no cost (nothing new is stored or run).",
      ref("schemas", "FinishedJob"),
      { job_id: JOB_ID, ...JOB_EXAMPLE },
      {
        Location: ref("headers", "Location"),
        Deduplicated: ref("headers", "Deduplicated"),
      },
    ),
    JobAccepted: json(
      "Accepted: the job is stored and queued (or, while the queue is away, kept in Postgres " +
        `and queued when it returns). Poll the \`Location\` or listen to ${prefix}/events.`,
      ref("schemas", "Accepted"),
      { job_id: JOB_ID, status: "pending", message: "Job accepted and queued" },
      {
        Location: ref("headers", "Location"),
        "Idempotent-Replayed": ref("headers", "IdempotentReplayed"),
        "Preference-Applied": ref("headers", "PreferenceApplied"),
      },
    ),
  };
}

/** The job id in paths and the Idempotency-Key of POST /generate. */
export function jobParameters(): Json {
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
    PreferWait: {
      name: "Prefer",
      in: "header",
      required: false,
      description: "`wait=N` (1–60; `wait` alone: 60): answer 201 with the finished job if it " +
        "finishes within N seconds, else 202 as without it. Waiting holds no database " +
        "connection; past MAX_WAITING_SUBMITS waiting submits, the answer is 202 at once. An " +
        "Idempotency-Key replay answers 202 without waiting.",
      schema: { type: "string", pattern: "^wait(=\\d+)?$" },
      example: "wait=30",
    },
  };
}

/** Headers of the submit and list answers. */
export function jobHeaders(prefix: string): Json {
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
      description: "Jobs matching the filters, ignoring skip, cursor and limit: exact when " +
        "Postgres expects at most 10,000, its planner's estimate above (then " +
        "`X-Total-Count-Estimated: true`).",
      schema: { type: "integer", minimum: 0 },
    },
    PreferenceApplied: {
      description: "`wait=N`: the submit waited (up to N seconds) for its job.",
      schema: { type: "string" },
    },
    Deduplicated: {
      description: '`true`: the answer is an earlier identical job (`"dedupe": true`).',
      schema: { const: "true" },
    },
    XTotalCountEstimated: {
      description: "`true` when X-Total-Count is an estimate (more than 10,000 expected).",
      schema: { const: "true" },
    },
    XNextCursor: {
      description: "The `cursor` of the next page; absent on the last page.",
      schema: { type: "string" },
    },
    Link: {
      description: 'The next page, as `<path?…&cursor=…>; rel="next"`; absent on the last ' +
        "page.",
      schema: { type: "string" },
    },
  };
}

/** POST /generate and GET /jobs, then the operations on one job id. */
export function jobPaths(prefix: string): Json {
  return {
    [`${prefix}/generate`]: {
      post: {
        tags: ["Jobs"],
        operationId: "generate",
        summary: "Submit a prompt",
        description: "Validates the request, stores the job (`pending`) and queues it. The " +
          "provider is never awaited here: poll the job or listen to the events.",
        parameters: [
          ref("parameters", "IdempotencyKey"),
          ref("parameters", "PreferWait"),
          ref("parameters", "RequestId"),
        ],
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
                fal: {
                  summary: "fal model (needs FAL_KEY)",
                  value: {
                    prompt: "an astronaut riding a horse",
                    model: "fal:fal-ai/flux/schnell",
                    parameters: { image_size: "landscape_16_9", num_images: 1 },
                  },
                },
                route: {
                  summary: "Alias: Replicate first, fal when Replicate never took the request",
                  value: {
                    prompt: "an astronaut riding a horse",
                    model: "flux-schnell",
                    parameters: { aspect_ratio: "16:9", num_outputs: 1, seed: 42 },
                  },
                },
              },
            },
          },
        },
        responses: {
          200: ref("responses", "JobDeduplicated"),
          201: ref("responses", "JobFinished"),
          202: ref("responses", "JobAccepted"),
          400: ref("responses", "BadRequest"),
          402: budgetExceeded(),
          409: jsonError("The Idempotency-Key was used with a different body.", {
            idempotency: errorExample(
              "idempotency_conflict",
              "This Idempotency-Key was used with a different request body",
            ),
          }),
          408: ref("responses", "RequestTimeout"),
          413: ref("responses", "PayloadTooLarge"),
          415: ref("responses", "UnsupportedMediaType"),
          422: jsonError(
            "The body, a field or the Idempotency-Key is invalid, the inputs do not fit the " +
              "model's input schema (see GET /models/{owner}/{name}; unknown inputs too unless " +
              '`"strict_inputs": false`), an upload is unknown, or the model\'s provider is ' +
              "not configured (the message says which variable to set).",
            {
              fields: errorExample("validation_error", "Request body is invalid", [
                { field: "prompt", message: "prompt must not be empty" },
                { field: "parameters.width", message: "must be at most 2048" },
              ]),
              inputs: errorExample(
                "validation_error",
                "The inputs do not fit black-forest-labs/flux-schnell: parameters.aspect_ratio " +
                  'must be one of "1:1", "16:9", "9:16" (got "7:3") (and 1 more)',
                [
                  {
                    field: "parameters.aspect_ratio",
                    message: 'must be one of "1:1", "16:9", "9:16" (got "7:3")',
                  },
                  {
                    field: "parameters.num_inference_steps",
                    message: "is not an input of black-forest-labs/flux-schnell; its inputs are " +
                      'prompt, aspect_ratio, num_outputs. Send "strict_inputs": false to pass ' +
                      "it on anyway",
                  },
                ],
              ),
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
        summary: "List and search jobs, newest first",
        description: "A page of the caller's jobs (every job for an admin key), searched and " +
          "filtered over the whole history. Page with `cursor` (from `X-Next-Cursor` or the " +
          "`Link` header); `skip` still works.",
        parameters: listParameters(),
        responses: {
          200: json("A page of jobs.", { type: "array", items: ref("schemas", "Job") }, [
            JOB_EXAMPLE,
          ], {
            "X-Total-Count": ref("headers", "XTotalCount"),
            "X-Total-Count-Estimated": ref("headers", "XTotalCountEstimated"),
            "X-Next-Cursor": ref("headers", "XNextCursor"),
            Link: ref("headers", "Link"),
          }),
          422: ref("responses", "ValidationFailed"),
          503: ref("responses", "Unavailable"),
          500: ref("responses", "InternalError"),
        },
      },
    },
    ...jobIdPaths(prefix),
  };
}

/** Operations on one job id: read, cancel, retry, delete. */
function jobIdPaths(prefix: string): Json {
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
            eta_s: null,
            queue_position: null,
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
          402: budgetExceeded(),
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
