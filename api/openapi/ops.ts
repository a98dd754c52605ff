/** Operations: GET /health, /ready, /stats, /metrics and the Bull Board dashboard. */
import {
  errorExample,
  html,
  type Json,
  json,
  jsonError,
  nullable,
  object,
  ref,
} from "./builders.ts";
import { TIME } from "./examples.ts";
import { PROVIDER_SCHEMA } from "./models.ts";

const CHECK = {
  type: "object",
  required: ["ok", "latency_ms"],
  properties: {
    ok: { type: "boolean" },
    latency_ms: { type: "integer", minimum: 0 },
    error: { type: "string", description: "Why the check failed (at most 200 characters)." },
  },
};

const PROVIDERS_CHECK = {
  type: "object",
  required: ["ok", "status", "down", "providers"],
  description: "Each provider's circuit as the workers report it.",
  properties: {
    ok: { type: "boolean" },
    status: {
      type: "string",
      enum: ["ok", "degraded", "down"],
      description: "`degraded`: a configured provider's circuit is open while another works; " +
        "`down`: none works.",
    },
    down: { type: "array", items: { type: "string" }, description: "Providers that are down." },
    providers: { type: "array", items: PROVIDER_SCHEMA },
  },
};

const WORKERS = {
  type: "object",
  required: ["online", "capacity", "active"],
  properties: {
    online: { type: "integer", minimum: 0, description: "Workers seen in the last 15 s." },
    capacity: { type: "integer", minimum: 0, description: "Jobs they can run at once." },
    active: { type: "integer", minimum: 0, description: "Jobs they are running now." },
  },
};

/** Schemas of the health, readiness and stats answers. */
export function opsSchemas(): Json {
  return {
    Health: {
      type: "object",
      required: ["status", "checks", "time"],
      properties: {
        status: {
          type: "string",
          enum: ["ok", "degraded", "unavailable"],
          description: "`degraded`: no worker seen in 15 s, a provider is down, or the queue " +
            "cannot be reached (jobs are still accepted: kept in Postgres until it returns); " +
            "`unavailable` (503): the database cannot be reached.",
        },
        checks: {
          type: "object",
          required: ["database", "queue", "workers"],
          properties: {
            database: CHECK,
            queue: {
              ...CHECK,
              required: [...CHECK.required, "backend"],
              properties: { ...CHECK.properties, backend: { enum: ["bullmq", "kv"] } },
            },
            workers: {
              ...WORKERS,
              required: ["ok", ...WORKERS.required],
              properties: { ok: { type: "boolean" }, ...WORKERS.properties },
            },
            providers: PROVIDERS_CHECK,
          },
        },
        time: { type: "string", format: "date-time" },
      },
    },
    Ready: {
      type: "object",
      required: ["status", "checks"],
      properties: {
        status: {
          type: "string",
          enum: ["ready", "degraded", "not_ready"],
          description: "`degraded` (200): a provider is down while another works, or the " +
            "queue cannot be reached (jobs wait in Postgres until it returns); `not_ready` " +
            "(503): a check failed, or no provider works.",
        },
        checks: {
          type: "object",
          required: ["database", "queue", "migrations", "storage"],
          properties: {
            ...Object.fromEntries(
              ["database", "queue", "migrations"].map((name) => [name, {
                ...ref("schemas", "Check"),
              }]),
            ),
            storage: {
              ...CHECK,
              required: [...CHECK.required, "backend"],
              properties: {
                ...CHECK.properties,
                backend: {
                  enum: ["local", "s3"],
                  description: "`local`: STORAGE_PATH on this host; `s3`: the STORAGE_URL bucket.",
                },
              },
            },
            providers: PROVIDERS_CHECK,
          },
        },
      },
    },
    Check: {
      ...CHECK,
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
      workers: WORKERS,
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
      providers: { type: "array", items: PROVIDER_SCHEMA },
      live_clients: {
        type: "integer",
        minimum: 0,
        description: "Open GET /events connections on this API process (the key's own in the " +
          "`key` scope).",
      },
    }, ["workers"]),
  };
}

/** GET /health, /ready and /stats. */
export function healthPaths(prefix: string): Json {
  return {
    [`${prefix}/health`]: {
      get: {
        tags: ["Operations"],
        operationId: "health",
        summary: "Database, queue and worker health",
        responses: {
          200: json(
            "Reachable (`ok`, or `degraded` without live workers or without the queue).",
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
          503: json("The database cannot be reached.", ref("schemas", "Health"), {
            status: "unavailable",
            checks: {
              database: {
                ok: false,
                latency_ms: 2000,
                error: "no answer within 2000 ms",
              },
              queue: { ok: true, latency_ms: 1, backend: "bullmq" },
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
        description: "Ready when the database answers, every migration is applied, the image " +
          "storage (local folder or bucket) is writable and a provider works. The queue is " +
          "reported but not required: while it is away jobs are still accepted (`degraded`), " +
          "as while one provider's circuit is open and another works.",
        responses: {
          200: json("Ready.", ref("schemas", "Ready"), {
            status: "ready",
            checks: {
              database: { ok: true, latency_ms: 1 },
              queue: { ok: true, latency_ms: 1 },
              migrations: { ok: true, latency_ms: 2 },
              storage: { ok: true, latency_ms: 1, backend: "local" },
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
              storage: { ok: true, latency_ms: 1, backend: "s3" },
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
              {
                name: "local",
                configured: true,
                status: "up",
                circuit: null,
                consecutive_failures: 0,
                last_error: null,
                since: null,
              },
              {
                name: "replicate",
                configured: true,
                status: "down",
                circuit: "open",
                consecutive_failures: 5,
                last_error: "Cannot create prediction for black-forest-labs/flux-schnell: " +
                  "status 503: Service Unavailable",
                since: TIME,
              },
              {
                name: "fal",
                configured: false,
                hint: "set FAL_KEY",
                status: "off",
                circuit: null,
                consecutive_failures: 0,
                last_error: null,
                since: null,
              },
            ],
            live_clients: 1,
          }),
          503: ref("responses", "Unavailable"),
          500: ref("responses", "InternalError"),
        },
      },
    },
  };
}

/** GET /metrics (outside the API prefix). */
export function metricsPaths(): Json {
  return {
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
  };
}

/** The Bull Board dashboard, when it is mounted (BullMQ backend only). */
export function adminQueuesPaths(adminQueuesPath?: string): Json {
  if (!adminQueuesPath) return {};
  return {
    [adminQueuesPath]: {
      get: {
        tags: ["Operations"],
        operationId: "adminQueues",
        summary: "Queue dashboard (Bull Board, read-only)",
        description: `Bull Board's UI; its JSON API lives under ${adminQueuesPath}/api/ and is ` +
          "not described here. With the Deno KV queue (`deno task start` without REDIS_URL) a " +
          "page with the queue's counts instead: Bull Board needs the BullMQ queue.",
        responses: { 200: html("The dashboard.") },
      },
    },
  };
}
