/**
 * Fuzz generators of query strings for GET /jobs: numbers for skip/limit (in range, out of range,
 * absurd, junk), status filters, odd key spellings and unknown keys; each value says whether the
 * API must accept it.
 */
import fc from "fast-check";

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

const KNOWN_QUERY_KEYS = ["skip", "limit", "status"] as const;
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

/** One query entry: skip, limit or status (oddly spelled or valued), an unknown key, or junk. */
export const queryEntry: fc.Arbitrary<QueryEntry> = fc.oneof(
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
