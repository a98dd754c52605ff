/**
 * Property-based fuzz tests of the HTTP API, run against the real app (its own Postgres schema and
 * BullMQ prefix). Hostile bodies, headers, path segments and query strings must never produce a
 * 5xx, a hang, a non-JSON error or (for a rejected submission) anything written. Set FUZZ_SEED to
 * replay a run; every test prints how many cases it ran.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import fc from "fast-check";
import { sql } from "../shared/db/db.ts";
import type { JobEventHub } from "../shared/jobs/events.ts";
import { countJobs } from "../shared/jobs/repo.ts";
import { LIMITS } from "../shared/jobs/schemas.ts";
import type { TestDeps } from "../shared/testing/app_deps.ts";
import { withTimeout } from "../shared/timeout.ts";
import { createApp } from "./app.ts";
import { withApp } from "./app_testing.ts";

type App = ReturnType<typeof createApp>;

const RUNS = 1000;
const PREFIX = "/api/v1";
const BODY_LIMIT = LIMITS.bodyBytes;
const LOCAL_MODELS = ["local/abstract", "local/gradient", "local/plasma", "local/aurora"];
const KNOWN_PARAMETERS = [
  "width",
  "height",
  "num_outputs",
  "seed",
  "num_inference_steps",
  "guidance_scale",
  "prompt_strength",
  "aspect_ratio",
  "output_format",
  "output_quality",
  "scheduler",
  "disable_safety_checker",
];
const REQUEST_TIMEOUT_MS = 10_000;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const encoder = new TextEncoder();
const seedText = Deno.env.get("FUZZ_SEED");
const FC_PARAMS = { numRuns: RUNS, ...(seedText ? { seed: Number(seedText) } : {}) };

// ---------------------------------------------------------------------------------------------
// Harness
// ---------------------------------------------------------------------------------------------

/** Each fuzz test gets its own real dependencies and app (the shared test harness). */
const fuzzTest = withApp;

/** Counts property executions (shrinking included) and prints them when the test ends. */
class CaseCounter {
  readonly counts = new Map<string, number>();
  hit(endpoint: string): void {
    this.counts.set(endpoint, (this.counts.get(endpoint) ?? 0) + 1);
  }
  report(test: string): void {
    for (const [endpoint, n] of this.counts) console.log(`fuzz ${test}: ${endpoint}: ${n} cases`);
  }
}

function hangCheck<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  return withTimeout(promise, ms, `hang: ${what} (no answer in ${ms} ms)`);
}

interface Sent {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: string | Uint8Array<ArrayBuffer>;
}

function describe(req: Sent): string {
  let body = "";
  if (typeof req.body === "string") {
    body = ` body(${req.body.length} chars)=${JSON.stringify(req.body.slice(0, 300))}`;
  } else if (req.body) {
    const hex = Array.from(req.body.slice(0, 64), (b) => b.toString(16).padStart(2, "0")).join("");
    body = ` body(${req.body.byteLength} bytes)=0x${hex}`;
  }
  const path = req.path.length > 300 ? `${req.path.slice(0, 300)}…(${req.path.length})` : req.path;
  return `${req.method} ${path} headers=${JSON.stringify(req.headers)}${body}`;
}

interface Answer {
  status: number;
  headers: Headers;
  bytes: Uint8Array;
  text: string;
  json: unknown;
}

/** Sends a request; asserts the universal properties (no 5xx, no hang, JSON 4xx envelope). */
async function send(app: App, req: Sent): Promise<Answer> {
  const what = describe(req);
  const res = await hangCheck(
    Promise.resolve(app.request(req.path, {
      method: req.method,
      headers: req.headers,
      body: req.body,
    })),
    REQUEST_TIMEOUT_MS,
    what,
  );
  const bytes = new Uint8Array(
    await hangCheck(res.arrayBuffer(), REQUEST_TIMEOUT_MS, `body of ${what}`),
  );
  const text = new TextDecoder().decode(bytes);
  assert.ok(res.status < 500, `${what} answered ${res.status}: ${text.slice(0, 500)}`);
  let json: unknown = undefined;
  if (res.status >= 400) {
    const type = res.headers.get("content-type") ?? "";
    assert.match(
      type,
      /^application\/json\b/i,
      `${what} answered ${res.status} with content-type ${JSON.stringify(type)}: ${
        text.slice(0, 300)
      }`,
    );
    try {
      json = JSON.parse(text);
    } catch {
      assert.fail(`${what} answered ${res.status} with a non-JSON body: ${text.slice(0, 300)}`);
    }
    assertErrorEnvelope(json, `${what} answered ${res.status}`);
  } else if ((res.headers.get("content-type") ?? "").startsWith("application/json")) {
    json = JSON.parse(text);
  }
  return { status: res.status, headers: res.headers, bytes, text, json };
}

function assertErrorEnvelope(body: unknown, what: string): void {
  const error = (body as { error?: { code?: unknown; message?: unknown } } | null)?.error;
  assert.ok(
    error !== null && typeof error === "object" && typeof error.code === "string" &&
      typeof error.message === "string",
    `${what} without the {"error":{"code","message"}} envelope: ${JSON.stringify(body)}`,
  );
}

function assertStatusIn(answer: Answer, expected: readonly number[] | "4xx", req: Sent): void {
  const ok = expected === "4xx"
    ? answer.status >= 400 && answer.status < 500
    : expected.includes(answer.status);
  assert.ok(
    ok,
    `${describe(req)} answered ${answer.status}, expected ${
      expected === "4xx" ? "4xx" : expected.join("/")
    }: ${answer.text.slice(0, 300)}`,
  );
}

interface Footprint {
  jobs: number;
  keys: number;
  queued: number;
}

/** Everything a submission can write: job rows, idempotency keys, queue entries. */
async function footprint(deps: TestDeps): Promise<Footprint> {
  const [jobs, keys, stats] = await Promise.all([
    countJobs(deps.db),
    deps.db.query<{ n: number }>(sql`SELECT count(*)::int AS n FROM idempotency_keys`),
    deps.queue.stats(),
  ]);
  const queued = stats.waiting + stats.active + stats.delayed + stats.failed + stats.completed;
  return { jobs, keys: keys[0].n, queued };
}

function isHeaderSafe(name: string, value: string): boolean {
  try {
    new Headers([[name, value]]);
    return true;
  } catch {
    return false;
  }
}

function tryDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

function normalizedPath(path: string): string {
  return new URL(path, "http://localhost").pathname;
}

function byteLength(body: string | Uint8Array<ArrayBuffer> | undefined): number {
  if (body === undefined) return 0;
  return typeof body === "string" ? encoder.encode(body).byteLength : body.byteLength;
}

function concatBytes(...parts: (string | number[] | Uint8Array)[]): Uint8Array<ArrayBuffer> {
  const chunks = parts.map((p) =>
    typeof p === "string" ? encoder.encode(p) : p instanceof Uint8Array ? p : new Uint8Array(p)
  );
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.byteLength, 0));
  let offset = 0;
  for (const c of chunks) {
    out.set(c, offset);
    offset += c.byteLength;
  }
  return out;
}

