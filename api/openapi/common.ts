/** Shared components: the one error shape, the error answers, and shared headers/parameters. */
import { LIMITS } from "../../shared/jobs/schemas.ts";
import { errorExample, type Json, jsonError, ref } from "./builders.ts";
import { JOB_ID } from "./examples.ts";

/** The 401 answer of an API key that is missing, wrong or revoked. */
export function unauthorized(): Json {
  return jsonError("Missing, wrong or revoked API key.", {
    missing: errorExample(
      "unauthorized",
      "An API key is required: send Authorization: Bearer <key>",
    ),
  });
}

/** Schemas of the error shape: `Error` and `FieldError`. */
export function errorSchemas(): Json {
  return {
    Error: {
      type: "object",
      description: "The one error shape of the API.",
      required: ["error"],
      properties: {
        error: {
          type: "object",
          required: ["code", "message"],
          properties: {
            code: {
              type: "string",
              description: "Stable machine-readable code.",
              examples: [
                "bad_request",
                "not_found",
                "conflict",
                "idempotency_conflict",
                "budget_exceeded",
                "forbidden",
                "payload_too_large",
                "unsupported_media_type",
                "validation_error",
                "service_unavailable",
                "internal_error",
              ],
            },
            message: { type: "string" },
            details: {
              description: "For validation errors, the list of problems; for 500s, the " +
                "request id to quote when reporting the problem.",
              anyOf: [
                { type: "array", items: ref("schemas", "FieldError") },
                { type: "object", additionalProperties: true },
              ],
            },
          },
        },
      },
    },
    FieldError: {
      type: "object",
      required: ["field", "message"],
      properties: {
        field: { type: "string", description: "Dotted path, `(body)` or a header name." },
        message: { type: "string" },
      },
    },
  };
}

/** Error answers referenced by several operations. */
export function errorResponses(): Json {
  return {
    BadRequest: jsonError("Malformed JSON, invalid UTF-8 or an empty body.", {
      malformed: errorExample(
        "bad_request",
        "Malformed JSON in request body: Expected property name or '}' in JSON at position 1",
      ),
      utf8: errorExample("bad_request", "Request body is not valid UTF-8"),
    }),
    NotFound: jsonError("No such job (unknown or malformed id).", {
      job: errorExample("not_found", `Job ${JOB_ID} not found`),
    }),
    Conflict: jsonError("The job is not in a state that allows this.", {
      finished: errorExample("conflict", `Job ${JOB_ID} is already completed`),
    }),
    PayloadTooLarge: jsonError(`The body is over ${LIMITS.bodyBytes} bytes.`, {
      too_large: errorExample(
        "payload_too_large",
        `Request body must be at most ${LIMITS.bodyBytes} bytes`,
      ),
    }),
    UnsupportedMediaType: jsonError("The body is not `application/json`.", {
      content_type: errorExample("unsupported_media_type", "Content-Type must be application/json"),
    }),
    ValidationFailed: jsonError("The input is invalid; `details` lists each problem.", {
      query: errorExample("validation_error", "Query is invalid", [
        { field: "limit", message: "limit must be at most 100" },
      ]),
    }),
    Unavailable: {
      ...jsonError(
        "The database cannot take the request right now; nothing was kept. (The queue being " +
          "away is no reason: jobs are then kept in Postgres until it returns.)",
        {
          unavailable: errorExample(
            "service_unavailable",
            "A backing service is unavailable; try again shortly",
          ),
        },
      ),
      headers: {
        "Retry-After": {
          description: "Seconds to wait before trying again.",
          schema: { type: "integer", example: 2 },
        },
      },
    },
    RequestTimeout: jsonError(
      "The request body did not arrive within `BODY_TIMEOUT_S` (the connection is closed).",
      {
        slow: errorExample("request_timeout", "The request body did not arrive within 30 s"),
      },
    ),
    InternalError: jsonError("An unexpected error (logged with the request id).", {
      internal: errorExample("internal_error", "Internal server error", {
        request_id: "0f6c2d8e-3a4b-4c5d-8e9f-a0b1c2d3e4f5",
      }),
    }),
    ImageNotFound: jsonError("No such image: unknown, or not a name this service wrote.", {
      image: errorExample("not_found", "Image not found"),
    }),
    AssetNotFound: jsonError("No such asset.", {
      asset: errorExample("not_found", "Asset not found"),
    }),
  };
}

/** Parameters any operation may take. */
export function commonParameters(): Json {
  return {
    RequestId: {
      name: "X-Request-Id",
      in: "header",
      required: false,
      description: "Your id for this request (`[A-Za-z0-9._:-]{1,128}`), echoed back and " +
        "logged; otherwise one is made up.",
      schema: { type: "string", pattern: "^[A-Za-z0-9._:-]{1,128}$" },
    },
  };
}

/** Headers shared by the file-serving routes. */
export function commonHeaders(): Json {
  return {
    ImmutableCache: {
      description: "`public, max-age=31536000, immutable` (`private, …` when API keys are on)",
      schema: { type: "string" },
    },
  };
}
