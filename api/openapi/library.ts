/**
 * The library: stars, bulk actions and collections (api/routes/library.ts). Request schemas come
 * from the zod schemas that validate them (shared/library/schemas.ts).
 */
import { BULK_ACTIONS, BULK_MAX_IDS } from "../../shared/library/bulk.ts";
import { COLLECTION_LIMITS } from "../../shared/library/collections.ts";
import { bulkBody, collectionBody, collectionJobsBody } from "../../shared/library/schemas.ts";
import { errorExample, fromZod, type Json, json, jsonError, nullable, ref } from "./builders.ts";
import { JOB_EXAMPLE, JOB_ID, TIME } from "./examples.ts";

/** The id of every collection example. */
export const COLLECTION_ID = "3c1d9b2a-7e4f-4a6b-8c0d-1e2f3a4b5c6d";
const OTHER_ID = "7f6e5d4c-3b2a-4190-8f7e-6d5c4b3a2910";

const COLLECTION_EXAMPLE = {
  id: COLLECTION_ID,
  name: "Lighthouses",
  job_count: 12,
  cover_url: `/images/${JOB_ID}-0.thumb.webp`,
  created_at: TIME,
  updated_at: TIME,
};

const BULK_EXAMPLE = {
  action: "star",
  succeeded: 1,
  failed: 1,
  results: [
    { id: JOB_ID, ok: true },
    { id: OTHER_ID, ok: false, error: { code: "not_found", message: `Job ${OTHER_ID} not found` } },
  ],
};

/** Schemas of collections and bulk actions. */
export function librarySchemas(): Json {
  return {
    Collection: {
      type: "object",
      description: "A named set of jobs (a board), one list per API key.",
      required: ["id", "name", "job_count", "cover_url", "created_at", "updated_at"],
      properties: {
        id: { type: "string", format: "uuid" },
        name: { type: "string", minLength: 1, maxLength: COLLECTION_LIMITS.nameChars },
        job_count: { type: "integer", minimum: 0 },
        cover_url: {
          ...nullable({ type: "string" }),
          description: "The thumbnail of the newest job added that has an image.",
        },
        created_at: { type: "string", format: "date-time" },
        updated_at: { type: "string", format: "date-time" },
      },
    },
    CollectionRequest: {
      ...fromZod(collectionBody),
      description: `A name of 1–${COLLECTION_LIMITS.nameChars} characters (trimmed), unique ` +
        "per key whatever its case.",
    },
    CollectionJobsRequest: {
      ...fromZod(collectionJobsBody),
      description: `1–${BULK_MAX_IDS} job ids.`,
    },
    BulkRequest: {
      ...fromZod(bulkBody),
      description: `1–${BULK_MAX_IDS} job ids and what to do to each; \`collection\` (one of ` +
        "the caller's) for `add_to` and `remove_from`.",
    },
    BulkResult: {
      description: "What happened to one id: done, or `not_found` (unknown, malformed, or " +
        "another key's job).",
      oneOf: [
        {
          type: "object",
          required: ["id", "ok"],
          properties: { id: { type: "string" }, ok: { const: true } },
        },
        {
          type: "object",
          required: ["id", "ok", "error"],
          properties: {
            id: { type: "string" },
            ok: { const: false },
            error: {
              type: "object",
              required: ["code", "message"],
              properties: { code: { const: "not_found" }, message: { type: "string" } },
            },
          },
        },
      ],
    },
    BulkAnswer: {
      type: "object",
      required: ["action", "results", "succeeded", "failed"],
      properties: {
        action: { type: "string", enum: [...BULK_ACTIONS] },
        results: {
          type: "array",
          items: ref("schemas", "BulkResult"),
          description: "One per id sent, in order (a repeated id once).",
        },
        succeeded: { type: "integer", minimum: 0 },
        failed: { type: "integer", minimum: 0 },
      },
    },
  };
}

const COMMON = {
  503: ref("responses", "Unavailable"),
  500: ref("responses", "InternalError"),
};

const BODY_ERRORS = {
  400: ref("responses", "BadRequest"),
  413: ref("responses", "PayloadTooLarge"),
  415: ref("responses", "UnsupportedMediaType"),
};

const COLLECTION_PARAM = {
  name: "collection_id",
  in: "path",
  required: true,
  description: "The collection's UUID (another key's, or any other value, is answered 404).",
  schema: { type: "string", format: "uuid" },
  example: COLLECTION_ID,
};

const NO_COLLECTION = jsonError("No such collection (unknown, malformed or another key's).", {
  collection: errorExample("not_found", `Collection ${COLLECTION_ID} not found`),
});

const NAME_TAKEN = jsonError("The caller has a collection of that name already.", {
  taken: errorExample("conflict", 'A collection named "Lighthouses" exists already'),
});

function body(schema: string, example: unknown): Json {
  return {
    required: true,
    content: { "application/json": { schema: ref("schemas", schema), example } },
  };
}

