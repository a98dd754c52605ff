/**
 * The browser UI: the HTML shell at `/` and the hashed bundle at `/assets/*` (built by
 * `deno task build:ui` into ui/dist). Without a build, a short page says how to make one.
 */
import { Hono } from "hono";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { AppDeps, AppEnv } from "../app.ts";

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
    // The page reads the API prefix from a meta tag; keep it in step with API_V1_PREFIX.
    html = html.replace(
      /<meta name="darkroom:api" content="[^"]*">/,
      `<meta name="darkroom:api" content="${deps.config.API_V1_PREFIX}">`,
    );
    c.header("Cache-Control", "no-cache");
    c.header("Content-Security-Policy", UI_CSP);
    c.header("X-Content-Type-Options", "nosniff");
    c.header("Referrer-Policy", "no-referrer");
    c.header("X-Frame-Options", "DENY");
    return c.html(html);
  });

  app.get("/assets/:file", async (c) => {
    const file = c.req.param("file");
    const ext = file.split(".").pop() ?? "";
    if (!ASSET_NAME.test(file) || file.includes("..") || !TYPES[ext]) {
      return c.json({ error: { code: "not_found", message: "Asset not found" } }, 404);
    }
    const bytes = await read(join(dist, "assets", file));
    if (!bytes) return c.json({ error: { code: "not_found", message: "Asset not found" } }, 404);
    c.header("Content-Type", TYPES[ext]);
    c.header("Cache-Control", "public, max-age=31536000, immutable");
    c.header("X-Content-Type-Options", "nosniff");
    return c.body(bytes as Uint8Array<ArrayBuffer>);
  });
  return app;
}
