/**
 * API documentation: the OpenAPI document at `{prefix}/openapi.json` and Swagger UI at
 * `{prefix}/docs`, served offline from npm:swagger-ui-dist under a strict CSP (no inline script,
 * nothing from another origin).
 */
import { Hono } from "hono";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { openApiDocument, type OpenApiOptions } from "../openapi/document.ts";
import { type CompressedFile, compressedFile } from "../compression.ts";

/** Policy of the docs page: Swagger UI needs inline styles and data:/blob: images, no more. */
export const DOCS_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; " +
  "img-src 'self' data: blob:; connect-src 'self'; font-src 'self'; base-uri 'none'; " +
  "form-action 'self'; frame-ancestors 'none'";

/** The swagger-ui-dist files the page uses, with their content types. */
const ASSETS: Record<string, string> = {
  "swagger-ui.css": "text/css; charset=utf-8",
  "index.css": "text/css; charset=utf-8",
  "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
  "favicon-16x16.png": "image/png",
  "favicon-32x32.png": "image/png",
};

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
}

/** The swagger-ui-dist package folder (resolved, not imported: its code never runs here). */
function swaggerUiDir(): string {
  return fileURLToPath(new URL(".", import.meta.resolve("swagger-ui-dist/package.json")));
}

/** Routes with absolute paths under `prefix`; mount with `app.route("/", docsRoutes(...))`. */
export function docsRoutes(options: OpenApiOptions): Hono {
  const { prefix } = options;
  const app = new Hono();
  const dir = swaggerUiDir();
  const documentJson = JSON.stringify(openApiDocument(options));
  // Compressed on first request in each coding and kept (brotli shrinks the 1.7 MB bundle ~4.5×).
  const document = compressedFile(() => Promise.resolve(new TextEncoder().encode(documentJson)));
  const compressed = new Map<string, CompressedFile>();
  const files = new Map<string, Promise<Uint8Array>>();
  let distVersion: Promise<string> | undefined;

  const read = (name: string): Promise<Uint8Array> => {
    let bytes = files.get(name);
    if (!bytes) {
      bytes = Deno.readFile(join(dir, name));
      bytes.catch(() => files.delete(name)); // a failed read is retried next time
      files.set(name, bytes);
    }
    return bytes;
  };
  // The asset URLs carry swagger-ui-dist's version, so they can be cached for a year.
  const version = (): Promise<string> =>
    distVersion ??= Deno.readTextFile(join(dir, "package.json"))
      .then((text) => String(JSON.parse(text).version))
      .catch(() => "0");

  app.get(`${prefix}/openapi.json`, async (c) => {
    c.header("Cache-Control", "no-cache");
    c.header("X-Content-Type-Options", "nosniff");
    c.header("Vary", "Accept-Encoding");
    const { body, encoding } = await document.pick(c.req.header("Accept-Encoding"));
    if (encoding) c.header("Content-Encoding", encoding);
    return c.body(body as Uint8Array<ArrayBuffer>, 200, {
      "Content-Type": "application/json; charset=utf-8",
    });
  });

  app.get(`${prefix}/docs`, async (c) => {
    const v = encodeURIComponent(await version());
    const asset = (name: string) => escapeHtml(`${prefix}/docs/assets/${name}?v=${v}`);
    c.header("Content-Security-Policy", DOCS_CSP);
    c.header("Cache-Control", "no-cache");
    c.header("X-Content-Type-Options", "nosniff");
    c.header("Referrer-Policy", "no-referrer");
    c.header("X-Frame-Options", "DENY");
    return c.html(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Darkroom API</title>
<link rel="stylesheet" href="${asset("swagger-ui.css")}">
<link rel="stylesheet" href="${asset("index.css")}">
<link rel="icon" type="image/png" sizes="32x32" href="${asset("favicon-32x32.png")}">
<link rel="icon" type="image/png" sizes="16x16" href="${asset("favicon-16x16.png")}">
</head>
<body>
<div id="swagger-ui"></div>
<script src="${asset("swagger-ui-bundle.js")}"></script>
<script src="${escapeHtml(`${prefix}/docs/init.js`)}"></script>
</body>
</html>
`);
  });

  app.get(`${prefix}/docs/init.js`, (c) => {
    const config = {
      url: `${prefix}/openapi.json`,
      dom_id: "#swagger-ui",
      deepLinking: true,
      layout: "BaseLayout",
      // No call to validator.swagger.io: the page must work offline.
      validatorUrl: null,
      displayRequestDuration: true,
      defaultModelsExpandDepth: 0,
    };
    const script = `"use strict";
// Swagger UI start-up, kept out of the page so its CSP can forbid inline scripts.
window.ui = SwaggerUIBundle(Object.assign(${JSON.stringify(config)}, {
  presets: [SwaggerUIBundle.presets.apis],
}));
`;
    c.header("Cache-Control", "no-cache");
    c.header("X-Content-Type-Options", "nosniff");
    return c.body(script, 200, { "Content-Type": "text/javascript; charset=utf-8" });
  });

  app.get(`${prefix}/docs/assets/:file`, async (c) => {
    const file = c.req.param("file");
    const type = Object.hasOwn(ASSETS, file) ? ASSETS[file] : undefined;
    if (!type) return c.json({ error: { code: "not_found", message: "Asset not found" } }, 404);
    c.header("Content-Type", type);
    c.header("Cache-Control", "public, max-age=31536000, immutable");
    c.header("X-Content-Type-Options", "nosniff");
    if (type.startsWith("image/")) return c.body(await read(file) as Uint8Array<ArrayBuffer>);
    let variants = compressed.get(file);
    if (!variants) compressed.set(file, variants = compressedFile(() => read(file)));
    c.header("Vary", "Accept-Encoding");
    const { body, encoding } = await variants.pick(c.req.header("Accept-Encoding"));
    if (encoding) c.header("Content-Encoding", encoding);
    return c.body(body as Uint8Array<ArrayBuffer>);
  });

  return app;
}