/** The star, bulk and collection operations. */
export function libraryPaths(prefix: string): Json {
  const star = (starred: boolean) => ({
    tags: ["Library"],
    operationId: starred ? "starJob" : "unstarJob",
    summary: starred ? "Star a job" : "Unstar a job",
    description: "Idempotent; the job's `starred` changes (and the live feed says so).",
    parameters: [ref("parameters", "JobId")],
    responses: {
      200: json("The job.", ref("schemas", "Job"), { ...JOB_EXAMPLE, starred }),
      404: ref("responses", "NotFound"),
      ...COMMON,
    },
  });
  return {
    [`${prefix}/jobs/{job_id}/star`]: { post: star(true), delete: star(false) },
    [`${prefix}/jobs/bulk`]: {
      post: {
        tags: ["Library"],
        operationId: "bulkJobs",
        summary: "Act on many jobs",
        description: "`delete`, `star`, `unstar`, `add_to` or `remove_from` a collection, on " +
          `up to ${BULK_MAX_IDS} jobs, each on its own: the answer has one result per id. A ` +
          "job the caller may not see is `not_found` and left alone.",
        requestBody: body("BulkRequest", { ids: [JOB_ID, OTHER_ID], action: "star" }),
        responses: {
          200: json("A result per id.", ref("schemas", "BulkAnswer"), BULK_EXAMPLE),
          ...BODY_ERRORS,
          422: jsonError("The body is invalid, or its collection is not the caller's.", {
            fields: errorExample("validation_error", "Request body is invalid", [
              { field: "action", message: `action must be one of ${BULK_ACTIONS.join(", ")}` },
            ]),
          }),
          ...COMMON,
        },
      },
    },
    [`${prefix}/collections`]: {
      get: {
        tags: ["Library"],
        operationId: "listCollections",
        summary: "List the caller's collections",
        description: "By name. An admin key sees its own collections (and every job).",
        responses: {
          200: json("The collections.", {
            type: "array",
            items: ref("schemas", "Collection"),
          }, [COLLECTION_EXAMPLE]),
          ...COMMON,
        },
      },
      post: {
        tags: ["Library"],
        operationId: "createCollection",
        summary: "Create a collection",
        description: `At most ${COLLECTION_LIMITS.perOwner} per key. Filter jobs by it with ` +
          `GET ${prefix}/jobs?collection={collection_id}.`,
        requestBody: body("CollectionRequest", { name: "Lighthouses" }),
        responses: {
          201: json(
            "Created.",
            ref("schemas", "Collection"),
            { ...COLLECTION_EXAMPLE, job_count: 0, cover_url: null },
            { Location: { description: "The collection's URL.", schema: { type: "string" } } },
          ),
          ...BODY_ERRORS,
          409: NAME_TAKEN,
          422: ref("responses", "ValidationFailed"),
          ...COMMON,
        },
      },
    },
    [`${prefix}/collections/{collection_id}`]: {
      get: {
        tags: ["Library"],
        operationId: "getCollection",
        summary: "Read a collection",
        parameters: [COLLECTION_PARAM],
        responses: {
          200: json("The collection.", ref("schemas", "Collection"), COLLECTION_EXAMPLE),
          404: NO_COLLECTION,
          ...COMMON,
        },
      },
      patch: {
        tags: ["Library"],
        operationId: "renameCollection",
        summary: "Rename a collection",
        parameters: [COLLECTION_PARAM],
        requestBody: body("CollectionRequest", { name: "Harbours" }),
        responses: {
          200: json("The collection.", ref("schemas", "Collection"), {
            ...COLLECTION_EXAMPLE,
            name: "Harbours",
          }),
          ...BODY_ERRORS,
          404: NO_COLLECTION,
          409: NAME_TAKEN,
          422: ref("responses", "ValidationFailed"),
          ...COMMON,
        },
      },
      delete: {
        tags: ["Library"],
        operationId: "deleteCollection",
        summary: "Delete a collection",
        description: "The collection only: its jobs stay.",
        parameters: [COLLECTION_PARAM],
        responses: { 204: { description: "Deleted." }, 404: NO_COLLECTION, ...COMMON },
      },
    },
    [`${prefix}/collections/{collection_id}/jobs`]: {
      post: {
        tags: ["Library"],
        operationId: "addToCollection",
        summary: "Add jobs to a collection",
        description: "Like POST /jobs/bulk with `add_to`: a result per id; a job there already " +
          "stays as it was.",
        parameters: [COLLECTION_PARAM],
        requestBody: body("CollectionJobsRequest", { ids: [JOB_ID] }),
        responses: {
          200: json("A result per id.", ref("schemas", "BulkAnswer"), {
            ...BULK_EXAMPLE,
            action: "add_to",
          }),
          ...BODY_ERRORS,
          404: NO_COLLECTION,
          422: ref("responses", "ValidationFailed"),
          ...COMMON,
        },
      },
    },
    [`${prefix}/collections/{collection_id}/jobs/{job_id}`]: {
      delete: {
        tags: ["Library"],
        operationId: "removeFromCollection",
        summary: "Take a job out of a collection",
        description: "The job stays (only its place in the collection goes).",
        parameters: [COLLECTION_PARAM, ref("parameters", "JobId")],
        responses: {
          204: { description: "Removed (or was not in it)." },
          404: jsonError("No such collection, or no such job for the caller.", {
            collection: errorExample("not_found", `Collection ${COLLECTION_ID} not found`),
            job: errorExample("not_found", `Job ${JOB_ID} not found`),
          }),
          ...COMMON,
        },
      },
    },
  };
}
