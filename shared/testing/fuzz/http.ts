/**
 * Fuzz generators of request headers: odd headers that must not matter, content types,
 * Idempotency-Key values, bogus Content-Length, Range and conditional headers, Last-Event-ID.
 */
import fc from "fast-check";
import { digitUnit, latin1Unit, visibleAsciiUnit } from "./text.ts";

/** True when the Fetch API accepts this header (no CR/LF/NUL, latin-1 only). */
export function isHeaderSafe(name: string, value: string): boolean {
  try {
    new Headers([[name, value]]);
    return true;
  } catch {
    return false;
  }
}

/** A header value the Fetch API lets through (latin-1, no CR/LF/NUL). */
export function headerValue(name: string, maxLength = 80): fc.Arbitrary<string> {
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
export const oddHeaders = fc.array(
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

/** Content types the API must read as JSON. */
export const JSON_TYPES = [
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

/** A Content-Type header (absent when `value` is undefined) and whether it means JSON. */
export type ContentType = { ok: boolean; value?: string };

/** Mostly JSON content types, sometimes another type or none at all. */
export const contentType: fc.Arbitrary<ContentType> = fc.oneof(
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

/** An Idempotency-Key header: absent, one the API must accept, or one it must refuse. */
export type IdemKey = { kind: "none" } | { kind: "valid" | "invalid"; value: string };

/** Idempotency keys the API accepts: 1–200 visible ASCII characters, however odd. */
export const validIdemKey = fc.oneof(
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

/** Mostly no Idempotency-Key, else a valid or an invalid one. */
export const idemKey: fc.Arbitrary<IdemKey> = fc.oneof(
  { weight: 6, arbitrary: fc.constant({ kind: "none" as const }) },
  { weight: 2, arbitrary: validIdemKey.map((value) => ({ kind: "valid" as const, value })) },
  { weight: 2, arbitrary: invalidIdemKey.map((value) => ({ kind: "invalid" as const, value })) },
);

/** A Content-Length header that lies about the body, or none. */
export const bogusContentLength = fc.option(
  fc.constantFrom("abc", "-1", "1e400", "99999999999999999999", "0", " 12 ", "NaN", "65537"),
  { nil: undefined },
);

/** Range and conditional request headers, well-formed or not, any subset of them. */
export const rangeHeaders = fc.record({
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

/** Last-Event-ID values: event ids near now, huge or negative numbers, junk, long runs. */
export const lastEventId = fc.oneof(
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
