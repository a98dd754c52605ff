/**
 * Fuzz generators of URL path segments: pieces that break naive routers and file servers,
 * traversal attempts against the image folder, and odd spellings of a real job id.
 */
import fc from "fast-check";

/** Raw bits of path segments that break naive routers and file servers. */
export const PATH_PIECES = [
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

/** A path segment built from PATH_PIECES (plus `extraPieces`), UUIDs and raw text; sometimes huge. */
export function pathSegment(extraPieces: string[] = []): fc.Arbitrary<string> {
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

/** File names and traversal attempts aimed at the images a test stores (ok-0.png is real). */
export const IMAGE_PIECES = [
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

/** Ways of writing a real job id in a path: upper case, percent-encoded, or with junk added. */
export type IdSpelling = {
  kind: "same" | "upper" | "encoded" | "junk";
  junk: string;
  index: number;
};
const ID_JUNK = ["%00", "%2F", "x", "%20", "..", "%2e", "0", "-", "é", "%", "%ZZ", ";", "%0A"];
/** Any spelling of a job id (`spell` applies it). */
export const idSpelling: fc.Arbitrary<IdSpelling> = fc.record({
  kind: fc.constantFrom("same", "upper", "encoded", "junk"),
  junk: fc.constantFrom(...ID_JUNK),
  index: fc.nat(),
});

/** Writes `id` as `s` says; `found` tells whether the API must still find the job. */
export function spell(id: string, s: IdSpelling): { segment: string; found: boolean } {
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

/** The path a URL parser makes of `path` (dot segments resolved, as the router sees it). */
export function normalizedPath(path: string): string {
  return new URL(path, "http://localhost").pathname;
}

/** `decodeURIComponent`, or the text unchanged when it is not valid percent-encoding. */
export function tryDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}
