/** The documentation routes: this document and its Swagger UI viewer. */
import { html, type Json, ref } from "./builders.ts";

/** GET /openapi.json, /docs, /docs/init.js and /docs/assets/{file}. */
export function docsPaths(prefix: string): Json {
  return {
    [`${prefix}/openapi.json`]: {
      get: {
        tags: ["Documentation"],
        operationId: "openapi",
        summary: "This document",
        responses: {
          200: {
            description: "OpenAPI 3.1.",
            content: {
              "application/json": {
                schema: { type: "object" },
                example: { openapi: "3.1.1", info: { title: "Darkroom API" } },
              },
            },
          },
        },
      },
    },
    [`${prefix}/docs`]: {
      get: {
        tags: ["Documentation"],
        operationId: "docs",
        summary: "Interactive documentation (Swagger UI, served locally)",
        responses: { 200: html("The Swagger UI page.") },
      },
    },
    [`${prefix}/docs/init.js`]: {
      get: {
        tags: ["Documentation"],
        operationId: "docsInit",
        summary: "Swagger UI start-up script",
        responses: {
          200: {
            description: "JavaScript.",
            content: { "text/javascript": { schema: { type: "string" } } },
          },
        },
      },
    },
    [`${prefix}/docs/assets/{file}`]: {
      get: {
        tags: ["Documentation"],
        operationId: "docsAsset",
        summary: "Swagger UI files (from npm:swagger-ui-dist)",
        parameters: [{
          name: "file",
          in: "path",
          required: true,
          schema: {
            type: "string",
            enum: [
              "swagger-ui.css",
              "index.css",
              "swagger-ui-bundle.js",
              "favicon-16x16.png",
              "favicon-32x32.png",
            ],
          },
        }],
        responses: {
          200: {
            description: "The file, cacheable for a year (its URL carries the version).",
            headers: { "Cache-Control": ref("headers", "ImmutableCache") },
            content: {
              "text/css": { schema: { type: "string" } },
              "text/javascript": { schema: { type: "string" } },
              "image/png": { schema: { type: "string", contentMediaType: "image/png" } },
            },
          },
          404: ref("responses", "AssetNotFound"),
        },
      },
    },
  };
}
