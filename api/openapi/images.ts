/** GET and HEAD /images/{file}: stored outputs, with caching, validators and byte ranges. */
import { errorExample, type Json, jsonError, ref } from "./builders.ts";
import { JOB_ID } from "./examples.ts";

/** GET and HEAD /images/{file} (outside the API prefix). */
export function imagePaths(): Json {
  const common = {
    tags: ["Images"],
    parameters: [
      {
        name: "file",
        in: "path",
        required: true,
        description: "A file name from a job's `images[].url`.",
        schema: { type: "string", pattern: "^[^/]+\\.(png|jpe?g|webp|gif)$" },
        example: `${JOB_ID}-0.png`,
      },
      ...[
        ["Range", "A single byte range, e.g. `bytes=0-1023`."],
        ["If-None-Match", "Answer 304 when the ETag still matches."],
        ["If-Modified-Since", "Answer 304 when the file is not newer."],
        ["If-Range", "Apply the Range only while this validator matches."],
      ].map(([name, description]) => ({
        name,
        in: "header",
        required: false,
        description,
        schema: { type: "string" },
      })),
    ],
  };
  const fileHeaders = {
    ETag: { schema: { type: "string" } },
    "Last-Modified": { schema: { type: "string" } },
    "Cache-Control": ref("headers", "ImmutableCache"),
    "Accept-Ranges": { schema: { const: "bytes" } },
  };
  const binary = Object.fromEntries(
    ["image/png", "image/jpeg", "image/webp", "image/gif"].map((t) => [t, {
      schema: { type: "string", contentMediaType: t },
    }]),
  );
  const responses = (withBody: boolean) => ({
    200: {
      description: "The image.",
      headers: fileHeaders,
      ...(withBody ? { content: binary } : {}),
    },
    206: {
      description: "The requested byte range.",
      headers: { ...fileHeaders, "Content-Range": { schema: { type: "string" } } },
      ...(withBody ? { content: binary } : {}),
    },
    302: {
      description: "IMAGE_DELIVERY=redirect: the image is fetched from the bucket (a presigned " +
        "URL valid IMAGE_URL_TTL_S seconds, or PUBLIC_IMAGE_BASE_URL/<key>).",
      headers: {
        Location: { schema: { type: "string", format: "uri" } },
        "Cache-Control": { schema: { type: "string" } },
      },
    },
    304: { description: "Not modified.", headers: fileHeaders },
    404: ref("responses", "ImageNotFound"),
    416: jsonError("The range is outside the file.", {
      range: errorExample("range_not_satisfiable", "Requested range not satisfiable"),
    }),
  });
  return {
    "/images/{file}": {
      get: {
        ...common,
        operationId: "getImage",
        summary: "A stored image",
        description: "Long-lived caching, validators, 304 and single byte ranges; or, with " +
          "IMAGE_DELIVERY=redirect, a 302 to the bucket. Every answer carries " +
          "`Content-Security-Policy: default-src 'none'; sandbox`. A missing " +
          "thumbnail (`<name>.thumb.webp`) of a stored image is made on first request.",
        responses: responses(true),
      },
      head: {
        ...common,
        operationId: "headImage",
        summary: "A stored image's headers",
        responses: responses(false),
      },
    },
  };
}
