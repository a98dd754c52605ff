/** Configuration from the environment (and `.env`), validated with zod in one place. */
import { z } from "zod";
import { parseModelRoutes } from "./providers/routes.ts";
import { isInlinePricing, parsePriceTable } from "./spend/pricing.ts";
import { parseS3Url } from "./storage/s3_url.ts";

const LOG_LEVELS = ["debug", "info", "warn", "error"] as const;

function intVar(def: number, min: number, max: number) {
  return z.coerce.number().int().min(min).max(max).default(def);
}

function optionalString() {
  return z.string().trim().optional().transform((v) => (v ? v : undefined));
}

const databaseUrl = optionalString()
  .transform((v) => v?.replace(/^postgres(ql)?\+asyncpg:\/\//, "postgresql://"))
  .refine((v) => v === undefined || /^postgres(ql)?:\/\/.+/.test(v), {
    message: "must be a postgres:// or postgresql:// URL",
  });

const redisUrl = optionalString().refine(
  (v) => v === undefined || /^rediss?:\/\/.+/.test(v),
  { message: "must be a redis:// or rediss:// URL" },
);

const booleanVar = z.enum(["true", "false", "1", "0"]).default("false").transform((v) =>
  v === "true" || v === "1"
);

/** An optional http(s) URL without credentials in it, trailing slashes removed. */
function optionalHttpUrl() {
  return optionalString().refine(
    (v) => v === undefined || (/^https?:\/\/\S+$/.test(v) && URL.canParse(v)),
    { message: "must be an http(s) URL" },
  ).refine((v) => v === undefined || !URL.canParse(v) || !new URL(v).username, {
    message: "must not hold credentials (use AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)",
  }).transform((v) => v?.replace(/\/+$/, ""));
}

const httpUrl = z.string().trim().refine((v) => /^https?:\/\/\S+$/.test(v) && URL.canParse(v), {
  message: "must be an http(s) URL",
});

export const configSchema = z.object({
  DATABASE_URL: databaseUrl,
  REDIS_URL: redisUrl,
  REPLICATE_API_TOKEN: optionalString(),
  REPLICATE_BASE_URL: httpUrl.default("https://api.replicate.com/v1").transform((v) =>
    v.replace(/\/+$/, "")
  ),
  /** fal.ai key (what fal's own clients read); enables `fal:<endpoint>` models. */
  FAL_KEY: optionalString(),
  /** fal's queue API (tests point it at a fake). */
  FAL_QUEUE_URL: httpUrl.default("https://queue.fal.run").transform((v) => v.replace(/\/+$/, "")),
  /** fal's webhook signing keys (JWKS, ED25519). */
  FAL_JWKS_URL: httpUrl.default("https://rest.fal.ai/.well-known/jwks.json"),
  /** fal's per-endpoint OpenAPI documents (input schemas), asked with `?endpoint_id=`. */
  FAL_OPENAPI_URL: httpUrl.default("https://fal.ai/api/openapi/queue/openapi.json"),
  /**
   * Model aliases with ordered targets (JSON, or the path of a JSON file), laid over the built-in
   * table: `{"flux-schnell": ["black-forest-labs/flux-schnell", "fal:fal-ai/flux/schnell"]}`.
   */
  MODEL_ROUTES: optionalString().superRefine((v, ctx) => {
    if (v === undefined) return;
    try {
      parseModelRoutes(v);
    } catch (err) {
      ctx.addIssue({ code: "custom", message: (err as Error).message });
    }
  }),
  /** A provider's circuit opens after this many failures in a row (or half its calls failing). */
  PROVIDER_CIRCUIT_FAILURES: intVar(5, 1, 1000),
  /** How long an open circuit sends nothing before one probe (seconds). */
  PROVIDER_CIRCUIT_COOLDOWN_S: intVar(30, 1, 3600),
  PORT: intVar(8000, 0, 65535),
  HOST: z.string().trim().min(1).default("127.0.0.1"),
  API_V1_PREFIX: z.string().trim().regex(/^\/[A-Za-z0-9/_-]*[A-Za-z0-9_-]$/, {
    message: "must start with / and not end with /",
  }).default("/api/v1"),
  STORAGE_PATH: z.string().trim().min(1).default("./storage"),
  WORKER_CONCURRENCY: intVar(64, 1, 1000),
  /**
   * CPU niceness the worker takes at start (0, the default, keeps the one it was started with):
   * on a machine it shares with the API, the API's requests run first and the worker's jobs in
   * the gaps. For remote providers; the `local` provider's jobs are CPU work and would starve.
   */
  WORKER_NICE: intVar(0, 0, 19),
  MAX_RETRIES: intVar(3, 0, 20),
  RETRY_BACKOFF_BASE: z.coerce.number().min(1).max(10).default(2),
  LOG_LEVEL: z.string().trim().toLowerCase().pipe(z.enum(LOG_LEVELS)).default("info"),
  MAX_IMAGE_BYTES: intVar(50 * 1024 * 1024, 1024, 1024 * 1024 * 1024),
  QUEUE_PREFIX: z.string().trim().regex(/^[A-Za-z0-9:_-]+$/).default("darkroom"),
  PROVIDER_TIMEOUT_MS: intVar(30_000, 100, 600_000),
  PREDICTION_DEADLINE_S: intVar(1800, 5, 86_400),
  LOCAL_STEP_MS: intVar(60, 0, 10_000),
  /** Keep finished jobs (and their images) this many days; 0 keeps them forever. */
  RETENTION_DAYS: intVar(0, 0, 36_500),
  /**
   * On SIGTERM, how long a stop may take in all (seconds): running jobs finish for all of it but
   * a short reserve, which hands back what is left; then the process exits whatever remains.
   */
  SHUTDOWN_TIMEOUT_S: intVar(25, 1, 3600),
  /** A request body must arrive within this long (seconds), or the API answers 408. */
  BODY_TIMEOUT_S: intVar(30, 1, 3600),
  /** Queue lock: a crashed worker's job is taken over after about this long (milliseconds). */
  QUEUE_LOCK_MS: intVar(5000, 1000, 600_000),
  /** How often workers re-queue jobs whose queue message was lost (seconds). */
  RECONCILE_INTERVAL_S: intVar(30, 1, 3600),
  /** Re-queue unfinished jobs untouched for this long (seconds). */
  RECONCILE_STALE_S: intVar(60, 1, 86_400),
  /**
   * `none` (open) or `api_key`. Unset: open when HOST is a loopback address, keys otherwise.
   */
  AUTH_MODE: z.enum(["none", "api_key"]).optional(),
  /**
   * Submits per minute per key (per client address when open); 0 = unlimited. Each submit can
   * spend provider credits: 120 (two a second, or a batch of 120 at once) is a busy person or a
   * small integration; a leaked key spends at most that much a minute.
   */
  RATE_LIMIT_PER_MINUTE: intVar(120, 0, 1_000_000),
  /**
   * Reads (GET under the API prefix; health, readiness and docs excepted) per minute per key (per
   * client address when open); 0 = unlimited. 1200 is 20 a second: the UI needs a few a second at
   * most, an integration polling 20 jobs every second fits.
   */
  READS_PER_MINUTE: intVar(1200, 0, 10_000_000),
  /**
   * Live event streams (GET /events) one key (client address when open) may hold open at once;
   * 0 = unlimited. Five covers a person with a few tabs and a dashboard.
   */
  MAX_STREAMS_PER_KEY: intVar(5, 0, 100_000),
  /** Unfinished jobs one API key may have at once; 0 = unlimited. */
  MAX_ACTIVE_JOBS_PER_KEY: intVar(200, 0, 1_000_000),
  /** Browser origins allowed to call the API cross-site (comma-separated); empty = none. */
  CORS_ORIGINS: z.string().trim().default("").transform((v) =>
    v.split(",").map((o) => o.trim().replace(/\/+$/, "")).filter(Boolean)
  ).pipe(
    z.array(
      z.string().regex(/^https?:\/\/[^/\s]+$/, {
        message: "must be origins like https://app.example.com",
      }),
    ),
  ),
  /** This service's public URL; when set, Replicate pushes prediction updates to it. */
  PUBLIC_BASE_URL: optionalString().refine(
    (v) => v === undefined || (/^https?:\/\/\S+$/.test(v) && URL.canParse(v)),
    { message: "must be an http(s) URL" },
  ).transform((v) => v?.replace(/\/+$/, "")),
  /** Replicate's webhook signing secret (whsec_…); enables POST /webhooks/replicate. */
  REPLICATE_WEBHOOK_SECRET: optionalString().refine(
    (v) => v === undefined || /^whsec_[A-Za-z0-9+/=]{16,}$/.test(v),
    {
      message: "must look like whsec_<base64>",
    },
  ),
  /** Signs outgoing webhooks of jobs made without an API key (AUTH_MODE=none): whsec_…. */
  WEBHOOK_SECRET: optionalString().refine(
    (v) => v === undefined || /^whsec_[A-Za-z0-9+/=]{16,}$/.test(v),
    { message: "must look like whsec_<base64> (e.g. from deno task keys create)" },
  ),
  /** Hosts (host[:port], comma-separated) webhooks may reach over http or on private addresses. */
  WEBHOOK_ALLOW_HOSTS: z.string().trim().default("").transform((v) =>
    v.split(",").map((h) => h.trim()).filter(Boolean)
  ),
  /** Allow output downloads from private addresses (only for trusted internal providers). */
  ALLOW_PRIVATE_DOWNLOADS: z.enum(["true", "false", "1", "0"]).default("false").transform((v) =>
    v === "true" || v === "1"
  ),
  /** Worker's own /health and /metrics port (0 = off; set one per worker host or container). */
  WORKER_PORT: intVar(0, 0, 65535),
  /** Embedded mode (`deno task start`): where PGlite and the Deno KV queue keep their files. */
  DATA_DIR: z.string().trim().min(1).default("./data"),
  /** `s3://bucket/prefix`: images in an S3-compatible bucket; unset keeps them under STORAGE_PATH. */
  STORAGE_URL: optionalString().superRefine((v, ctx) => {
    if (v === undefined) return;
    try {
      parseS3Url(v);
    } catch (err) {
      ctx.addIssue({ code: "custom", message: (err as Error).message });
    }
  }),
  AWS_ACCESS_KEY_ID: optionalString(),
  AWS_SECRET_ACCESS_KEY: optionalString(),
  AWS_REGION: z.string().trim().regex(/^[a-z0-9-]{1,40}$/, {
    message: "must be a region name like us-east-1 (auto for R2)",
  }).default("us-east-1"),
  /** The bucket service's endpoint (R2, MinIO, B2, Wasabi, Ceph); AWS when unset. */
  AWS_ENDPOINT_URL_S3: optionalHttpUrl(),
  /** The AWS SDKs' general endpoint variable; AWS_ENDPOINT_URL_S3 wins when both are set. */
  AWS_ENDPOINT_URL: optionalHttpUrl(),
  /** `https://endpoint/bucket/key` addressing, for servers without virtual-host buckets. */
  S3_FORCE_PATH_STYLE: booleanVar,
  /** `proxy`: images stream through the API; `redirect`: 302 to the bucket (needs STORAGE_URL). */
  IMAGE_DELIVERY: z.string().trim().toLowerCase().pipe(z.enum(["proxy", "redirect"])).default(
    "proxy",
  ),
  /** With IMAGE_DELIVERY=redirect: redirect to `<this>/<key>` (public bucket or CDN), unsigned. */
  PUBLIC_IMAGE_BASE_URL: optionalHttpUrl(),
  /** Lifetime of a presigned image URL (IMAGE_DELIVERY=redirect), seconds. */
  IMAGE_URL_TTL_S: intVar(900, 1, 604_800),
  /** How long `owner/name` keeps meaning the model version last fetched (seconds). */
  MODEL_SCHEMA_TTL_S: intVar(3600, 1, 604_800),
  /** Largest image POST /uploads takes (bytes); also the cap on https image inputs. */
  UPLOAD_MAX_BYTES: intVar(20 * 1024 * 1024, 1024, 1024 * 1024 * 1024),
  /** An upload no job uses is removed after this long (seconds). */
  UPLOAD_TTL_S: intVar(86_400, 60, 31_536_000),
  /** Lifetime of the signed upload URLs handed to providers (seconds). */
  UPLOAD_URL_TTL_S: intVar(3600, 60, 604_800),
  /** Signs those URLs; unset: a random key kept in the database (shared by every process). */
  UPLOAD_URL_SECRET: optionalString().refine((v) => v === undefined || v.length >= 32, {
    message: "must be at least 32 characters",
  }),
  /**
   * Prices for cost estimates: a JSON table (`{"owner/name": {"per_image": 0.003}, "*": ...}`)
   * over the built-in one, or the path of a file holding it (shared/spend/pricing.ts).
   */
  PRICING: optionalString().superRefine((v, ctx) => {
    if (v === undefined || !isInlinePricing(v)) return; // a file is read (and checked) at start
    try {
      parsePriceTable(v);
    } catch (err) {
      ctx.addIssue({ code: "custom", message: (err as Error).message });
    }
  }),
  /** Replicate holds a create up to this long until the prediction ends (`Prefer: wait`); 0: off. */
  REPLICATE_PREFER_WAIT_S: intVar(20, 0, 60),
  /** `"dedupe": true` reuses an identical completed job at most this old (seconds). */
  DEDUPE_WINDOW_S: intVar(3600, 1, 30 * 86_400),
  /** Submits that may wait at once for their job (`Prefer: wait` on POST /generate). */
  MAX_WAITING_SUBMITS: intVar(1000, 0, 100_000),
}).superRefine((c, ctx) => {
  // Runs even when single variables failed, so every problem is reported at once.
  const problem = (path: string, message: string) =>
    ctx.addIssue({ code: "custom", path: [path], message });
  const bucket = typeof c.STORAGE_URL === "string";
  if (bucket) {
    for (const name of ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"] as const) {
      if (!c[name]) problem(name, "is required when STORAGE_URL is set");
    }
    const endpoint = c.AWS_ENDPOINT_URL_S3 ?? c.AWS_ENDPOINT_URL;
    if (
      c.S3_FORCE_PATH_STYLE === false && typeof endpoint === "string" && URL.canParse(endpoint) &&
      /^(localhost|\d+\.\d+\.\d+\.\d+|\[.*\])$/.test(new URL(endpoint).hostname)
    ) {
      problem(
        "S3_FORCE_PATH_STYLE",
        "must be true for an endpoint addressed by IP or localhost (no virtual-host buckets)",
      );
    }
  }
  if (c.IMAGE_DELIVERY === "redirect" && !bucket) {
    problem("IMAGE_DELIVERY", "redirect needs STORAGE_URL (local disk is served by the API)");
  }
  if (c.PUBLIC_IMAGE_BASE_URL !== undefined && c.IMAGE_DELIVERY !== "redirect") {
    problem("PUBLIC_IMAGE_BASE_URL", "is used only with IMAGE_DELIVERY=redirect");
  }
}, { when: () => true });

export type Config = z.infer<typeof configSchema>;

/** Who may call the API: anyone (`none`) or only holders of an API key (`api_key`). */
export type AuthMode = NonNullable<Config["AUTH_MODE"]>;

const LOOPBACK = new Set(["127.0.0.1", "localhost", "::1", "[::1]"]);

/** The effective auth mode: explicit, or open only when bound to loopback. */
export function authMode(config: Pick<Config, "AUTH_MODE" | "HOST">): AuthMode {
  return config.AUTH_MODE ?? (LOOPBACK.has(config.HOST) ? "none" : "api_key");
}

/** True when HOST is a loopback address. */
export function isLoopback(host: string): boolean {
  return LOOPBACK.has(host);
}

/** Thrown when the environment is invalid; the message lists every problem at once. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    this.name = "ConfigError";
  }
}

/** Validates an environment map and returns the typed configuration. */
export function parseConfig(env: Record<string, string | undefined>): Config {
  const cleaned: Record<string, string> = {};
  for (const key of Object.keys(configSchema.shape)) {
    const value = env[key];
    if (value !== undefined && value.trim() !== "") cleaned[key] = value;
  }
  const result = configSchema.safeParse(cleaned);
  if (!result.success) {
    throw new ConfigError(
      result.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`),
    );
  }
  return result.data;
}

/** Parses `.env` text: KEY=VALUE lines, `#` comments, optional quotes, `export ` prefix. */
export function parseDotenv(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (!line || line.startsWith("#")) continue;
    const m = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/.exec(line);
    if (!m) continue;
    let value = m[2];
    const quoted = /^(['"])(.*)\1$/.exec(value);
    if (quoted) value = quoted[1] === '"' ? quoted[2].replace(/\\n/g, "\n") : quoted[2];
    else value = value.replace(/\s+#.*$/, "");
    out[m[1]] = value;
  }
  return out;
}

/** Reads the process environment merged over `.env` (real variables win). */
export async function loadEnv(dotenvPath = ".env"): Promise<Record<string, string | undefined>> {
  let fileVars: Record<string, string> = {};
  try {
    fileVars = parseDotenv(await Deno.readTextFile(dotenvPath));
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
  const env: Record<string, string | undefined> = { ...fileVars };
  for (const key of Object.keys(configSchema.shape)) {
    const value = Deno.env.get(key);
    if (value !== undefined) env[key] = value;
  }
  // MODEL_ROUTES may name a JSON file instead of holding the JSON.
  const routes = env.MODEL_ROUTES?.trim();
  if (routes && !routes.startsWith("{")) {
    try {
      env.MODEL_ROUTES = await Deno.readTextFile(routes);
    } catch (err) {
      throw new ConfigError([`MODEL_ROUTES: cannot read ${routes}: ${(err as Error).message}`]);
    }
  }
  return env;
}

/** Loads and validates configuration, or prints every problem and exits 1. */
export async function loadConfigOrExit(): Promise<Config> {
  try {
    return parseConfig(await loadEnv());
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message);
      Deno.exit(1);
    }
    throw err;
  }
}