/** True when a JSON value has no NUL and no lone surrogate anywhere (keys included). */
function isCleanJson(value: unknown): boolean {
  if (typeof value === "string") return !value.includes("\u0000") && value.isWellFormed();
  if (Array.isArray(value)) return value.every(isCleanJson);
  if (value !== null && typeof value === "object") {
    // Field names must be plain: no quotes, backslashes or control characters, ≤ 200 units.
    return Object.entries(value).every(([k, v]) =>
      // deno-lint-ignore no-control-regex
      isCleanJson(k) && !/["\\\u0000-\u001f]/.test(k) && k.length <= 200 && isCleanJson(v)
    );
  }
  return true;
}

function jsonDepth(value: unknown): number {
  if (Array.isArray(value)) return 1 + Math.max(0, ...value.map(jsonDepth));
  if (value !== null && typeof value === "object") {
    return 1 + Math.max(0, ...Object.values(value).map(jsonDepth));
  }
  return 0;
}

// ---------------------------------------------------------------------------------------------
// Generators shared by several endpoints
// ---------------------------------------------------------------------------------------------

const latin1Unit = fc.integer({ min: 0x09, max: 0xff }).map((c) => String.fromCharCode(c));
const visibleAsciiUnit = fc.integer({ min: 0x21, max: 0x7e }).map((c) => String.fromCharCode(c));
const digitUnit = fc.integer({ min: 0, max: 9 }).map(String);

/** A header value the Fetch API lets through (latin-1, no CR/LF/NUL). */
function headerValue(name: string, maxLength = 80): fc.Arbitrary<string> {
  return fc.string({ unit: latin1Unit, maxLength }).filter((v) => isHeaderSafe(name, v));
}

const ODD_HEADER_NAMES = [
  "x-request-id",
  "accept",
  "accept-encoding",
  "accept-language",
  "user-agent",
  "origin",
  "referer",
  "cookie",
  "authorization",
  "x-forwarded-for",
  "x-forwarded-proto",
  "forwarded",
  "x-http-method-override",
  "x-real-ip",
  "cache-control",
  "pragma",
  "if-none-match",
  "range",
  "te",
  "expect",
  "connection",
  "transfer-encoding",
  "x-darkroom",
];

/** Headers that must not change the outcome of a request. */
const oddHeaders = fc.array(
  fc.constantFrom(...ODD_HEADER_NAMES).chain((name) =>
    fc.oneof(
      headerValue(name),
      fc.constantFrom(
        "",
        "chunked",
        "100-continue",
        "*/*",
        "../../etc/passwd",
        "%00",
        "a".repeat(4000),
        "\u00ff\u00fe",
        "DELETE",
      ),
    ).filter((v) => isHeaderSafe(name, v)).map((value) => [name, value] as const)
  ),
  { maxLength: 4 },
).map((pairs) => Object.fromEntries(pairs) as Record<string, string>);

/** Raw bits of path segments that break naive routers and file servers. */
const PATH_PIECES = [
  "%00",
  "%2F",
  "%2f",
  "%2e%2e",
  "%2E%2E",
  "..",
  ".",
  "%2e",
  "%5C",
  "%5c",
  "\\",
  "%25",
  "%252e%252e%252f",
  "%C0%AE%C0%AE",
  "%c0%af",
  "%E2%80%AE",
  "%ED%A0%80",
  "%FF",
  "%",
  "%Z",
  "%zz",
  "%1",
  ";",
  ";jsessionid=1",
  "%3B",
  "%3F",
  "%23",
  "~",
  "*",
  "'",
  "%22",
  "%3Cscript%3E",
  "NaN",
  "null",
  "undefined",
  "-1",
  "0",
  "1e400",
  "99999999999999999999",
  "18446744073709551616",
  "00000000-0000-0000-0000-000000000000",
  "ffffffff-ffff-ffff-ffff-ffffffffffff",
  "%27%20OR%201%3D1--",
  "é",
  "%C3%A9",
  "😀",
  "\u202e",
  "\u0000",
  "%20",
  "+",
  "@",
  ":",
  "....//",
  "..%2f",
  "%2e%2e%2f",
  "..%5c",
  "%u002e",
  "%EF%BC%8E%EF%BC%8E",
  "#frag",
  "?q=1",
  "/",
  "//",
  "etc",
  "passwd",
];

function pathSegment(extraPieces: string[] = []): fc.Arbitrary<string> {
  const piece = fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom(...PATH_PIECES, ...extraPieces) },
    { weight: 1, arbitrary: fc.uuid() },
    {
      weight: 2,
      arbitrary: fc.string({ unit: "grapheme", maxLength: 8 }).map(encodeURIComponent),
    },
    { weight: 2, arbitrary: fc.string({ unit: "grapheme-ascii", maxLength: 8 }) },
    // Raw, possibly ill-formed UTF-16 (the URL parser turns lone surrogates into U+FFFD).
    { weight: 1, arbitrary: fc.string({ unit: "binary", maxLength: 8 }) },
  );
  return fc.oneof(
    {
      weight: 8,
      arbitrary: fc.array(piece, { minLength: 1, maxLength: 8 }).map((p) => p.join("")),
    },
    {
      weight: 1,
      arbitrary: fc.tuple(
        fc.constantFrom(...PATH_PIECES, "a", "%41"),
        fc.integer({
          min: 300,
          max: 20_000,
        }),
      ).map(([p, n]) => p.repeat(Math.ceil(n / p.length))),
    },
  );
}

// ---------------------------------------------------------------------------------------------
// POST /generate: valid-looking bodies
// ---------------------------------------------------------------------------------------------

const TEXT_SPICE = [
  "\u0001",
  "\u001f",
  "\u007f",
  "\u0085",
  "\u2028",
  "\u2029",
  "\ufeff",
  "\u200b",
  "\u202e",
  "😀",
  "👩‍👩‍👧",
  "\u{10ffff}",
  "\ufffd",
  "é",
  "e\u0301",
  "\t",
  "\n",
  "\r\n",
  '"',
  "\\",
  "</script>",
  "'; DROP TABLE jobs; --",
  "%00",
  "\\u0000",
  "{{7*7}}",
];

const textPart = fc.oneof(
  { weight: 6, arbitrary: fc.string({ unit: "grapheme", maxLength: 40 }) },
  { weight: 3, arbitrary: fc.constantFrom(...TEXT_SPICE) },
  { weight: 1, arbitrary: fc.string({ unit: "binary-ascii", maxLength: 40 }) },
);

/** Clean text (no NUL, well-formed) of at most `max` UTF-16 units, possibly empty. */
function cleanText(max: number): fc.Arbitrary<string> {
  return fc.oneof(
    {
      weight: 9,
      arbitrary: fc.array(textPart, { maxLength: 20 }).map((parts) => parts.join("")),
    },
    {
      weight: 1,
      arbitrary: fc.tuple(fc.constantFrom("x", "😀", "é", "\u0001"), fc.integer({ min: 0, max }))
        .map(([unit, n]) => unit.repeat(Math.floor(n / unit.length))),
    },
  ).filter((s) => s.length <= max && !s.includes("\u0000") && s.isWellFormed());
}

const validPrompt = fc.tuple(
  fc.constantFrom("p", "A lighthouse", "猫", "😀", "0"),
  cleanText(LIMITS.promptChars - 12),
).map(([head, tail]) => head + tail);

const whitespace = fc.constantFrom("", "", "", " ", "\t", "\n ", "\u00a0");
const validModel = fc.tuple(whitespace, fc.constantFrom(...LOCAL_MODELS), whitespace)
  .map(([a, m, b]) => a + m + b);

const extraParamKey = fc.string({ maxLength: 20 }).filter((k) =>
  !KNOWN_PARAMETERS.includes(k) && k !== "__proto__" && isCleanJson(k)
);

const validParameters = fc.tuple(
  fc.record({
    width: fc.integer({ min: 64, max: 2048 }),
    height: fc.integer({ min: 64, max: 2048 }),
    num_outputs: fc.integer({ min: 1, max: 4 }),
    seed: fc.integer({ min: 0, max: 2 ** 32 - 1 }),
    num_inference_steps: fc.integer({ min: 1, max: 500 }),
    guidance_scale: fc.double({ min: 0, max: 50, noNaN: true }),
    output_format: fc.constantFrom("png", "jpg", "webp"),
    disable_safety_checker: fc.boolean(),
  }, { requiredKeys: [] }),
  fc.dictionary(extraParamKey, fc.jsonValue({ maxDepth: 3 }), { maxKeys: 4 }),
  fc.option(fc.integer({ min: 0, max: LIMITS.parametersBytes - 400 }), { nil: undefined }),
).map(([known, extra, pad]) => {
  const params: Record<string, unknown> = { ...extra, ...known };
  if (pad !== undefined) params.pad_text = "x".repeat(pad);
  return params;
}).filter((p) =>
  isCleanJson(p) && jsonDepth(p) <= LIMITS.parametersDepth - 1 &&
  encoder.encode(JSON.stringify(p)).byteLength <= LIMITS.parametersBytes
);

interface GenerateBody {
  prompt: string;
  model: string;
  negative_prompt?: string | null;
  parameters?: Record<string, unknown>;
  priority?: string;
  [extra: string]: unknown;
}

const validBody: fc.Arbitrary<GenerateBody> = fc.record({
  prompt: validPrompt,
  model: validModel,
  negative_prompt: fc.oneof(cleanText(LIMITS.negativePromptChars), fc.constant(null)),
  parameters: validParameters,
  priority: fc.constantFrom("high", "normal", "low"),
}, { requiredKeys: ["prompt", "model"] });

/** Top-level fields the schema does not know: they may be ignored (202) or refused (422). */
const ignoredExtras = fc.oneof(
  fc.integer({ min: 1, max: 60_000 }).map((n) => ({ ["k".repeat(n)]: 1 })),
  fc.integer({ min: 1, max: 2_000 }).map((n) => {
    let v: unknown = 1;
    for (let i = 0; i < n; i++) v = [v];
    return { nested: v };
  }),
  fc.constantFrom<Record<string, unknown>>(
    { "x\u0000": 1 },
    { "\ud800": "\udfff" },
    { extra: "\u0000" },
    { id: "00000000-0000-0000-0000-000000000000" },
    { status: "completed", progress: 100 },
    { __proto__x: { polluted: true } },
    { constructor: { prototype: { polluted: true } } },
  ),
);

// ---------------------------------------------------------------------------------------------
// POST /generate: invalid bodies (each with the status the README promises)
// ---------------------------------------------------------------------------------------------

interface BodyCase {
  kind: string;
  body?: string | Uint8Array<ArrayBuffer>;
  /** Statuses allowed when the headers are fine. */
  expect: number[] | "4xx";
}

const MISSING = Symbol("missing");

const notAString = fc.oneof(
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.string({ maxLength: 5 }), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 5 }), fc.string({ maxLength: 5 }), { maxKeys: 3 }),
);

const BAD_CHARS = ["\u0000", "\ud800", "\udbff", "\udc00", "\udfff", "\udc00\ud800"];
const withBadChar = fc.tuple(
  fc.string({ maxLength: 20 }),
  fc.constantFrom(...BAD_CHARS),
  fc.string({ maxLength: 20 }),
).map(([a, bad, b]) => a + bad + b);

