/**
 * Fuzz generators of POST /generate bodies as raw text and bytes: JSON that is not JSON (NaN,
 * bad escapes, control characters), escaped NUL and lone surrogates, invalid UTF-8, broken or
 * absurd structure, and random bytes; each with the status the README promises.
 */
import fc from "fast-check";
import { LIMITS } from "../../jobs/schemas.ts";
import { BODY_LIMIT, type BodyCase, oneBadField, validBody } from "./bodies.ts";
import { byteLength, concatBytes } from "./text.ts";

const encoder = new TextEncoder();

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

/** Any body POST /generate must refuse, weighted towards the subtle cases. */
export const invalidBody: fc.Arbitrary<BodyCase> = fc.oneof(
  { weight: 5, arbitrary: oneBadField },
  { weight: 2, arbitrary: rawNumber },
  { weight: 2, arbitrary: rawStrings },
  { weight: 2, arbitrary: invalidUtf8 },
  { weight: 3, arbitrary: structural },
  { weight: 2, arbitrary: randomBody },
);
