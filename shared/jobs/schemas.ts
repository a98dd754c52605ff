/** Request schemas (zod) shared by the API and tests: one place for every input limit. */
import { z } from "zod";

export const LIMITS = {
  promptChars: 2000,
  negativePromptChars: 2000,
  parametersBytes: 16 * 1024,
  parametersDepth: 6,
  bodyBytes: 64 * 1024,
  maxOutputs: 4,
  minSide: 64,
  maxSide: 2048,
} as const;

/** Text that Postgres can store and JSON can round-trip: no NUL, no lone surrogates. */
export function cleanText(label: string, max: number) {
  return z.string({ error: `${label} must be a string` })
    .max(max, { error: `${label} must be at most ${max} characters` })
    .refine((s) => !s.includes("\u0000"), { error: `${label} must not contain NUL characters` })
    .refine((s) => s.isWellFormed(), { error: `${label} must be valid Unicode text` });
}

/**
 * `local/<style>`, `owner/name`, `owner/name:<64-hex version>`, `fal:owner/app[/path]` or an
 * alias (a model route: lower-case, no `/` or `:`).
 */
export const MODEL_PATTERN =
  /^(?:[a-z0-9][a-z0-9._-]{0,99}\/[a-z0-9][a-z0-9._-]{0,99}(:[0-9a-f]{64})?|fal:[a-z0-9][a-z0-9._-]{0,99}(?:\/[a-z0-9][a-z0-9._-]{0,99}){1,4}|[a-z0-9][a-z0-9._-]{0,63})$/;

const side = z.number().int({ error: "must be an integer" })
  .min(LIMITS.minSide, { error: `must be at least ${LIMITS.minSide}` })
  .max(LIMITS.maxSide, { error: `must be at most ${LIMITS.maxSide}` });

/** Known Replicate input fields are validated; other fields pass through as plain JSON. */
export const knownParameters = z.object({
  width: side.optional(),
  height: side.optional(),
  num_outputs: z.number().int({ error: "must be an integer" }).min(1, {
    error: "must be at least 1",
  })
    .max(LIMITS.maxOutputs, { error: `must be at most ${LIMITS.maxOutputs}` }).optional(),
  seed: z.number().int({ error: "must be an integer" }).min(0, { error: "must be at least 0" })
    .max(2 ** 32 - 1, { error: "must be at most 4294967295" }).optional(),
  num_inference_steps: z.number().int({ error: "must be an integer" }).min(1).max(500).optional(),
  guidance_scale: z.number().min(0).max(50).optional(),
  prompt_strength: z.number().min(0).max(1).optional(),
  aspect_ratio: z.string().regex(/^\d{1,2}:\d{1,2}$/, { error: "must look like 16:9" }).optional(),
  output_format: z.enum(["png", "jpg", "webp"]).optional(),
  output_quality: z.number().int().min(0).max(100).optional(),
  scheduler: z.string().max(100).optional(),
  disable_safety_checker: z.boolean().optional(),
}).loose();

/** Checks a JSON value: finite numbers, clean strings, bounded depth. Returns a problem or null. */
export function jsonProblem(value: unknown, depth = 0): string | null {
  if (depth > LIMITS.parametersDepth) return `nests deeper than ${LIMITS.parametersDepth} levels`;
  if (value === null || typeof value === "boolean") return null;
  if (typeof value === "number") return Number.isFinite(value) ? null : "has a non-finite number";
  if (typeof value === "string") {
    if (value.includes("\u0000")) return "has a NUL character";
    return value.isWellFormed() ? null : "has invalid Unicode text";
  }
  if (Array.isArray(value)) {
    for (const v of value) {
      const p = jsonProblem(v, depth + 1);
      if (p) return p;
    }
    return null;
  }
  if (typeof value === "object") {
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
      // Field names are plain names. Quotes and backslashes in keys are refused: besides being
      // no provider's field, V8 15.0's JSON.parse can confuse such keys across requests
      // (nodejs/node#63785), silently changing another job's parameters.
      // deno-lint-ignore no-control-regex
      if (/["\\\u0000-\u001f]/.test(k) || k.length > 200) {
        return "has a field name with quotes, backslashes or control characters, or over 200 characters";
      }
      const p = jsonProblem(k, depth + 1) ?? jsonProblem(v, depth + 1);
      if (p) return p;
    }
    return null;
  }
  return "has a value that is not JSON";
}

const parameters = z.record(z.string(), z.unknown(), { error: "parameters must be an object" })
  .superRefine((value, ctx) => {
    const problem = jsonProblem(value);
    if (problem) ctx.addIssue({ code: "custom", message: `parameters ${problem}` });
    const size = new TextEncoder().encode(JSON.stringify(value)).length;
    if (size > LIMITS.parametersBytes) {
      ctx.addIssue({
        code: "custom",
        message: `parameters must be at most ${LIMITS.parametersBytes} bytes of JSON (got ${size})`,
      });
    }
  })
  .pipe(knownParameters);