const badPrompt = fc.oneof(
  notAString,
  fc.constant(MISSING),
  fc.constantFrom("", " ", "\t\n", "\u00a0\u3000", "\ufeff", "\u2028"),
  fc.integer({ min: LIMITS.promptChars + 1, max: 70_000 }).map((n) => "p".repeat(n)),
  withBadChar,
);

const badModel = fc.oneof(
  notAString,
  fc.constant(MISSING),
  fc.string({ maxLength: 40 }).filter((s) => !LOCAL_MODELS.includes(s.trim())),
  fc.constantFrom(
    "",
    "local/unknown",
    "LOCAL/ABSTRACT",
    `local/abstract:${"0".repeat(64)}`,
    "stability-ai/sdxl",
    `owner/name:${"a".repeat(64)}`,
    "local",
    "/",
    "local//abstract",
    "local/abstract/",
    "../local/abstract",
    "local/abstract\u0000",
    "local/abstract\ud800",
    "local/ab\u0000stract",
    "local/abstract\u200b",
    `local/${"a".repeat(400)}`,
  ),
);

const badNegativePrompt = fc.oneof(
  fc.integer(),
  fc.boolean(),
  fc.array(fc.string({ maxLength: 5 }), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 5 }), fc.string({ maxLength: 5 }), { maxKeys: 3 }),
  fc.integer({ min: LIMITS.negativePromptChars + 1, max: 70_000 }).map((n) => "n".repeat(n)),
  withBadChar,
);

const KNOWN_VIOLATIONS: [string, unknown[]][] = [
  ["width", [63, 2049, 0, -64, 64.5, 1e6, "512", null, true, [512], {}]],
  ["height", [63, 2049, -1, 100.25, "100", null]],
  ["num_outputs", [0, 5, 1.5, -1, "2", null]],
  ["seed", [-1, 2 ** 32, 0.5, "1", 1e20, null]],
  ["num_inference_steps", [0, 501, 2.5, "10"]],
  ["guidance_scale", [-0.001, 50.001, "7.5", null]],
  ["prompt_strength", [-1, 2]],
  ["output_quality", [-1, 101]],
  ["disable_safety_checker", ["yes", 1]],
];

function nested(depth: number, leaf: unknown): unknown {
  let v = leaf;
  for (let i = 0; i < depth; i++) v = i % 2 === 0 ? [v] : { a: v };
  return v;
}

const badParameters = fc.oneof(
  fc.oneof(
    fc.array(fc.integer(), { maxLength: 3 }),
    fc.string({ maxLength: 10 }),
    fc.integer(),
    fc.boolean(),
    fc.constant(null),
  ),
  fc.tuple(validParameters, fc.constantFrom(...KNOWN_VIOLATIONS)).chain(([params, [key, values]]) =>
    fc.constantFrom(...values).map((v) => ({ ...params, [key]: v }))
  ),
  fc.integer({ min: LIMITS.parametersDepth + 1, max: 300 }).map((d) => ({ x: nested(d, 1) })),
  fc.integer({ min: LIMITS.parametersBytes + 1, max: 70_000 }).map((n) => ({
    pad: "x".repeat(n),
  })),
  fc.tuple(fc.constantFrom(...BAD_CHARS), fc.integer({ min: 0, max: 4 })).map(([bad, d]) => ({
    x: nested(d, `a${bad}b`),
  })),
  fc.tuple(fc.constantFrom(...BAD_CHARS), fc.integer({ min: 0, max: 3 })).map(([bad, d]) => ({
    x: nested(d, { [`k${bad}`]: 1 }),
  })),
);

const badPriority = fc.oneof(
  fc.constantFrom("urgent", "HIGH", "", " high", "normal ", "\u0000", "low\ud800"),
  fc.integer(),
  fc.constant(null),
  fc.boolean(),
);

/** A valid body with exactly one field broken: always 422 (413 when it outgrows the cap). */
const oneBadField: fc.Arbitrary<BodyCase> = fc.tuple(
  validBody,
  fc.oneof(
    badPrompt.map((v) => ["prompt", v] as const),
    badModel.map((v) => ["model", v] as const),
    badNegativePrompt.map((v) => ["negative_prompt", v] as const),
    badParameters.map((v) => ["parameters", v] as const),
    badPriority.map((v) => ["priority", v] as const),
  ),
).map(([base, [field, value]]) => {
  const obj: Record<string, unknown> = { ...base };
  if (value === MISSING) delete obj[field];
  else obj[field] = value;
  const body = JSON.stringify(obj);
  return {
    kind: `bad ${field}`,
    body,
    expect: byteLength(body) > BODY_LIMIT ? [413] : [422],
  };
});

const NOT_JSON_TOKENS = [
  "NaN",
  "Infinity",
  "-Infinity",
  "+1",
  "01",
  ".5",
  "1.",
  "0x1F",
  "1e",
  "-",
  "--1",
  "undefined",
  "True",
  "'single'",
  "nul",
  "1_000",
  "\u00a01",
];
const NON_FINITE_TOKENS = ["1e400", "-1e400", "1E+999", "123456789e999"];
const TOKEN_TEMPLATES = [
  (t: string) => `{"prompt":${t},"model":"local/abstract"}`,
  (t: string) => `{"prompt":"a","model":${t}}`,
  (t: string) => `{"prompt":"a","model":"local/abstract","negative_prompt":${t}}`,
  (t: string) => `{"prompt":"a","model":"local/abstract","parameters":{"seed":${t}}}`,
  (t: string) => `{"prompt":"a","model":"local/abstract","parameters":{"x":[1,${t}]}}`,
  (t: string) => `{"prompt":"a","model":"local/abstract","parameters":{"a":{"b":${t}}}}`,
  (t: string) => `{"prompt":"a","model":"local/abstract","priority":${t}}`,
  (t: string) => t,
];

/** NaN/Infinity/1e400 and friends written as raw JSON text. */
const rawNumber: fc.Arbitrary<BodyCase> = fc.tuple(
  fc.oneof(
    fc.constantFrom(...NOT_JSON_TOKENS).map((t) => [t, 400] as const),
    fc.constantFrom(...NON_FINITE_TOKENS).map((t) => [t, 422] as const),
  ),
  fc.constantFrom(...TOKEN_TEMPLATES),
).map(([[token, status], template]) => ({
  kind: "raw number",
  body: template(token),
  expect: [status],
}));

/** Raw control characters (invalid JSON), bad escapes, and escaped NUL / lone surrogates. */
const rawStrings: fc.Arbitrary<BodyCase> = fc.oneof(
  fc.integer({ min: 0, max: 0x1f }).map((c) => ({
    kind: "raw control char",
    body: `{"prompt":"a${String.fromCharCode(c)}b","model":"local/abstract"}`,
    expect: [400],
  })),
  fc.constantFrom("\\x41", "\\u12", "\\u12G4", "\\U0041", "\\'", "\\a", "\\", "\\u").map((e) => ({
    kind: "bad escape",
    body: `{"prompt":"a${e}","model":"local/abstract"}`,
    expect: [400],
  })),
  fc.tuple(
    fc.constantFrom("\\u0000", "\\ud800", "\\uDFFF", "\\udc00\\ud800", "\\ud800\\u0041", "\\uDBFF"),
    fc.constantFrom(
      (e: string) => `{"prompt":"a${e}b","model":"local/abstract"}`,
      (e: string) => `{"prompt":"${e}","model":"local/abstract"}`,
      (e: string) => `{"prompt":"a","model":"local/abstract","negative_prompt":"${e}"}`,
      (e: string) => `{"prompt":"a","model":"local/abstract${e}"}`,
      (e: string) => `{"prompt":"a","model":"local/abstract","parameters":{"${e}":1}}`,
      (e: string) => `{"prompt":"a","model":"local/abstract","parameters":{"k":"${e}"}}`,
      (e: string) => `{"prompt":"a","model":"local/abstract","parameters":{"k":[{"j":["${e}"]}]}}`,
      (e: string) => `{"prompt":"a","model":"local/abstract","parameters":{"scheduler":"${e}"}}`,
    ),
  ).map(([escape, template]) => ({
    kind: "escaped NUL/surrogate",
    body: template(escape),
    expect: [422],
  })),
);

const BAD_UTF8: number[][] = [
  [0xff],
  [0xfe],
  [0xc0, 0x80],
  [0xc1, 0xbf],
  [0x80],
  [0xbf],
  [0xe2, 0x82],
  [0xed, 0xa0, 0x80],
  [0xed, 0xbf, 0xbf],
  [0xf4, 0x90, 0x80, 0x80],
  [0xf8, 0x88, 0x80, 0x80, 0x80],
  [0xe0, 0x80, 0xaf],
  [0xe9],
];

/** Invalid UTF-8 anywhere in an otherwise fine body: 400. */
const invalidUtf8: fc.Arbitrary<BodyCase> = fc.tuple(
  validBody,
  fc.constantFrom(...BAD_UTF8),
  fc.nat(),
).map(([base, bad, at]) => {
  const text = encoder.encode(JSON.stringify(base));
  const cut = at % (text.byteLength + 1);
  return {
    kind: "invalid UTF-8",
    body: concatBytes(text.slice(0, cut), bad, text.slice(cut)),
    expect: [400],
  };
}).map((c) => (byteLength(c.body) > BODY_LIMIT ? { ...c, expect: [413] } : c));

