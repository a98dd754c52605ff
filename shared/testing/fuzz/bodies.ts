/**
 * Fuzz generators of POST /generate bodies as values: valid-looking bodies (stored exactly as
 * sent), extra top-level fields, and valid bodies with exactly one field broken.
 */
import fc from "fast-check";
import { LIMITS } from "../../jobs/schemas.ts";
import { LOCAL_STYLES } from "../../providers/local.ts";
import { LOCAL_MAX_STEPS } from "../../providers/local_render.ts";
import { BAD_CHARS, byteLength, cleanText, isCleanJson, jsonDepth, withBadChar } from "./text.ts";

/** The request body cap (bytes). */
export const BODY_LIMIT = LIMITS.bodyBytes;
/** The models of the offline provider, as it lists them. */
const LOCAL_MODELS = LOCAL_STYLES.map((s) => s.id);
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

/** Parameters within every limit: known ones in range plus clean extra keys, maybe padded. */
const validParameters = fc.tuple(
  fc.record({
    width: fc.integer({ min: 64, max: 2048 }),
    height: fc.integer({ min: 64, max: 2048 }),
    num_outputs: fc.integer({ min: 1, max: 4 }),
    seed: fc.integer({ min: 0, max: 2 ** 32 - 1 }),
    // The local models' own limit (their schema): more would be run as fewer (issue 21).
    num_inference_steps: fc.integer({ min: 1, max: LOCAL_MAX_STEPS }),
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
  byteLength(JSON.stringify(p)) <= LIMITS.parametersBytes
);

/** The JSON body of POST /generate. */
export interface GenerateBody {
  prompt: string;
  model: string;
  negative_prompt?: string | null;
  parameters?: Record<string, unknown>;
  priority?: string;
  [extra: string]: unknown;
}

/** A body the API must accept (202) and store exactly as sent. */
export const validBody: fc.Arbitrary<GenerateBody> = fc.record({
  prompt: validPrompt,
  model: validModel,
  negative_prompt: fc.oneof(cleanText(LIMITS.negativePromptChars), fc.constant(null)),
  parameters: validParameters,
  priority: fc.constantFrom("high", "normal", "low"),
}, { requiredKeys: ["prompt", "model"] });

/** Top-level fields the schema does not know: they may be ignored (202) or refused (422). */
export const ignoredExtras = fc.oneof(
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

/** A raw request body and the status(es) the API must answer it with. */
export interface BodyCase {
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
  ["num_inference_steps", [0, LOCAL_MAX_STEPS + 1, 250, 501, 2.5, "10"]],
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
export const oneBadField: fc.Arbitrary<BodyCase> = fc.tuple(
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