/** POST /generate body. */
export const generateRequest = z.object({
  prompt: cleanText("prompt", LIMITS.promptChars).refine((s) => s.trim().length > 0, {
    error: "prompt must not be empty",
  }),
  model: z.string({ error: "model must be a string" }).trim().max(300).regex(MODEL_PATTERN, {
    error:
      "model must look like owner/name, owner/name:<64-hex version>, fal:owner/app, local/<style> or an alias",
  }),
  negative_prompt: cleanText("negative_prompt", LIMITS.negativePromptChars).nullish(),
  parameters: parameters.default({}),
  priority: z.enum(["high", "normal", "low"], { error: "priority must be high, normal or low" })
    .default("normal"),
  webhook_url: z.string({ error: "webhook_url must be a string" }).trim().max(2000)
    .refine((v) => URL.canParse(v) && /^https?:$/.test(new URL(v).protocol), {
      error: "webhook_url must be an http(s) URL",
    }).nullish(),
  /** false: parameters the model's schema does not list are passed on instead of refused. */
  strict_inputs: z.boolean({ error: "strict_inputs must be true or false" }).optional(),
  webhook_events: z.array(z.enum(["completed", "failed", "canceled"]), {
    error: "webhook_events must list completed, failed and/or canceled",
  }).min(1).max(3).nullish(),
  /** Answer with an identical completed job instead (shared/spend/dedupe.ts). */
  dedupe: z.boolean({ error: "dedupe must be true or false" }).nullish(),
});

export type GenerateRequest = z.infer<typeof generateRequest>;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** `YYYY-MM-DD` (midnight UTC) or an RFC 3339 date-time with its offset (`…T10:00:00Z`). */
const DATE_PARAM =
  /^(\d{4})-(\d{2})-(\d{2})(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?([Zz]|[+-]\d{2}:\d{2}))?$/;

/** A query parameter holding a moment (see DATE_PARAM); a date that does not exist is refused. */
function dateParam(label: string) {
  return z.string({ error: `${label} must be a date` }).max(40, {
    error: `${label} must be a date like 2025-06-01 or 2025-06-01T12:00:00Z`,
  }).transform((value, ctx) => {
    const m = DATE_PARAM.exec(value);
    const [y, mo, d, h = "0", mi = "0", sec = "0"] = m ? m.slice(1, 7) : [];
    const day = m ? new Date(Date.UTC(Number(y), Number(mo) - 1, Number(d))) : null;
    const real = day !== null && day.getUTCFullYear() === Number(y) && Number(y) >= 1970 &&
      day.getUTCMonth() === Number(mo) - 1 && day.getUTCDate() === Number(d) &&
      Number(h) < 24 && Number(mi) < 60 && Number(sec) < 60;
    const at = real ? new Date(m![4] === undefined ? `${y}-${mo}-${d}T00:00:00Z` : value) : null;
    if (!at || Number.isNaN(at.getTime())) {
      ctx.addIssue({
        code: "custom",
        message: `${label} must be a date like 2025-06-01 or 2025-06-01T12:00:00Z`,
      });
      return z.NEVER;
    }
    return at;
  });
}

/** GET /jobs query: the old stack's skip/limit/status, and the library's search and filters. */
export const listQuery = z.object({
  skip: z.coerce.number({ error: "skip must be a number" }).int({
    error: "skip must be an integer",
  })
    .min(0, { error: "skip must be at least 0" }).max(1_000_000, {
      error: "skip must be at most 1000000",
    }).default(0),
  limit: z.coerce.number({ error: "limit must be a number" }).int({
    error: "limit must be an integer",
  }).min(1, { error: "limit must be at least 1" }).max(100, { error: "limit must be at most 100" })
    .default(20),
  status: z.enum(["pending", "processing", "completed", "failed", "canceled"]).optional(),
  provider: z.enum(["local", "replicate", "fal"], {
    error: "provider must be local, replicate or fal",
  }).optional(),
  q: cleanText("q", 200).optional(),
  model: z.string({ error: "model must be a string" }).max(300).regex(MODEL_PATTERN, {
    error:
      "model must look like owner/name, owner/name:<64-hex version>, fal:owner/app, local/<style> or an alias",
  }).optional(),
  starred: z.enum(["true", "false"], { error: "starred must be true or false" })
    .transform((v) => v === "true").optional(),
  collection: z.string({ error: "collection must be a collection id" }).regex(UUID, {
    error: "collection must be a collection id",
  }).transform((v) => v.toLowerCase()).optional(),
  after: dateParam("after").optional(),
  before: dateParam("before").optional(),
  /** newest (the default) or oldest first. */
  sort: z.enum(["newest", "oldest"], { error: "sort must be newest or oldest" }).optional(),
  cursor: z.string({ error: "cursor must be a cursor from X-Next-Cursor" }).max(200, {
    error: "cursor must be a cursor from X-Next-Cursor",
  }).optional(),
}).superRefine((v, ctx) => {
  if (v.cursor !== undefined && v.skip > 0) {
    ctx.addIssue({ code: "custom", path: ["skip"], message: "skip cannot be used with cursor" });
  }
  if (v.after && v.before && v.after >= v.before) {
    ctx.addIssue({ code: "custom", path: ["after"], message: "after must be before before" });
  }
});

export type ListQuery = z.infer<typeof listQuery>;

/** Turns zod issues into the API's `details` list. */
export function issueDetails(error: z.ZodError): { field: string; message: string }[] {
  return error.issues.map((i) => ({
    field: i.path.map(String).join(".") || "(body)",
    message: i.message,
  }));
}

/** True for a canonical UUID (anything else is answered 404 without touching SQL). */
export function isUuid(value: string): boolean {
  return UUID.test(value);
}

/** `Idempotency-Key` header: 1–255 visible ASCII characters. */
export const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;

/** JSON with object keys sorted, so equal bodies hash equally whatever their key order. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
  }
  return JSON.stringify(value ?? null);
}
