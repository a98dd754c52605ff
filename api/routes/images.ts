/**
 * Serves stored images at `/images/<file>`: streamed through the API with validators, long-lived
 * caching and byte ranges (IMAGE_DELIVERY=proxy), or as a redirect to the bucket (redirect).
 */
import { Hono } from "hono";
import type { Context } from "hono";
import type { AuthMode } from "../../shared/config.ts";
import { NotFoundError } from "../../shared/errors.ts";
import type { Logger } from "../../shared/logger.ts";
import { createLazyThumbnails } from "../../shared/media/thumbnails.ts";
import { isSafeFileName, type ObjectInfo, type Storage } from "../../shared/storage/storage.ts";
import { UPLOAD_FILE_PREFIX } from "../../shared/uploads/store.ts";

/** What the image routes need: the storage, the auth mode and how images reach browsers. */
export interface ImageRouteDeps {
  storage: Storage;
  logger?: Logger;
  /** `private` caching when API keys are on; `public` when open (or omitted). */
  security?: { authMode: AuthMode };
  config?: {
    IMAGE_DELIVERY?: "proxy" | "redirect";
    PUBLIC_IMAGE_BASE_URL?: string;
    IMAGE_URL_TTL_S?: number;
  };
}

/** Image names never change: a year, never revalidated. */
const IMMUTABLE = "max-age=31536000, immutable";
/** An image is a document of its own: no scripts, no plugins, no same-origin access. */
const IMAGE_CSP = "default-src 'none'; sandbox";

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
export function imageRoutes(deps: ImageRouteDeps): Hono {
  const app = new Hono();
  const thumbnails = createLazyThumbnails(deps.storage, deps.logger);
  const scope = deps.security?.authMode === "api_key" ? "private" : "public";
  const cacheControl = `${scope}, ${IMMUTABLE}`;
  const redirect = deps.config?.IMAGE_DELIVERY === "redirect";
  const publicBase = deps.config?.PUBLIC_IMAGE_BASE_URL?.replace(/\/+$/, "");
  const ttlS = deps.config?.IMAGE_URL_TTL_S ?? 900;

  // Every answer under /images (images, redirects, 404s) carries the sandbox policy.
  app.use("*", async (c, next) => {
    c.header("Content-Security-Policy", IMAGE_CSP);
    await next();
  });

  app.get("/:file", async (c) => {
    const file = c.req.param("file");
    // Uploads share the storage but are served only at /uploads/{id}, to their owner.
    const contentType = isSafeFileName(file) && !file.startsWith(UPLOAD_FILE_PREFIX)
      ? contentTypeOf(file)
      : null;
    if (!contentType) return notFound(c);
    if (redirect) {
      // A thumbnail of an image stored before thumbnails existed is made before the redirect.
      if (file.endsWith(".thumb.webp") && !await deps.storage.stat(file)) {
        await thumbnails.ensure(file);
      }
      const location = await redirectTarget(deps.storage, file, publicBase, ttlS);
      if (!location) return notFound(c);
      // A presigned URL expires: the redirect may be reused for half its life, by this browser.
      const caching = publicBase ? cacheControl : `private, max-age=${Math.floor(ttlS / 2)}`;
      return c.body(null, 302, { "Location": location, "Cache-Control": caching });
    }
    // A thumbnail of an image stored before thumbnails existed is made on its first request.
    const info = await deps.storage.stat(file) ?? await thumbnails.ensure(file);
    if (!info) return notFound(c);

    const etag = etagOf(info);
    const validators = {
      "ETag": etag,
      "Last-Modified": info.mtime.toUTCString(),
      "Cache-Control": cacheControl,
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

/**
 * Where a redirect sends the browser: `<PUBLIC_IMAGE_BASE_URL>/<key>` for a public bucket or CDN,
 * else a presigned URL; null when the storage can give neither (local disk).
 */
async function redirectTarget(
  storage: Storage,
  file: string,
  publicBase: string | undefined,
  ttlS: number,
): Promise<string | null> {
  if (publicBase && storage.objectKey) {
    const key = storage.objectKey(file).split("/").map(encodeURIComponent).join("/");
    return `${publicBase}/${key}`;
  }
  return (await storage.presignedUrl?.(file, ttlS)) ?? null;
}

/**
 * The store's own validator (a bucket's ETag), else a strong one from size and mtime (files are
 * written once, atomically).
 */
function etagOf(info: ObjectInfo): string {
  if (info.etag) return info.etag;
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
