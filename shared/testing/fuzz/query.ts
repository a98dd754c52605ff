/**
 * Fuzz generators of query strings for GET /jobs: numbers for skip/limit (in range, out of range,
 * absurd, junk), status and provider filters, the library's search parameters (q, model, starred, collection,
 * after, before, sort, cursor), odd key spellings and unknown keys; each value says whether the
 * API must accept it on its own (rules between parameters are the test's).
 */
import fc from "fast-check";
import { encodeCursor } from "../../jobs/search.ts";

/** Whether the API must accept a query value, refuse it (422), or may do either. */
export type Validity = "valid" | "invalid" | "either";
/** A query value as written in the URL, its validity and (for a valid number) its value. */
export interface QueryValue {
  raw: string;
  validity: Validity;
  num?: number;
}

/** Percent-encodes text for a query string. */
export function enc(s: string): string {
  return encodeURIComponent(s);
}

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
/** Percent-escapes that are broken or decode to NUL, surrogates or overlong UTF-8. */
export const RAW_JUNK = ["%00", "%ZZ", "%", "%ED%A0%80", "%C0%80", "%FF%FE", "%0"];
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

/** A collection that exists in the fuzzed app (the test creates it). */
export const FUZZ_COLLECTION = "0f0f0f0f-0000-4000-8000-00000000c011";

const valid = (raw: string): QueryValue => ({ raw, validity: "valid" });
const invalid = (raw: string): QueryValue => ({ raw, validity: "invalid" });

/** Search text: clean text up to 200 characters; NUL, lone surrogates or longer are refused. */
const qValue: fc.Arbitrary<QueryValue> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.string({ unit: "grapheme", maxLength: 15 }).filter((s) => !s.includes("\u0000"))
      .map((s) => valid(enc(s))),
  },
  {
    weight: 1,
    arbitrary: fc.constantFrom("listed", "LISTED 1", "lis", "!!!", "'&|:*").map((s) =>
      valid(enc(s))
    ),
  },
  { weight: 1, arbitrary: fc.integer({ min: 201, max: 5000 }).map((n) => invalid("x".repeat(n))) },
  { weight: 1, arbitrary: fc.constantFrom("%00", "a%00b").map(invalid) },
  {
    weight: 1,
    arbitrary: fc.constantFrom("%ZZ", "%", "%0", "%FF%FE", "%C0%80", "%ED%A0%80").map((raw) => ({
      raw,
      validity: "either" as const,
    })),
  },
);

/** Model ids: `owner/name`, `local/<style>`, with a version; anything else is refused. */
const modelValue: fc.Arbitrary<QueryValue> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.constantFrom(
      "local/aurora",
      "local/plasma",
      "acme/flux",
      `acme/flux:${"a".repeat(64)}`,
      "black-forest-labs/flux-schnell",
      // A route's alias and a fal app are models too (issue 24).
      "acme",
      "fal:fal-ai/flux/dev",
    ).map((s) => valid(enc(s))),
  },
  {
    weight: 2,
    arbitrary: fc.oneof(
      fc.constantFrom("", "Local/Aurora", "a/b/c", "Acme", "acme/flux:xyz", "/x", "x/", "a b/c"),
      // Not an alias either (lower-case letters, digits, `.`, `_`, `-`).
      fc.string({ unit: "grapheme", minLength: 1, maxLength: 12 }).filter((s) =>
        !s.includes("/") && !/^[a-z0-9][a-z0-9._-]*$/.test(s)
      ),
    ).map((s) => invalid(enc(s))),
  },
  { weight: 1, arbitrary: fc.constantFrom(...RAW_JUNK).map(invalid) },
);

const starredValue: fc.Arbitrary<QueryValue> = fc.oneof(
  { weight: 2, arbitrary: fc.constantFrom("true", "false").map(valid) },
  {
    weight: 1,
    arbitrary: fc.constantFrom("", "TRUE", "1", "yes", "null", "true ").map((s) => invalid(enc(s))),
  },
);

/** The one collection the app has; any other id or text is refused. */
const collectionValue: fc.Arbitrary<QueryValue> = fc.oneof(
  {
    weight: 2,
    arbitrary: fc.constantFrom(FUZZ_COLLECTION, FUZZ_COLLECTION.toUpperCase()).map(valid),
  },
  { weight: 2, arbitrary: fc.uuid().filter((u) => u !== FUZZ_COLLECTION).map(invalid) },
  {
    weight: 1,
    arbitrary: fc.constantFrom("", "42", "null", `${FUZZ_COLLECTION}x`).map((s) => invalid(enc(s))),
  },
  { weight: 1, arbitrary: fc.constantFrom(...RAW_JUNK).map(invalid) },
);

