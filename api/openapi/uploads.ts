/** POST /uploads, GET and DELETE /uploads/{upload_id}, and the image at /uploads/{upload_id}. */
import { errorExample, type Json, json, jsonError, ref } from "./builders.ts";
import { TIME } from "./examples.ts";

/** The id of every upload example. */
export const UPLOAD_ID = "9d2e7c41-0b6a-4f3e-8c5d-2a1b0c9d8e7f";

const UPLOAD_EXAMPLE = {
  id: UPLOAD_ID,
  url: `/uploads/${UPLOAD_ID}`,
  content_type: "image/png",
  width: 1024,
  height: 768,
  bytes: 482113,
  created_at: TIME,
  expires_at: "2025-03-05T05:06:07.000Z",
};

const IMAGE_TYPES = ["image/png", "image/jpeg", "image/webp", "image/gif"];

/** The `Upload` and `InputImage` schemas. */
export function uploadSchemas(): Json {
  return {
    Upload: {
      type: "object",
      required: [
        "id",
        "url",
        "content_type",
        "width",
        "height",
        "bytes",
        "created_at",
        "expires_at",
      ],
      properties: {
        id: { type: "string", format: "uuid" },
        url: {
          type: "string",
          description:
            "Where the image is served to its owner (GET /uploads/{upload_id} with the " +
            "key in Authorization). Put this, or `upload:<id>`, in an image input.",
        },
        content_type: { type: "string", enum: IMAGE_TYPES },
        width: { anyOf: [{ type: "integer", minimum: 1 }, { type: "null" }] },
        height: { anyOf: [{ type: "integer", minimum: 1 }, { type: "null" }] },
        bytes: { type: "integer", minimum: 1 },
        created_at: { type: "string", format: "date-time" },
        expires_at: {
          type: "string",
          format: "date-time",
          description: "Removed after this (UPLOAD_TTL_S) unless a job uses it; a job keeps it " +
            "as long as the job exists, and deleting that job deletes it.",
        },
      },
    },
    InputImage: {
      type: "object",
      required: ["field", "upload_id", "url"],
      properties: {
        field: {
          type: "string",
          description: "The image input, with an index for a list (`image_input.1`).",
        },
        upload_id: { anyOf: [{ type: "string", format: "uuid" }, { type: "null" }] },
        url: {
          anyOf: [{ type: "string" }, { type: "null" }],
          description: "`/uploads/<id>` for an upload, the https URL as sent, or null for a " +
            "data: URI.",
        },
      },
    },
  };
}

/** The upload paths: the API's under `prefix`, the image itself at /uploads/{upload_id}. */
export function uploadPaths(prefix: string): Json {
  const id = {
    name: "upload_id",
    in: "path",
    required: true,
    description: "The upload's id.",
    schema: { type: "string", format: "uuid" },
    example: UPLOAD_ID,
  };
  const notFound = jsonError(
    "No such upload: unknown, expired, or another key's.",
    { upload: errorExample("not_found", `Upload ${UPLOAD_ID} not found`) },
  );
  const binary = Object.fromEntries(
    IMAGE_TYPES.map((t) => [t, { schema: { type: "string", contentMediaType: t } }]),
  );
  return {
    [`${prefix}/uploads`]: {
      post: {
        tags: ["Uploads"],
        operationId: "createUpload",
        summary: "Upload an image for an image input",
        description: "Send the image as the raw body (any content type: the type is read from " +
          "the magic bytes) or as multipart field `file`. PNG, JPEG, WebP and GIF are taken, at " +
          "most UPLOAD_MAX_BYTES (20 MB by default). Use the answer's `url` (or `upload:<id>`) " +
          "in an image input of POST /generate; the upload belongs to your key.",
        requestBody: {
          required: true,
          content: {
            ...binary,
            "application/octet-stream": { schema: { type: "string", format: "binary" } },
            "multipart/form-data": {
              schema: {
                type: "object",
                required: ["file"],
                properties: { file: { type: "string", format: "binary" } },
              },
            },
          },
        },
        responses: {
          201: json("Stored.", ref("schemas", "Upload"), UPLOAD_EXAMPLE, {
            Location: { schema: { type: "string" }, description: "The upload's API path." },
          }),
          400: jsonError("An empty body, or a form without `file`.", {
            empty: errorExample(
              "bad_request",
              'The upload is empty: send the image as the body, or as multipart field "file"',
            ),
          }),
          413: jsonError("The image is over UPLOAD_MAX_BYTES.", {
            too_large: errorExample(
              "payload_too_large",
              "Request body must be at most 20971520 bytes",
            ),
          }),
          415: jsonError("Not a PNG, JPEG, WebP or GIF image.", {
            not_image: errorExample(
              "unsupported_media_type",
              "The upload is not an image this service takes (PNG, JPEG, WebP or GIF)",
            ),
          }),
          503: ref("responses", "Unavailable"),
          500: ref("responses", "InternalError"),
        },
      },
    },
    [`${prefix}/uploads/{upload_id}`]: {
      get: {
        tags: ["Uploads"],
        operationId: "getUpload",
        summary: "An upload's details",
        parameters: [id],
        responses: {
          200: json("The upload.", ref("schemas", "Upload"), UPLOAD_EXAMPLE),
          404: notFound,
          500: ref("responses", "InternalError"),
        },
      },
      delete: {
        tags: ["Uploads"],
        operationId: "deleteUpload",
        summary: "Delete an upload no job uses",
        parameters: [id],
        responses: {
          204: { description: "Deleted, with its file." },
          404: notFound,
          409: jsonError("A job uses it: it goes when that job is deleted.", {
            used: errorExample(
              "conflict",
              `Upload ${UPLOAD_ID} is used by a job; delete the job first`,
            ),
          }),
          500: ref("responses", "InternalError"),
        },
      },
    },
    "/uploads/{upload_id}": {
      get: {
        tags: ["Uploads"],
        operationId: "getUploadImage",
        summary: "An uploaded image",
        description: "To its owner (the API key in Authorization), or to anyone with a signed " +
          "URL (`expires` and `signature`, made by the worker for providers when " +
          "PUBLIC_BASE_URL is set; valid UPLOAD_URL_TTL_S seconds). Served with " +
          "`Content-Security-Policy: default-src 'none'; sandbox`.",
        parameters: [
          id,
          {
            name: "expires",
            in: "query",
            required: false,
            description: "Signed URLs: until when (Unix seconds).",
            schema: { type: "string", pattern: "^\\d+$" },
          },
          {
            name: "signature",
            in: "query",
            required: false,
            description: "Signed URLs: HMAC-SHA256 of `<id>.<expires>`, base64url.",
            schema: { type: "string" },
          },
        ],
        responses: {
          200: { description: "The image.", content: binary },
          401: jsonError("No key (and no signature).", {
            missing: errorExample(
              "unauthorized",
              "An API key is required: send Authorization: Bearer <key>",
            ),
          }),
          403: jsonError("The signature is wrong or has expired.", {
            signature: errorExample(
              "forbidden",
              "The signed upload URL is invalid or has expired",
            ),
          }),
          404: notFound,
          500: ref("responses", "InternalError"),
        },
      },
    },
  };
}
