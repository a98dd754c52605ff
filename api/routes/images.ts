/** Serves stored images at `/images/<file>` with validators, long-lived caching and byte ranges. */
import { Hono } from "hono";
import type { Context } from "hono";
import { NotFoundError } from "../../shared/errors.ts";
import type { Logger } from "../../shared/logger.ts";
import { createLazyThumbnails } from "../../shared/media/thumbnails.ts";
import { isSafeFileName, type ObjectInfo, type Storage } from "../../shared/storage/storage.ts";

const CONTENT_TYPES: Record<string, string> = {
  png: "image/png",
  jpg: "image/jpeg",
  jpeg: "image/jpeg",
  webp: "image/webp",
  gif: "image/gif",
};

/** A satisfiable single byte range, end inclusive. */
interface ByteRange {
  start: number;
  end: number;
}

/** The image routes, to be mounted at `/images`; GET and HEAD on `/:file`. */
export function imageRoutes(deps: { storage: Storage; logger?: Logger }): Hono {
  const app = new Hono();
  const thumbnails = createLazyThumbnails(deps.storage, deps.logger);

  app.get("/:file", async (c) => {
    const file = c.req.param("file");
    const contentType = isSafeFileName(file) ? contentTypeOf(file) : null;
    if (!contentType) return notFound(c);
    // A thumbnail of an image stored before thumbnails existed is made on its first request.
    const info = await deps.storage.stat(file) ?? await thumbnails.ensure(file);
    if (!info) return notFound(c);

    const etag = etagOf(info);
    const validators = {
      "ETag": etag,
      "Last-Modified": info.mtime.toUTCString(),
      "Cache-Control": "public, max-age=31536000, immutable",
    };
    if (isNotModified(c.req.header("If-None-Match"), c.req.header("If-Modified-Since"), info)) {
      return c.body(null, 304, validators);
    }

    let range: ByteRange | "unsatisfiable" | null = null;
    const rangeHeader = c.req.header("Range");
    if (rangeHeader !== undefined && ifRangeMatches(c.req.header("If-Range"), etag, info)) {
      range = parseRange(rangeHeader, info.size);
    }
    if (range === "unsatisfiable") {
      return c.json(
        { error: { code: "range_not_satisfiable", message: "Requested range not satisfiable" } },
        416,
        { "Content-Range": `bytes */${info.size}` },
      );
    }

    const status = range ? 206 : 200;
    const headers: Record<string, string> = {
      ...validators,
      "Content-Type": contentType,
      "Content-Length": String(range ? range.end - range.start + 1 : info.size),
      "Accept-Ranges": "bytes",
      "X-Content-Type-Options": "nosniff",
    };
    if (range) headers["Content-Range"] = `bytes ${range.start}-${range.end}/${info.size}`;
    // Hono answers HEAD by running this GET handler and dropping the body: do not open the file.
    if (c.req.method === "HEAD") return c.body(null, status, headers);

    let body: ReadableStream<Uint8Array>;
    try {
      body = await deps.storage.read(file, range ?? undefined);
    } catch (error) {
      if (error instanceof NotFoundError) return notFound(c); // removed since the stat
      throw error;
    }
    return c.body(body, status, headers);
  });

  // Anything else under /images (nested paths, empty names) gets the same JSON 404.
  app.all("*", (c) => notFound(c));

  return app;
}

function notFound(c: Context): Response {
  return c.json({ error: { code: "not_found", message: "Image not found" } }, 404);
}

function contentTypeOf(file: string): string | null {
  const dot = file.lastIndexOf(".");
  if (dot < 0) return null;
  return CONTENT_TYPES[file.slice(dot + 1).toLowerCase()] ?? null;
}

/** A strong validator from size and mtime (files are written once, atomically). */
function etagOf(info: ObjectInfo): string {
  return `"${info.size.toString(16)}-${info.mtime.getTime().toString(16)}"`;
}

/** RFC 9110 §13.1.2/§13.1.3: If-None-Match (weak comparison) wins over If-Modified-Since. */
function isNotModified(
  ifNoneMatch: string | undefined,
  ifModifiedSince: string | undefined,
  info: ObjectInfo,
): boolean {
  if (ifNoneMatch !== undefined) {
    const value = ifNoneMatch.trim();
    if (value === "*") return true;
    const ours = weak(etagOf(info));
    return value.split(",").some((tag) => weak(tag.trim()) === ours);
  }
  if (ifModifiedSince !== undefined) {
    const since = Date.parse(ifModifiedSince);
    // HTTP dates have one-second precision.
    return !Number.isNaN(since) && Math.floor(info.mtime.getTime() / 1000) * 1000 <= since;
  }
  return false;
}

function weak(tag: string): string {
  return tag.startsWith("W/") ? tag.slice(2) : tag;
}

/** RFC 9110 §13.1.5: a Range applies only if If-Range is absent or still matches (strongly). */
function ifRangeMatches(ifRange: string | undefined, etag: string, info: ObjectInfo): boolean {
  if (ifRange === undefined) return true;
  const value = ifRange.trim();
  if (value.startsWith('"') || value.startsWith("W/")) return value === etag;
  const date = Date.parse(value);
  return !Number.isNaN(date) && date === Math.floor(info.mtime.getTime() / 1000) * 1000;
}

/**
 * Parses a single `bytes=a-b`, `bytes=a-` or `bytes=-n` range. Returns null (serve the whole
 * file) for malformed headers, other units and multiple ranges, as RFC 9110 §14.2 allows.
 */
function parseRange(header: string, size: number): ByteRange | "unsatisfiable" | null {
  const match = /^bytes[ \t]*=[ \t]*(\d*)[ \t]*-[ \t]*(\d*)[ \t]*$/i.exec(header.trim());
  if (!match) return null;
  const [, first, last] = match;
  if (first === "" && last === "") return null;
  if (first === "") {
    const suffix = Number(last);
    if (suffix === 0 || size === 0) return "unsatisfiable";
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(first);
  const end = last === "" ? Infinity : Number(last);
  if (end < start) return null; // invalid: ignore
  if (start >= size) return "unsatisfiable";
  return { start, end: Math.min(end, size - 1) };
}