function sized(kind: string, body: string, status: number): BodyCase {
  return { kind, body, expect: [byteLength(body) > BODY_LIMIT ? 413 : status] };
}

/** Empty, truncated, non-object, deeply nested, duplicated, commented bodies. */
const structural: fc.Arbitrary<BodyCase> = fc.oneof(
  fc.constantFrom("", " ", "\n\t\r ", "\ufeff").map((body) => ({
    kind: "empty",
    body,
    expect: [400],
  })),
  fc.constant<BodyCase>({ kind: "no body", body: undefined, expect: [400] }),
  fc.oneof(
    fc.constantFrom("[]", "{}", "1", "-0", "1e400", '"str"', "null", "true", "false", '""'),
    validBody.map((b) => JSON.stringify([b])),
    validBody.map((b) => JSON.stringify(JSON.stringify(b))),
    fc.jsonValue({ maxDepth: 2 }).filter((v) =>
      v === null || typeof v !== "object" ||
      Array.isArray(v)
    ).map((v) => JSON.stringify(v)),
  ).map((body) => ({ kind: "not an object", body, expect: [422] })),
  fc.integer({ min: 1, max: 40_000 }).map((n) =>
    sized("deep array", "[".repeat(n) + "]".repeat(n), 422)
  ),
  fc.integer({ min: 1, max: 20_000 }).map((n) =>
    sized("deep object", '{"a":'.repeat(n) + "1" + "}".repeat(n), 422)
  ),
  fc.integer({ min: 1, max: 40_000 }).map((n) => sized("unbalanced", "[".repeat(n), 400)),
  fc.integer({ min: LIMITS.parametersDepth + 1, max: 40_000 }).map((n) =>
    sized(
      "deep parameters",
      `{"prompt":"a","model":"local/abstract","parameters":{"x":${"[".repeat(n)}1${
        "]".repeat(n)
      }}}`,
      422,
    )
  ),
  fc.integer({ min: 1, max: 20_000 }).map((n) =>
    sized(
      "deep prompt",
      `{"prompt":${"[".repeat(n)}"a"${"]".repeat(n)},"model":"local/abstract"}`,
      422,
    )
  ),
  fc.tuple(validBody, fc.nat()).map(([b, at]) => {
    const text = JSON.stringify(b);
    return { kind: "truncated", body: text.slice(0, at % text.length), expect: [400] };
  }),
  fc.tuple(validBody, fc.constantFrom("x", "}", ",", "{}", " 1", "\u0000", "//c")).map((
    [b, tail],
  ) => ({ kind: "trailing garbage", body: JSON.stringify(b) + tail, expect: [400] })),
  fc.constantFrom(
    '{"prompt":"a","model":"local/abstract","prompt":"\\u0000"}',
    '{"prompt":"a","model":"local/abstract","model":"local/nope"}',
    '{"prompt":"a","model":"local/abstract","parameters":{"width":64,"width":99999}}',
  ).map((body) => ({ kind: "duplicate keys", body, expect: [422] })),
  fc.constantFrom(
    '{"prompt":"a", /* c */ "model":"local/abstract"}',
    '{"prompt":"a","model":"local/abstract",}',
    "{'prompt':'a','model':'local/abstract'}",
    '{prompt:"a",model:"local/abstract"}',
    '{"prompt":"a""model":"local/abstract"}',
  ).map((body) => ({ kind: "not JSON", body, expect: [400] })),
  fc.integer({ min: 1, max: 70_000 }).map((n) =>
    sized("long key, no prompt", `{"${"k".repeat(n)}":1,"model":"local/abstract"}`, 422)
  ),
  fc.integer({ min: LIMITS.parametersBytes, max: 70_000 }).map((n) =>
    sized(
      "long parameter key",
      `{"prompt":"a","model":"local/abstract","parameters":{"${"k".repeat(n)}":1}}`,
      422,
    )
  ),
  fc.tuple(validBody, fc.constantFrom("utf-16le", "utf-16be")).map(([b, enc]) => {
    const text = JSON.stringify(b);
    const out = new Uint8Array(2 + text.length * 2);
    out.set(enc === "utf-16le" ? [0xff, 0xfe] : [0xfe, 0xff]);
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      out[2 + 2 * i + (enc === "utf-16le" ? 0 : 1)] = c & 0xff;
      out[2 + 2 * i + (enc === "utf-16le" ? 1 : 0)] = c >> 8;
    }
    return { kind: "UTF-16 body", body: out, expect: [byteLength(out) > BODY_LIMIT ? 413 : 400] };
  }),
);

/** Bytes and text with no structure at all: some 4xx. */
const randomBody: fc.Arbitrary<BodyCase> = fc.oneof(
  fc.uint8Array({ maxLength: 4096 }).map((body) => ({
    kind: "random bytes",
    body,
    expect: "4xx" as const,
  })),
  fc.string({ unit: "binary", maxLength: 2000 }).map((body) => ({
    kind: "random text",
    body,
    expect: "4xx" as const,
  })),
  fc.integer({ min: BODY_LIMIT + 1, max: 3 * BODY_LIMIT }).map((n) => ({
    kind: "oversized",
    body: new Uint8Array(n).fill(0x20),
    expect: [413],
  })),
);

const invalidBody: fc.Arbitrary<BodyCase> = fc.oneof(
  { weight: 5, arbitrary: oneBadField },
  { weight: 2, arbitrary: rawNumber },
  { weight: 2, arbitrary: rawStrings },
  { weight: 2, arbitrary: invalidUtf8 },
  { weight: 3, arbitrary: structural },
  { weight: 2, arbitrary: randomBody },
);

type ContentType = { ok: boolean; value?: string };

const JSON_TYPES = [
  "application/json",
  "application/json; charset=utf-8",
  "APPLICATION/JSON",
  "application/json;charset=UTF-8",
  "application/vnd.api+json",
];
const NON_JSON_TYPES = [
  "text/plain",
  "text/plain; charset=utf-8",
  "application/x-www-form-urlencoded",
  "multipart/form-data; boundary=x",
  "application/xml",
  "application/octet-stream",
  "application/jsonx",
  "application/json5",
  "application/",
  "json",
  "*/*",
  "",
  "image/png",
];

const contentType: fc.Arbitrary<ContentType> = fc.oneof(
  { weight: 10, arbitrary: fc.constantFrom(...JSON_TYPES).map((value) => ({ ok: true, value })) },
  {
    weight: 2,
    arbitrary: fc.oneof(
      fc.constantFrom(...NON_JSON_TYPES),
      headerValue("content-type").filter((v) => !/json/i.test(v)),
    ).map((value) => ({ ok: false, value })),
  },
  { weight: 1, arbitrary: fc.constant({ ok: false }) },
);

type IdemKey = { kind: "none" } | { kind: "valid" | "invalid"; value: string };

const validIdemKey = fc.oneof(
  fc.string({ unit: visibleAsciiUnit, minLength: 1, maxLength: 200 }),
  fc.constantFrom("%00", '"quoted"', "../../etc", "{}", "null", "k".repeat(200), "-"),
);

const invalidIdemKey = fc.oneof(
  fc.constantFrom("", " ", "\t", "\u00a0"),
  fc.integer({ min: 256, max: 2000 }).map((n) => "k".repeat(n)),
  fc.tuple(
    fc.string({ unit: visibleAsciiUnit, minLength: 1, maxLength: 20 }),
    fc.constantFrom(" ", "\t", "\x7f", "é", "\u00a0", "\u00ff", "\x01", "\x1b"),
    fc.string({ unit: visibleAsciiUnit, minLength: 1, maxLength: 20 }),
  ).map(([a, bad, b]) => a + bad + b),
).filter((v) => isHeaderSafe("idempotency-key", v));

const idemKey: fc.Arbitrary<IdemKey> = fc.oneof(
  { weight: 6, arbitrary: fc.constant({ kind: "none" as const }) },
  { weight: 2, arbitrary: validIdemKey.map((value) => ({ kind: "valid" as const, value })) },
  { weight: 2, arbitrary: invalidIdemKey.map((value) => ({ kind: "invalid" as const, value })) },
);

const bogusContentLength = fc.option(
  fc.constantFrom("abc", "-1", "1e400", "99999999999999999999", "0", " 12 ", "NaN", "65537"),
  { nil: undefined },
);

interface Submission {
  req: Sent;
  expect: number[] | "4xx";
  kind: string;
}