/** A date or date-time; `num` is its time in ms, for the after < before rule. */
const dateValue: fc.Arbitrary<QueryValue> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.date({
      min: new Date("1970-01-01T00:00:00Z"),
      max: new Date("2100-01-01T00:00:00Z"),
      noInvalidDate: true,
    })
      .chain((d) =>
        fc.constantFrom(
          { raw: d.toISOString().slice(0, 10), num: Date.parse(d.toISOString().slice(0, 10)) },
          { raw: enc(d.toISOString()), num: d.getTime() },
          {
            raw: enc(d.toISOString().replace(/\.\d{3}Z$/, "+00:00")),
            num: Math.floor(d.getTime() / 1000) * 1000,
          },
        )
      ).map(({ raw, num }) => ({ raw, num, validity: "valid" as const })),
  },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      "",
      "2025-02-30",
      "2025-13-01",
      "1969-12-31",
      "2025-06-01T25:00:00Z",
      "2025-06-01T12:00",
      "yesterday",
      "2025/06/01",
      "20250601",
      "1e400",
    ).map((s) => invalid(enc(s))),
  },
  { weight: 1, arbitrary: fc.constantFrom(...RAW_JUNK).map(invalid) },
);

const sortValue: fc.Arbitrary<QueryValue> = fc.oneof(
  { weight: 2, arbitrary: fc.constantFrom("newest", "oldest").map(valid) },
  {
    weight: 1,
    arbitrary: fc.constantFrom("", "NEWEST", "asc", "desc", "random").map((s) => invalid(enc(s))),
  },
);

/** A provider filter (issue 24): a provider's name, or one spelt wrong. */
const providerValue: fc.Arbitrary<QueryValue> = fc.oneof(
  { weight: 2, arbitrary: fc.constantFrom("local", "replicate", "fal").map(valid) },
  {
    weight: 1,
    arbitrary: fc.constantFrom("", "LOCAL", "fal ", "openai", "replicate[]").map((s) =>
      invalid(enc(s))
    ),
  },
);

/** A cursor: well formed (`num` 1 for newest, 2 for oldest), or text that is none. */
const cursorValue: fc.Arbitrary<QueryValue> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.tuple(
      fc.constantFrom("newest" as const, "oldest" as const),
      fc.date({
        min: new Date("1970-01-02T00:00:00Z"),
        max: new Date("2100-01-01T00:00:00Z"),
        noInvalidDate: true,
      }),
      fc.uuid(),
    ).map(([sort, d, id]) => ({
      raw: encodeCursor({ sort, at: d.toISOString().slice(0, 23) + "123", id }),
      validity: "valid" as const,
      num: sort === "newest" ? 1 : 2,
    })),
  },
  {
    weight: 2,
    arbitrary: fc.oneof(
      fc.constantFrom("", "x", "bm90IGEgY3Vyc29y", "A".repeat(201), "%2B%2F"),
      fc.string({ unit: "grapheme", minLength: 1, maxLength: 30 }).map(enc),
    ).map(invalid),
  },
);

const KNOWN_QUERY_KEYS = [
  "skip",
  "limit",
  "status",
  "provider",
  "q",
  "model",
  "starred",
  "collection",
  "after",
  "before",
  "sort",
  "cursor",
] as const;
/** The query keys GET /jobs knows. */
export type KnownKey = typeof KNOWN_QUERY_KEYS[number];

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

/** One `key=value` of a query string; `key` and `value` are set for a known key. */
export interface QueryEntry {
  text: string;
  key?: KnownKey;
  value?: QueryValue;
}

/** An entry of one of the library's keys, valued by `values`. */
function libraryEntry(key: KnownKey, values: fc.Arbitrary<QueryValue>): fc.Arbitrary<QueryEntry> {
  return fc.tuple(keySpelling(key), values).map(([k, v]) => ({
    text: `${k}=${v.raw}`,
    key,
    value: v,
  }));
}

/**
 * One query entry: skip, limit, status or a search parameter (oddly spelled or valued), an
 * unknown key, or junk.
 */
export const queryEntry: fc.Arbitrary<QueryEntry> = fc.oneof(
  { weight: 1, arbitrary: libraryEntry("provider", providerValue) },
  { weight: 1, arbitrary: libraryEntry("q", qValue) },
  { weight: 1, arbitrary: libraryEntry("model", modelValue) },
  { weight: 1, arbitrary: libraryEntry("starred", starredValue) },
  { weight: 1, arbitrary: libraryEntry("collection", collectionValue) },
  { weight: 1, arbitrary: libraryEntry("after", dateValue) },
  { weight: 1, arbitrary: libraryEntry("before", dateValue) },
  { weight: 1, arbitrary: libraryEntry("sort", sortValue) },
  { weight: 1, arbitrary: libraryEntry("cursor", cursorValue) },
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
          "Q",
          "query",
          "search",
          "Sort",
          "cursor[]",
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
