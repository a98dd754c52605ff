/**
 * The browser UI: the HTML shell at `/` and the hashed bundle at `/assets/*` (built by
 * `deno task build:ui` into ui/dist). Without a build, a short page says how to make one.
 * Assets are sent brotli- or gzip-compressed from the `.br`/`.gz` files the build writes beside
 * them; the shell is compressed once per content and revalidated by its ETag.
 */
import { Hono } from "hono";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { AppDeps, AppEnv } from "../app.ts";
import {
  type CompressedFile,
  compressedFile,
  type Encoding,
  negotiateEncoding,
} from "../compression.ts";

const DEFAULT_DIST = fileURLToPath(new URL("../../ui/dist/", import.meta.url));
const ASSET_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,200}$/;
const TYPES: Record<string, string> = {
  js: "text/javascript; charset=utf-8",
  css: "text/css; charset=utf-8",
  svg: "image/svg+xml",
  png: "image/png",
  ico: "image/x-icon",
  json: "application/json",
  map: "application/json",
  woff2: "font/woff2",
};

/** Strict policy: only this origin's scripts, styles, images and connections; no framing. */
export const UI_CSP = "default-src 'self'; script-src 'self'; style-src 'self'; " +
  "img-src 'self' data: blob:; connect-src 'self'; font-src 'self'; object-src 'none'; " +
  "base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

const NOT_BUILT = `<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Darkroom</title></head><body><main><h1>Darkroom</h1>
<p>The UI is not built yet: run <code>deno task build:ui</code>. The API is at <code>/api/v1</code>.</p>
</main></body></html>`;

/** Routes mounted at the root. */
export function uiRoutes(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const dist = deps.uiDir ?? DEFAULT_DIST;
  const cache = new Map<string, Uint8Array>();
  /** Compressed copies of assets that exist, by path; null when the build wrote none. */
  const variants = new Map<string, Uint8Array | null>();
  /** The last shell served: its text, validator and compressed forms. */
  let shell: { html: string; etag: string; file: CompressedFile } | undefined;

  const read = async (path: string): Promise<Uint8Array | null> => {
    const hit = cache.get(path);
    if (hit) return hit;
    try {
      const bytes = await Deno.readFile(path);
      cache.set(path, bytes);
      return bytes;
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) return null;
      throw err;
    }
  };

  app.get("/", async (c) => {
    // index.html is re-read each time (a rebuild changes it); assets are immutable.
    let html: string;
    try {
      html = await Deno.readTextFile(join(dist, "index.html"));
    } catch {
      html = NOT_BUILT;
    }
    // The page reads the API prefix from a meta tag; keep it in step with API_V1_PREFIX, and the
    // header's link to the API docs too.
    html = html.replace(
      /<meta name="darkroom:api" content="[^"]*">/,
      `<meta name="darkroom:api" content="${deps.config.API_V1_PREFIX}">`,
    ).replace('href="/api/v1/docs"', `href="${deps.config.API_V1_PREFIX}/docs"`);
    if (shell?.html !== html) {
      const bytes = new TextEncoder().encode(html);
      shell = {
        html,
        etag: await weakEtag(bytes),
        file: compressedFile(() => Promise.resolve(bytes)),
      };
    }
    c.header("Cache-Control", "no-cache");
    c.header("ETag", shell.etag);
    c.header("Vary", "Accept-Encoding");
    c.header("Content-Security-Policy", UI_CSP);
    c.header("X-Content-Type-Options", "nosniff");
    c.header("Referrer-Policy", "no-referrer");
    c.header("X-Frame-Options", "DENY");
    if (etagMatches(c.req.header("If-None-Match"), shell.etag)) return c.body(null, 304);
    const { body, encoding } = await shell.file.pick(c.req.header("Accept-Encoding"));
    if (encoding) c.header("Content-Encoding", encoding);
    return c.body(body as Uint8Array<ArrayBuffer>, 200, {
      "Content-Type": "text/html; charset=UTF-8",
    });
  });

  /** The build's compressed copy of an asset in the best coding the client takes, if any. */
  const compressedAsset = async (
    path: string,
    acceptEncoding: string | undefined,
  ): Promise<{ body: Uint8Array; encoding: Encoding } | null> => {
    const tried: Encoding[] = [];
    for (;;) {
      const encoding = negotiateEncoding(
        acceptEncoding,
        (["br", "gzip"] as const).filter((e) => !tried.includes(e)),
      );
      if (!encoding) return null;
      const file = `${path}.${encoding === "br" ? "br" : "gz"}`;
      let body = variants.get(file);
      if (body === undefined) {
        body = await read(file);
        variants.set(file, body);
      }
      if (body) return { body, encoding };
      tried.push(encoding);
    }
  };

  app.get("/assets/:file", async (c) => {
    const file = c.req.param("file");
    const ext = file.split(".").pop() ?? "";
    if (!ASSET_NAME.test(file) || file.includes("..") || !TYPES[ext]) {
      return c.json({ error: { code: "not_found", message: "Asset not found" } }, 404);
    }
    const path = join(dist, "assets", file);
    const bytes = await read(path);
    if (!bytes) return c.json({ error: { code: "not_found", message: "Asset not found" } }, 404);
    c.header("Content-Type", TYPES[ext]);
    c.header("Cache-Control", "public, max-age=31536000, immutable");
    c.header("X-Content-Type-Options", "nosniff");
    if (!COMPRESSED_TYPES.has(ext)) return c.body(bytes as Uint8Array<ArrayBuffer>);
    c.header("Vary", "Accept-Encoding");
    const compressed = await compressedAsset(path, c.req.header("Accept-Encoding"));
    if (!compressed) return c.body(bytes as Uint8Array<ArrayBuffer>);
    c.header("Content-Encoding", compressed.encoding);
    return c.body(compressed.body as Uint8Array<ArrayBuffer>);
  });
  return app;
}

/** Asset types the build writes compressed copies of. */
const COMPRESSED_TYPES = new Set(["js", "css", "svg", "json", "map"]);

/** A weak validator from the content (the same for every coding of it). */
async function weakEtag(bytes: Uint8Array): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes as BufferSource));
  return `W/"${[...digest.slice(0, 12)].map((b) => b.toString(16).padStart(2, "0")).join("")}"`;
}

/** If-None-Match with the weak comparison (RFC 9110 §13.1.2). */
function etagMatches(ifNoneMatch: string | undefined, etag: string): boolean {
  if (ifNoneMatch === undefined) return false;
  const ours = etag.replace(/^W\//, "");
  return ifNoneMatch.trim() === "*" ||
    ifNoneMatch.split(",").some((tag) => tag.trim().replace(/^W\//, "") === ours);
}