const invalidSubmission: fc.Arbitrary<Submission> = fc.record({
  body: invalidBody,
  type: contentType,
  idem: idemKey,
  extra: oddHeaders,
  length: bogusContentLength,
  method: fc.oneof(
    { weight: 20, arbitrary: fc.constant("POST") },
    { weight: 1, arbitrary: fc.constantFrom("PUT", "PATCH", "DELETE") },
  ),
}).map(({ body, type, idem, extra, length, method }) => {
  const headers: Record<string, string> = { ...extra };
  if (type.value !== undefined) headers["content-type"] = type.value;
  if (idem.kind !== "none") headers["idempotency-key"] = idem.value;
  if (length !== undefined) headers["content-length"] = length;
  let expect: number[] | "4xx";
  if (method !== "POST") expect = "4xx";
  else if (idem.kind === "invalid") expect = [422];
  else if (!type.ok) expect = [415];
  else if (length !== undefined && body.expect !== "4xx") expect = [...body.expect, 413];
  else expect = body.expect;
  return {
    req: { method, path: `${PREFIX}/generate`, headers, body: body.body },
    expect,
    kind: `${method} ${body.kind}${idem.kind === "invalid" ? " + bad Idempotency-Key" : ""}${
      type.ok ? "" : " + non-JSON content type"
    }`,
  };
});

// ---------------------------------------------------------------------------------------------
// Tests: POST /generate
// ---------------------------------------------------------------------------------------------

fuzzTest("fuzz: POST /generate rejects hostile input with a JSON 4xx and writes nothing", async (
  deps,
  app,
) => {
  const counter = new CaseCounter();
  const kinds = new Map<string, number>();
  try {
    await fc.assert(
      fc.asyncProperty(invalidSubmission, async ({ req, expect, kind }) => {
        counter.hit("POST /api/v1/generate (invalid)");
        kinds.set(kind.split(" + ")[0], (kinds.get(kind.split(" + ")[0]) ?? 0) + 1);
        const before = await footprint(deps);
        const answer = await send(app, req);
        assertStatusIn(answer, expect, req);
        const after = await footprint(deps);
        assert.deepEqual(after, before, `${describe(req)} (${kind}) wrote something`);
      }),
      FC_PARAMS,
    );
  } finally {
    counter.report("generate invalid");
    console.log(
      "fuzz generate invalid: by kind:",
      JSON.stringify(Object.fromEntries([...kinds].sort())),
    );
  }
});

type IdemPlan = "none" | "fresh" | "replay" | "conflict";

fuzzTest("fuzz: POST /generate stores valid-looking bodies exactly as sent", async (deps, app) => {
  const counter = new CaseCounter();
  const used: { key: string; body: string; jobId: string }[] = [];
  let serial = 0;
  try {
    await fc.assert(
      fc.asyncProperty(
        validBody,
        fc.option(ignoredExtras, { nil: undefined, freq: 8 }),
        fc.constantFrom(...JSON_TYPES),
        fc.oneof(
          { weight: 6, arbitrary: fc.constant<IdemPlan>("none") },
          { weight: 2, arbitrary: fc.constant<IdemPlan>("fresh") },
          { weight: 1, arbitrary: fc.constant<IdemPlan>("replay") },
          { weight: 1, arbitrary: fc.constant<IdemPlan>("conflict") },
        ),
        validIdemKey,
        oddHeaders,
        fc.nat(),
        async (body, extras, type, plan, keyBase, extra, pick) => {
          counter.hit("POST /api/v1/generate (valid-looking)");
          const headers: Record<string, string> = { ...extra, "content-type": type };
          let text = JSON.stringify(extras ? { ...extras, ...body } : body);
          let expected: number[] = extras ? [202, 422] : [202];
          let replayOf: { key: string; body: string; jobId: string } | undefined;
          if (plan !== "none" && (plan === "fresh" || used.length === 0)) {
            headers["idempotency-key"] = `${keyBase.slice(0, 200)}-${++serial}`;
          } else if (plan === "replay") {
            replayOf = used[pick % used.length];
            headers["idempotency-key"] = replayOf.key;
            text = replayOf.body;
            expected = [202];
          } else if (plan === "conflict") {
            const prior = used[pick % used.length];
            headers["idempotency-key"] = prior.key;
            const changed = JSON.parse(prior.body) as GenerateBody;
            changed.prompt = `changed ${++serial}`; // the originals never start with "changed"
            text = JSON.stringify(changed);
            expected = [409];
          }
          const tooBig = byteLength(text) > BODY_LIMIT;
          if (tooBig) expected = [413];
          const req: Sent = { method: "POST", path: `${PREFIX}/generate`, headers, body: text };
          const before = await footprint(deps);
          const answer = await send(app, req);
          assertStatusIn(answer, expected, req);
          const after = await footprint(deps);
          if (answer.status !== 202 || replayOf) {
            assert.deepEqual(after, before, `${describe(req)} wrote something`);
          }
          if (answer.status !== 202) return;
          const accepted = answer.json as { job_id: string; status: string };
          assert.match(accepted.job_id, UUID);
          assert.equal(accepted.status, "pending");
          assert.equal(answer.headers.get("location"), `${PREFIX}/status/${accepted.job_id}`);
          if (replayOf) {
            assert.equal(accepted.job_id, replayOf.jobId, "a replay answers the first job");
            assert.equal(answer.headers.get("idempotent-replayed"), "true");
            return;
          }
          assert.equal(after.jobs, before.jobs + 1, `${describe(req)}: one job row`);
          assert.equal(after.queued, before.queued + 1, `${describe(req)}: one queue entry`);
          if (headers["idempotency-key"] !== undefined) {
            used.push({ key: headers["idempotency-key"], body: text, jobId: accepted.job_id });
          }
          // What was stored reads back exactly as sent (jsonb/text round trip).
          const sent = JSON.parse(text) as GenerateBody;
          const statusReq: Sent = {
            method: "GET",
            path: `${PREFIX}/status/${accepted.job_id}`,
            headers: {},
          };
          const stored = await send(app, statusReq);
          assert.equal(stored.status, 200);
          const job = stored.json as Record<string, unknown>;
          assert.equal(job.prompt, sent.prompt);
          assert.equal(job.model, sent.model.trim());
          assert.equal(job.negative_prompt, sent.negative_prompt ?? null);
          assert.deepStrictEqual(job.parameters, sent.parameters ?? {});
          assert.equal(job.priority, sent.priority ?? "normal");
          assert.equal(job.status, "pending");
        },
      ),
      FC_PARAMS,
    );
    // Whatever was stored, the list pages still answer (one bad row once broke every page).
    for (let skip = 0;; skip += 100) {
      const page = await send(app, {
        method: "GET",
        path: `${PREFIX}/jobs?limit=100&skip=${skip}`,
        headers: {},
      });
      assert.equal(page.status, 200);
      if ((page.json as unknown[]).length < 100) break;
    }
  } finally {
    counter.report("generate valid");
  }
});

// ---------------------------------------------------------------------------------------------
// Tests: GET /status/{id}, GET /jobs/{id}
// ---------------------------------------------------------------------------------------------

async function submit(app: App, prompt: string): Promise<string> {
  const answer = await send(app, {
    method: "POST",
    path: `${PREFIX}/generate`,
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ prompt, model: "local/abstract" }),
  });
  assert.equal(answer.status, 202, answer.text);
  return (answer.json as { job_id: string }).job_id;
}

/** Ways of writing a real job id in a path: upper case, percent-encoded, or with junk added. */
type IdSpelling = { kind: "same" | "upper" | "encoded" | "junk"; junk: string; index: number };
const ID_JUNK = ["%00", "%2F", "x", "%20", "..", "%2e", "0", "-", "é", "%", "%ZZ", ";", "%0A"];
const idSpelling: fc.Arbitrary<IdSpelling> = fc.record({
  kind: fc.constantFrom("same", "upper", "encoded", "junk"),
  junk: fc.constantFrom(...ID_JUNK),
  index: fc.nat(),
});

function spell(id: string, s: IdSpelling): { segment: string; found: boolean } {
  switch (s.kind) {
    case "same":
      return { segment: id, found: true };
    case "upper":
      return { segment: id.toUpperCase(), found: true };
    case "encoded": {
      const i = s.index % id.length;
      const hex = id.charCodeAt(i).toString(16).padStart(2, "0");
      return { segment: `${id.slice(0, i)}%${hex}${id.slice(i + 1)}`, found: true };
    }
    case "junk":
      return {
        segment: s.index % 2 ? `${id}${s.junk}` : `${s.junk}${id}`,
        found: false,
      };
  }
}

fuzzTest("fuzz: GET /status/{id} and /jobs/{id} answer 404 JSON to any odd id", async (
  deps,
  app,
) => {
  const counter = new CaseCounter();
  const ids = [await submit(app, "one"), await submit(app, "two"), await submit(app, "three")];
  try {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          {
            weight: 5,
            arbitrary: pathSegment().map((segment) => ({ segment, found: false, real: "" })),
          },
          {
            weight: 1,
            arbitrary: fc.tuple(fc.constantFrom(...ids), idSpelling).map(([id, s]) => ({
              ...spell(id, s),
              real: id,
            })),
          },
        ),
        async (target) => {
          const before = await countJobs(deps.db);
          for (const base of ["status", "jobs"]) {
            counter.hit(`GET /api/v1/${base}/{id}`);
            const req: Sent = {
              method: "GET",
              path: `${PREFIX}/${base}/${target.segment}`,
              headers: {},
            };
            const answer = await send(app, req);
            const normalized = normalizedPath(req.path);
            if (target.found) {
              assertStatusIn(answer, [200], req);
              assert.equal((answer.json as { id: string }).id, target.real);
            } else if (normalized.startsWith(`${PREFIX}/${base}/`)) {
              assertStatusIn(answer, [404], req);
            }
          }
          assert.equal(await countJobs(deps.db), before, "a GET changed the job count");
        },
      ),
      FC_PARAMS,
    );
  } finally {
    counter.report("job reads");
  }
});

