/** The browser UI: its HTML shell and its bundle. */
import { html, type Json, ref } from "./builders.ts";

/** GET / and /assets/{file} (outside the API prefix). */
export function uiPaths(): Json {
  return {
    "/": {
      get: {
        tags: ["UI"],
        operationId: "ui",
        summary: "The browser UI",
        responses: { 200: html("The UI's HTML shell (or how to build it).") },
      },
    },
    "/assets/{file}": {
      get: {
        tags: ["UI"],
        operationId: "uiAsset",
        summary: "The browser UI's bundle",
        parameters: [{
          name: "file",
          in: "path",
          required: true,
          schema: { type: "string", pattern: "^[A-Za-z0-9][A-Za-z0-9._-]{0,200}$" },
        }],
        responses: {
          200: {
            description: "A hashed, immutable asset (JS, CSS, images, fonts).",
            headers: { "Cache-Control": ref("headers", "ImmutableCache") },
            content: { "*/*": { schema: { type: "string" } } },
          },
          404: ref("responses", "AssetNotFound"),
        },
      },
    },
  };
}
