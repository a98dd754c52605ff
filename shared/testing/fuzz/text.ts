/**
 * Fuzz generators of text: character units, clean but spicy text, text with a NUL or a lone
 * surrogate, and the predicates and byte helpers the other fuzz generators filter and build with.
 */
import fc from "fast-check";

const encoder = new TextEncoder();

/** One latin-1 character from TAB up (what a header value may carry, CR/LF aside). */
export const latin1Unit = fc.integer({ min: 0x09, max: 0xff }).map((c) => String.fromCharCode(c));
/** One visible ASCII character (`!` to `~`). */
export const visibleAsciiUnit = fc.integer({ min: 0x21, max: 0x7e }).map((c) =>
  String.fromCharCode(c)
);
/** One decimal digit. */
export const digitUnit = fc.integer({ min: 0, max: 9 }).map(String);

/** Pieces of text that trip naive escaping, rendering and storage (all valid Unicode, no NUL). */
export const TEXT_SPICE = [
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
export function cleanText(max: number): fc.Arbitrary<string> {
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

/** Characters Postgres or a JSON round trip cannot keep: NUL and lone or reversed surrogates. */
export const BAD_CHARS = ["\u0000", "\ud800", "\udbff", "\udc00", "\udfff", "\udc00\ud800"];

/** Any short text with one of BAD_CHARS somewhere in it. */
export const withBadChar = fc.tuple(
  fc.string({ maxLength: 20 }),
  fc.constantFrom(...BAD_CHARS),
  fc.string({ maxLength: 20 }),
).map(([a, bad, b]) => a + bad + b);

/** True when a JSON value has no NUL and no lone surrogate anywhere (keys included). */
export function isCleanJson(value: unknown): boolean {
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

/** How deeply arrays and objects nest in a JSON value (a scalar is 0). */
export function jsonDepth(value: unknown): number {
  if (Array.isArray(value)) return 1 + Math.max(0, ...value.map(jsonDepth));
  if (value !== null && typeof value === "object") {
    return 1 + Math.max(0, ...Object.values(value).map(jsonDepth));
  }
  return 0;
}

/** Size of a request body in bytes (a string counts as UTF-8). */
export function byteLength(body: string | Uint8Array<ArrayBuffer> | undefined): number {
  if (body === undefined) return 0;
  return typeof body === "string" ? encoder.encode(body).byteLength : body.byteLength;
}

/** Joins text (as UTF-8), byte lists and byte arrays into one byte array. */
export function concatBytes(...parts: (string | number[] | Uint8Array)[]): Uint8Array<ArrayBuffer> {
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