// ---------------------------------------------------------------------------------------------
// Tests: POST /jobs/{id}/cancel, POST /jobs/{id}/retry, DELETE /jobs/{id}
// ---------------------------------------------------------------------------------------------

type Op = "cancel" | "retry" | "delete" | "get";
type Model = "pending" | "canceled" | "gone";

function controlRequest(op: Op, segment: string): Sent {
  switch (op) {
    case "cancel":
      return { method: "POST", path: `${PREFIX}/jobs/${segment}/cancel`, headers: {} };
    case "retry":
      return { method: "POST", path: `${PREFIX}/jobs/${segment}/retry`, headers: {} };
    case "delete":
      return { method: "DELETE", path: `${PREFIX}/jobs/${segment}`, headers: {} };
    case "get":
      return { method: "GET", path: `${PREFIX}/jobs/${segment}`, headers: {} };
  }
}

fuzzTest("fuzz: cancel, retry and delete follow the job's state and refuse odd ids", async (
  deps,
  app,
) => {
  const counter = new CaseCounter();
  const pool: { id: string; state: Model }[] = [];
  for (let i = 0; i < 6; i++) pool.push({ id: await submit(app, `job ${i}`), state: "pending" });
  try {
    await fc.assert(
      fc.asyncProperty(
        pathSegment(),
        fc.array(
          fc.record({
            op: fc.constantFrom<Op>("cancel", "retry", "delete", "get"),
            slot: fc.nat(),
            spelling: fc.constantFrom<IdSpelling["kind"]>("same", "upper", "encoded"),
            index: fc.nat(),
          }),
          { minLength: 1, maxLength: 4 },
        ),
        oddHeaders,
        async (segment, ops, extra) => {
          // 1. Random ids: 404 (or some JSON 4xx when the path normalises elsewhere); no writes.
          const before = await footprint(deps);
          for (const op of ["cancel", "retry", "delete"] as const) {
            counter.hit(`${controlRequest(op, "{id}").method} ${controlRequest(op, "{id}").path}`);
            const req = controlRequest(op, segment);
            req.headers = { ...extra };
            const answer = await send(app, req);
            const normalized = normalizedPath(req.path);
            const route = op === "delete"
              ? /^\/api\/v1\/jobs\/[^/]*$/
              : new RegExp(`^/api/v1/jobs/[^/]*/${op}$`);
            if (route.test(normalized)) assertStatusIn(answer, [404], req);
          }
          assert.deepEqual(await footprint(deps), before, `odd id ${segment} changed something`);

          // 2. Real jobs: answers follow a model of the job's state (no worker runs here).
          for (const { op, slot, spelling, index } of ops) {
            const job = pool[slot % pool.length];
            const { segment: idText } = spell(job.id, { kind: spelling, junk: "", index });
            const req = controlRequest(op, idText);
            const answer = await send(app, req);
            const expected: Record<Op, Record<Model, number>> = {
              cancel: { pending: 200, canceled: 409, gone: 404 },
              retry: { pending: 409, canceled: 202, gone: 404 },
              delete: { pending: 204, canceled: 204, gone: 404 },
              get: { pending: 200, canceled: 200, gone: 404 },
            };
            assertStatusIn(answer, [expected[op][job.state]], req);
            if (answer.status === 200 || answer.status === 202) {
              const shown = answer.json as { id: string; status: string };
              assert.equal(shown.id, job.id);
              if (op === "cancel") job.state = "canceled";
              if (op === "retry") job.state = "pending";
              assert.equal(shown.status, job.state);
            }
            if (answer.status === 204) {
              assert.equal(answer.bytes.byteLength, 0);
              job.state = "gone";
            }
          }
          for (const job of pool) {
            if (job.state === "gone") {
              job.id = await submit(app, "replacement");
              job.state = "pending";
            }
          }
        },
      ),
      FC_PARAMS,
    );
  } finally {
    counter.report("job control");
  }
});

// ---------------------------------------------------------------------------------------------
// Tests: GET /jobs?...
// ---------------------------------------------------------------------------------------------

type Validity = "valid" | "invalid" | "either";
interface QueryValue {
  raw: string;
  validity: Validity;
  num?: number;
}

const enc = (s: string) => encodeURIComponent(s);

const ABSURD_NUMBERS = [
  "2147483648",
  "4294967296",
  "9007199254740993",
  "9223372036854775807",
  "9223372036854775808",
  "18446744073709551616",
  "99999999999999999999",
  "1e400",
  "-1e400",
  "Infinity",
  "-Infinity",
  "NaN",
  "nan",
  "1.5",
  "0.1",
  "-0.5",
  "abc",
  "0x",
  "1_000",
  "١",
  "١٢",
  "²",
  "[]",
  "{}",
  "null",
  "true",
  "1,2",
  "1;2",
  "5abc",
  "\u0000",
  "1\u0000",
  "😀",
];
const RAW_JUNK = ["%00", "%ZZ", "%", "%ED%A0%80", "%C0%80", "%FF%FE", "%0"];
const EITHER_NUMBERS = [
  "",
  " ",
  "+5",
  "0x10",
  "1e1",
  "1.0",
  "-0",
  "0b1",
  "0o7",
  " 7 ",
  "\t3",
  "1e-400",
];

function numberValue(min: number, max: number): fc.Arbitrary<QueryValue> {
  return fc.oneof(
    {
      weight: 4,
      arbitrary: fc.integer({ min, max }).map((n) => ({
        raw: String(n),
        validity: "valid" as const,
        num: n,
      })),
    },
    {
      weight: 1,
      arbitrary: fc.tuple(fc.integer({ min, max }), fc.integer({ min: 1, max: 5 })).map((
        [n, zeros],
      ) => ({ raw: "0".repeat(zeros) + n, validity: "valid" as const, num: n })),
    },
    {
      weight: 2,
      arbitrary: fc.bigInt({ min: -(2n ** 70n), max: BigInt(min) - 1n }).map((n) => ({
        raw: enc(String(n)),
        validity: "invalid" as const,
      })),
    },
    {
      weight: 2,
      arbitrary: fc.bigInt({ min: BigInt(max) + 1n, max: 2n ** 80n }).map((n) => ({
        raw: String(n),
        validity: "invalid" as const,
      })),
    },
    {
      weight: 1,
      arbitrary: fc.double({ noNaN: true, noDefaultInfinity: true }).filter((d) =>
        !Number.isInteger(d)
      ).map((d) => ({ raw: enc(String(d)), validity: "invalid" as const })),
    },
    {
      weight: 3,
      arbitrary: fc.constantFrom(...ABSURD_NUMBERS).map((s) => ({
        raw: enc(s),
        validity: "invalid" as const,
      })),
    },
    {
      weight: 1,
      arbitrary: fc.constantFrom(...RAW_JUNK).map((raw) => ({
        raw,
        validity: "invalid" as const,
      })),
    },
    {
      weight: 1,
      arbitrary: fc.string({ unit: "grapheme", minLength: 1, maxLength: 10 }).filter((s) =>
        Number.isNaN(Number(s))
      ).map((s) => ({ raw: enc(s), validity: "invalid" as const })),
    },
    {
      weight: 1,
      arbitrary: fc.constantFrom(...EITHER_NUMBERS).map((s) => ({
        raw: enc(s),
        validity: "either" as const,
      })),
    },
    {
      weight: 1,
      arbitrary: fc.integer({ min: 500, max: 20_000 }).map((n) => ({
        raw: "9".repeat(n),
        validity: "invalid" as const,
      })),
    },
  );
}

const STATUSES = ["pending", "processing", "completed", "failed", "canceled"];
const statusValue: fc.Arbitrary<QueryValue> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.constantFrom(...STATUSES).map((s) => ({ raw: s, validity: "valid" as const })),
  },
  {
    weight: 2,
    arbitrary: fc.oneof(
      fc.constantFrom(
        "PENDING",
        "pending ",
        " pending",
        "all",
        "null",
        "pending\u0000",
        "canceled,failed",
        "cancelled",
        "é",
      ),
      fc.string({ unit: "grapheme", minLength: 1, maxLength: 12 }).filter((s) =>
        !STATUSES.includes(s)
      ),
    ).map((s) => ({ raw: enc(s), validity: "invalid" as const })),
  },
  {
    weight: 1,
    arbitrary: fc.constantFrom(...RAW_JUNK).map((raw) => ({ raw, validity: "invalid" as const })),
  },
  { weight: 1, arbitrary: fc.constant({ raw: "", validity: "either" as const }) },
);

const KNOWN_QUERY_KEYS = ["skip", "limit", "status"] as const;
type KnownKey = typeof KNOWN_QUERY_KEYS[number];

/** A key as written in the URL and as the server decodes it. */
function keySpelling(key: KnownKey): fc.Arbitrary<string> {
  return fc.constantFrom(
    key,
    key,
    key,
    `%${key.charCodeAt(0).toString(16)}${key.slice(1)}`,
    Array.from(key, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`).join(""),
  );
}

interface QueryEntry {
  text: string;
  key?: KnownKey;
  value?: QueryValue;
}

const queryEntry: fc.Arbitrary<QueryEntry> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.tuple(keySpelling("skip"), numberValue(0, 1_000_000)).map(([k, v]) => ({
      text: `${k}=${v.raw}`,
      key: "skip" as const,
      value: v,
    })),
  },
  {
    weight: 3,
    arbitrary: fc.tuple(keySpelling("limit"), numberValue(1, 100)).map(([k, v]) => ({
      text: `${k}=${v.raw}`,
      key: "limit" as const,
      value: v,
    })),
  },
  {
    weight: 2,
    arbitrary: fc.tuple(keySpelling("status"), statusValue).map(([k, v]) => ({
      text: `${k}=${v.raw}`,
      key: "status" as const,
      value: v,
    })),
  },
  {
    weight: 2,
    arbitrary: fc.tuple(
      fc.oneof(
        fc.constantFrom(
          "Skip",
          "SKIP",
          "skip[]",
          "skip%20",
          "_skip",
          "limit[]",
          "LIMIT",
          "offset",
          "page",
          "per_page",
          "Status",
          "status[]",
          "__proto__",
          "constructor",
          "x",
        ),
        fc.string({ unit: "grapheme", minLength: 1, maxLength: 10 }).filter((k) =>
          !(KNOWN_QUERY_KEYS as readonly string[]).includes(k)
        ).map(enc),
      ),
      fc.oneof(
        fc.string({ unit: "grapheme", maxLength: 20 }).map(enc),
        fc.constantFrom(...RAW_JUNK, ...ABSURD_NUMBERS.map(enc)),
      ),
    ).map(([k, v]) => ({ text: `${k}=${v}` })),
  },
  {
    weight: 1,
    arbitrary: fc.constantFrom("", "&", "=", "==", "=x", "=%00").map((text) => ({ text })),
  },
);

fuzzTest("fuzz: GET /jobs answers 200 or 422 JSON to any query", async (_deps, app) => {
  const counter = new CaseCounter();
  const ids: string[] = [];
  for (let i = 0; i < 25; i++) ids.push(await submit(app, `listed ${i}`));
  for (const id of ids.slice(0, 7)) {
    const answer = await send(app, {
      method: "POST",
      path: `${PREFIX}/jobs/${id}/cancel`,
      headers: {},
    });
    assert.equal(answer.status, 200);
  }
  const totals: Record<string, number> = { "": 25, pending: 18, canceled: 7 };
  try {
    await fc.assert(
      fc.asyncProperty(
        fc.array(queryEntry, { maxLength: 8 }),
        oddHeaders,
        async (entries, extra) => {
          counter.hit("GET /api/v1/jobs");
          const req: Sent = {
            method: "GET",
            path: `${PREFIX}/jobs?${entries.map((e) => e.text).join("&")}`,
            headers: extra,
          };
          const winners = new Map<KnownKey, QueryValue>();
          for (const e of entries) {
            if (e.key && e.value && !winners.has(e.key)) winners.set(e.key, e.value);
          }
          const validities = [...winners.values()].map((v) => v.validity);
          const expected = validities.includes("invalid")
            ? [422]
            : validities.includes("either")
            ? [200, 422]
            : [200];
          const answer = await send(app, req);
          assertStatusIn(answer, expected, req);
          if (answer.status !== 200) return;
          const rows = answer.json as { id: string; status: string }[];
          assert.ok(Array.isArray(rows));
          const status = winners.get("status");
          const filter = status?.validity === "valid" ? status.raw : "";
          const total = Number(answer.headers.get("x-total-count"));
          if (!status || status.validity === "valid") {
            assert.equal(total, totals[filter] ?? 0, `${describe(req)}: X-Total-Count`);
          }
          if (filter) { for (const row of rows) assert.equal(row.status, filter); }
          const skip = winners.get("skip");
          const limit = winners.get("limit");
          const skipN = skip === undefined ? 0 : skip.num;
          const limitN = limit === undefined ? 20 : limit.num;
          assert.ok(rows.length <= 100);
          if (skipN !== undefined && limitN !== undefined && (!status || filter)) {
            assert.equal(
              rows.length,
              Math.max(0, Math.min(limitN, total - skipN)),
              `${describe(req)}: page size`,
            );
          }
        },
      ),
      FC_PARAMS,
    );
  } finally {
    counter.report("job list");
  }
});

// ---------------------------------------------------------------------------------------------
// Tests: GET /images/{file}
// ---------------------------------------------------------------------------------------------

const IMAGE_PIECES = [
  "ok-0.png",
  "secret.png",
  "partial.png",
  "generated",
  "tmp",
  "..%2fsecret.png",
  "%2e%2e%2fsecret.png",
  "..\\secret.png",
  "%2e%2e%5csecret.png",
  "/etc/passwd",
  "..%2f..%2f..%2f..%2f..%2fetc%2fpasswd",
  "%252e%252e%252fsecret.png",
  "ok-0.png%00.png",
  "ok-0.png%00",
  "OK-0.PNG",
  ".ok-0.png",
  "ok-0.png.",
  "ok-0.png/",
  "ok-0.png;x",
  "..%2ftmp%2fpartial.png",
  "file:%2f%2f%2fetc%2fpasswd",
  "%2fetc%2fpasswd",
];

const rangeHeaders = fc.record({
  range: fc.oneof(
    fc.constantFrom(
      "bytes=0-0",
      "bytes=-1",
      "bytes=0-",
      "bytes=99999999999999999999-",
      "bytes=-99999999999999999999",
      "bytes=0-99999999999999999999",
      "bytes=5-1",
      "bytes=0-1,2-3",
      "items=0-1",
      "bytes=",
      "bytes=--1",
      "bytes=1e3-",
      "bytes=-0",
      "bytes=\u00ff",
    ),
    headerValue("range", 40),
  ),
  "if-none-match": fc.oneof(fc.constantFrom("*", 'W/"x"', '"a", "b"', ""), headerValue("x", 40)),
  "if-modified-since": fc.oneof(
    fc.constantFrom("Thu, 01 Jan 2099 00:00:00 GMT", "Thu, 01 Jan 1970 00:00:00 GMT", "garbage"),
    headerValue("x", 40),
  ),
  "if-range": fc.oneof(fc.constantFrom('"x"', 'W/"x"', "yesterday"), headerValue("x", 40)),
}, { requiredKeys: [] }).map((h) => h as Record<string, string>);

fuzzTest("fuzz: GET /images/{file} serves only stored images and 404s traversal", async (
  deps,
  app,
) => {
  const counter = new CaseCounter();
  const ok = concatBytes([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], "stored image bytes");
  const secret = encoder.encode("SECRET outside generated/");
  const partial = encoder.encode("PARTIAL download in tmp/");
  await Deno.mkdir(join(deps.storageRoot, "generated"), { recursive: true });
  await Deno.mkdir(join(deps.storageRoot, "tmp"), { recursive: true });
  await Deno.writeFile(join(deps.storageRoot, "generated", "ok-0.png"), ok);
  await Deno.writeFile(join(deps.storageRoot, "secret.png"), secret);
  await Deno.writeFile(join(deps.storageRoot, "tmp", "partial.png"), partial);
  const includes = (hay: Uint8Array, needle: Uint8Array) =>
    new TextDecoder("latin1").decode(hay).includes(new TextDecoder("latin1").decode(needle));
  try {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          { weight: 4, arbitrary: pathSegment(IMAGE_PIECES) },
          { weight: 1, arbitrary: fc.constantFrom(...IMAGE_PIECES) },
        ),
        fc.option(rangeHeaders, { nil: undefined }),
        async (segment, conditional) => {
          counter.hit("GET /images/{file}");
          const req: Sent = {
            method: "GET",
            path: `/images/${segment}`,
            headers: conditional ?? {},
          };
          const answer = await send(app, req);
          const normalized = normalizedPath(req.path);
          const target = normalized.startsWith("/images/")
            ? tryDecode(normalized.slice("/images/".length))
            : undefined;
          for (const forbidden of [secret, partial, encoder.encode("root:")]) {
            assert.ok(!includes(answer.bytes, forbidden), `${describe(req)} leaked a file`);
          }
          if (target === "ok-0.png") {
            assertStatusIn(answer, [200, 206, 304, 416], req);
          } else if (target !== undefined) {
            assertStatusIn(answer, [404], req);
          }
          if (target === undefined) return; // normalised out of /images (e.g. to the UI at /)
          if (answer.status === 200) assert.deepEqual(answer.bytes, ok);
          if (answer.status === 206) {
            const m = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(answer.headers.get("content-range") ?? "");
            assert.ok(m, `206 without a valid Content-Range for ${describe(req)}`);
            assert.deepEqual(answer.bytes, ok.slice(Number(m[1]), Number(m[2]) + 1));
          }
        },
      ),
      FC_PARAMS,
    );
  } finally {
    counter.report("images");
  }
});

// ---------------------------------------------------------------------------------------------
// Tests: GET /events with odd Last-Event-ID
// ---------------------------------------------------------------------------------------------

/** The real hub, observed: records each replay so a failing one is reported, not just logged. */
function observedHub(hub: JobEventHub) {
  const replays: { cursor: string; result: Promise<unknown> }[] = [];
  const observed: JobEventHub = {
    ...hub,
    replay(cursor) {
      const result = hub.replay(cursor);
      replays.push({ cursor, result: result.catch((err) => err) });
      return result;
    },
  };
  return { observed, replays };
}

async function readUntilReady(reader: ReadableStreamDefaultReader<Uint8Array>, what: string) {
  const decoder = new TextDecoder();
  let text = "";
  while (!text.includes("\n\n")) {
    const { done, value } = await hangCheck(reader.read(), REQUEST_TIMEOUT_MS, what);
    if (done) break;
    text += decoder.decode(value, { stream: true });
  }
  return text;
}

/** Sends one SSE request; returns a failure message when the stream misbehaves. */
async function probeEvents(
  app: App,
  replays: { cursor: string; result: Promise<unknown> }[],
  req: Sent,
): Promise<void> {
  const what = describe(req);
  replays.length = 0;
  const res = await hangCheck(
    Promise.resolve(app.request(req.path, { method: "GET", headers: req.headers })),
    REQUEST_TIMEOUT_MS,
    what,
  );
  if (res.status !== 200) {
    // Not a stream: the usual rules.
    const text = await res.text();
    assert.ok(res.status < 500, `${what} answered ${res.status}: ${text.slice(0, 300)}`);
    assert.match(res.headers.get("content-type") ?? "", /^application\/json\b/i);
    assertErrorEnvelope(JSON.parse(text), `${what} answered ${res.status}`);
    return;
  }
  assert.match(res.headers.get("content-type") ?? "", /^text\/event-stream/);
  const reader = res.body!.getReader();
  try {
    const first = await readUntilReady(reader, what);
    assert.match(first, /^event: ready\n/, `${what}: first event ${JSON.stringify(first)}`);
    // Give the handler a moment to ask for the replay, then wait for the replay itself.
    for (let i = 0; i < 20 && replays.length === 0; i++) {
      await new Promise((r) => setTimeout(r, 0));
    }
    for (const { cursor, result } of replays) {
      const outcome = await hangCheck(result, REQUEST_TIMEOUT_MS, `replay of ${what}`);
      assert.ok(
        !(outcome instanceof Error),
        `${what}: replay(${JSON.stringify(cursor)}) threw ${
          (outcome as Error)?.message
        }; the stream then ends right after "ready" and EventSource reconnects with the same id forever`,
      );
    }
    // The stream must stay open (a heartbeat comes every 15 s); a closed one means it failed.
    const next = await withTimeout(reader.read(), 3, () => "open" as const);
    assert.ok(next === "open" || !next.done, `${what}: the event stream ended right after "ready"`);
  } finally {
    await reader.cancel().catch(() => {});
  }
}

const lastEventId = fc.oneof(
  { weight: 4, arbitrary: fc.string({ unit: digitUnit, minLength: 1, maxLength: 25 }) },
  {
    weight: 2,
    arbitrary: fc.bigInt({ min: -(2n ** 70n), max: 2n ** 70n }).map(String),
  },
  {
    weight: 2,
    arbitrary: fc.integer({ min: -10_000_000, max: 10_000_000 }).map((d) =>
      String(BigInt(Date.now() + d) * 1000n)
    ),
  },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      "0",
      "-1",
      "1.5",
      "1e400",
      "NaN",
      "Infinity",
      "0x10",
      "+1",
      "99999999999999999999",
      "9223372036854775807",
      "18446744073709551616",
      "",
      " ",
      "¹²³",
      "%00",
      "0".repeat(20),
      "1".repeat(5000),
    ),
  },
  { weight: 2, arbitrary: headerValue("last-event-id", 300) },
).filter((v) => isHeaderSafe("last-event-id", v));

fuzzTest("fuzz: GET /events survives any Last-Event-ID", async (deps) => {
  const counter = new CaseCounter();
  const { observed, replays } = observedHub(deps.events);
  const app = createApp({ ...deps, events: observed });
  for (let i = 0; i < 3; i++) await submit(app, `event ${i}`);
  try {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          {
            weight: 3,
            arbitrary: lastEventId.map((id) => ({
              method: "GET",
              path: `${PREFIX}/events`,
              headers: { "last-event-id": id },
            })),
          },
          {
            weight: 1,
            arbitrary: fc.oneof(
              lastEventId.map(enc),
              fc.string({ unit: "grapheme", maxLength: 30 }).map(enc),
              fc.constantFrom(...RAW_JUNK),
            ).map((q) => ({
              method: "GET",
              path: `${PREFIX}/events?last_event_id=${q}`,
              headers: {},
            })),
          },
        ),
        async (req: Sent) => {
          counter.hit("GET /api/v1/events");
          await probeEvents(app, replays, req);
        },
      ),
      FC_PARAMS,
    );
    // Every cancelled stream let go of its subscription.
    for (let i = 0; i < 100 && deps.events.subscribers() > 0; i++) {
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.equal(deps.events.subscribers(), 0, "SSE subscriptions leaked");
  } finally {
    counter.report("events");
  }
});

// ---------------------------------------------------------------------------------------------
// Targeted regressions
// ---------------------------------------------------------------------------------------------

function paddedBody(bytes: number): string {
  const head = '{"prompt":"a","model":"local/abstract","negative_prompt":"';
  const tail = '"}';
  return head + "n".repeat(bytes - head.length - tail.length) + tail;
}

fuzzTest("regression: a body of exactly 64 KB + 1 byte is 413 and stores nothing", async (
  deps,
  app,
) => {
  const headers = { "content-type": "application/json" };
  const before = await footprint(deps);
  const over: Sent = {
    method: "POST",
    path: `${PREFIX}/generate`,
    headers,
    body: paddedBody(BODY_LIMIT + 1),
  };
  assert.equal(byteLength(over.body), 64 * 1024 + 1);
  const answer = await send(app, over);
  assert.equal(answer.status, 413);
  assert.equal((answer.json as { error: { code: string } }).error.code, "payload_too_large");
  // Exactly at the cap the body is read (and refused for the over-long negative_prompt instead).
  const at: Sent = { ...over, body: paddedBody(BODY_LIMIT) };
  assert.equal(byteLength(at.body), 64 * 1024);
  const atCap = await send(app, at);
  assert.equal(atCap.status, 422);
  assert.deepEqual(await footprint(deps), before);
});

fuzzTest("regression: a lone surrogate in the prompt is 422 and stores nothing", async (
  deps,
  app,
) => {
  const before = await footprint(deps);
  const answer = await send(app, {
    method: "POST",
    path: `${PREFIX}/generate`,
    headers: { "content-type": "application/json" },
    body: '{"prompt":"\\ud800","model":"local/abstract"}',
  });
  assert.equal(answer.status, 422);
  assert.deepEqual(await footprint(deps), before);
  const list = await send(app, { method: "GET", path: `${PREFIX}/jobs`, headers: {} });
  assert.equal(list.status, 200);
});

fuzzTest("regression: limit=1e400 and skip=99999999999999999999 are 422", async (_deps, app) => {
  for (const query of ["limit=1e400", "skip=99999999999999999999"]) {
    const answer = await send(app, { method: "GET", path: `${PREFIX}/jobs?${query}`, headers: {} });
    assert.equal(answer.status, 422, query);
    assert.equal((answer.json as { error: { code: string } }).error.code, "validation_error");
  }
});

fuzzTest("regression: Last-Event-ID beyond Postgres' timestamp range keeps the stream open", async (
  deps,
) => {
  const { observed, replays } = observedHub(deps.events);
  const app = createApp({ ...deps, events: observed });
  for (const id of ["99999999999999999999", "9300000000000000000"]) {
    await probeEvents(app, replays, {
      method: "GET",
      path: `${PREFIX}/events`,
      headers: { "last-event-id": id },
    });
  }
});

// Last on purpose: the first request poisons V8's JSON.parse state for the rest of the isolate.
fuzzTest(
  "regression: keys with quotes or backslashes never reach storage (V8 JSON.parse key mix-up)",
  async (deps, app) => {
    // Deno 2.9.6's V8 resolves an escaped key through an existing map transition when the raw
    // source matches it (nodejs/node#63785), so `"\""` after `"\\"` decodes to a backslash.
    // The API refuses such field names outright, so neither request can store a mixed-up key.
    const post = (parameters: string) =>
      send(app, {
        method: "POST",
        path: `${PREFIX}/generate`,
        headers: { "content-type": "application/json" },
        body: `{"prompt":"p","model":"local/abstract","parameters":${parameters}}`,
      });
    const before = await countJobs(deps.db);
    const poison = await post(String.raw`{"k":1,"\\":0}`);
    assert.equal(poison.status, 422, poison.text);
    const victim = await post(String.raw`{"k":1,"\"":0}`);
    assert.equal(victim.status, 422, victim.text);
    const nested = await post(String.raw`{"a":{"\"":1}}`);
    assert.equal(nested.status, 422, nested.text);
    assert.equal(await countJobs(deps.db), before, "nothing stored");
    const fine = await post(String.raw`{"k":1,"guidance_scale":3}`);
    assert.equal(fine.status, 202, fine.text);
  },
);
