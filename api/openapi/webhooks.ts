/** Webhooks: a job's outgoing deliveries, and the incoming Replicate and fal webhooks. */
import { errorExample, type Json, json, jsonError } from "./builders.ts";
import { unauthorized } from "./common.ts";

/** GET /jobs/{job_id}/webhooks, POST /webhooks/replicate and POST /webhooks/fal. */
export function webhookPaths(prefix: string): Json {
  return {
    [`${prefix}/jobs/{job_id}/webhooks`]: {
      get: {
        tags: ["Jobs"],
        operationId: "listWebhookDeliveries",
        summary: "Outgoing webhook deliveries of a job (state, attempts, last answer)",
        description: "A job submitted with `webhook_url` gets a signed POST (Standard Webhooks: " +
          "`webhook-id`, `webhook-timestamp`, `webhook-signature`, HMAC-SHA256 with the key's " +
          "whsec_ secret) on each terminal state in `webhook_events`, retried with backoff.",
        parameters: [{
          name: "job_id",
          in: "path",
          required: true,
          schema: { type: "string", format: "uuid" },
        }],
        responses: {
          200: json("Deliveries, oldest first.", {
            type: "array",
            items: {
              type: "object",
              properties: {
                id: { type: "string", format: "uuid" },
                event: { type: "string", enum: ["completed", "failed", "canceled"] },
                url: { type: "string" },
                state: { type: "string", enum: ["pending", "delivered", "failed"] },
                attempts: { type: "integer" },
                last_status: { type: ["integer", "null"] },
                last_error: { type: ["string", "null"] },
                next_attempt_at: { type: ["string", "null"], format: "date-time" },
                created_at: { type: "string", format: "date-time" },
                delivered_at: { type: ["string", "null"], format: "date-time" },
              },
            },
          }, [{
            id: "0b6f4c1e-2d8a-4c55-9a43-1f0f8e2b6b1d",
            event: "completed",
            url: "https://hooks.example.com/darkroom",
            state: "delivered",
            attempts: 1,
            last_status: 200,
            last_error: null,
            next_attempt_at: null,
            created_at: "2026-11-25T14:00:03.000Z",
            delivered_at: "2026-11-25T14:00:03.120Z",
          }]),
          401: unauthorized(),
          404: jsonError("No such job (or another key's).", {
            missing: errorExample("not_found", "Job 5b7c… not found"),
          }),
        },
      },
    },
    [`${prefix}/webhooks/replicate`]: {
      post: {
        tags: ["Operations"],
        operationId: "replicateWebhook",
        summary: "Prediction updates pushed by Replicate (signed; needs REPLICATE_WEBHOOK_SECRET)",
        security: [{}],
        parameters: ["webhook-id", "webhook-timestamp", "webhook-signature"].map((name) => ({
          name,
          in: "header",
          required: true,
          schema: { type: "string" },
        })),
        requestBody: {
          required: true,
          content: { "application/json": { schema: { type: "object" } } },
        },
        responses: {
          200: json("Accepted, ignored (unknown prediction) or a duplicate delivery.", {
            type: "object",
            properties: { status: { type: "string", enum: ["accepted", "ignored", "duplicate"] } },
          }, { status: "accepted" }),
          400: jsonError("Malformed JSON.", { bad: errorExample("bad_request", "Malformed JSON") }),
          401: jsonError("Signature missing, wrong or too old.", {
            forged: errorExample("invalid_signature", "Webhook signature does not match"),
          }),
          404: jsonError("Webhooks are off (no secret configured).", {
            off: errorExample("not_found", "Replicate webhooks are not configured"),
          }),
          413: jsonError("Body over 1 MB.", {
            big: errorExample("payload_too_large", "Webhook body must be at most 1048576 bytes"),
          }),
          422: jsonError("Not a prediction.", {
            shape: errorExample("validation_error", "Webhook body is not a prediction"),
          }),
        },
      },
    },
    [`${prefix}/webhooks/fal`]: {
      post: {
        tags: ["Operations"],
        operationId: "falWebhook",
        summary: "Request completions pushed by fal (`fal_webhook`; ED25519-signed; needs FAL_KEY)",
        description: "Sent by fal when a request made with PUBLIC_BASE_URL set completes. The " +
          "signature (hex ED25519 over `request_id\\nuser_id\\ntimestamp\\nsha256(body)`) " +
          "is checked against fal's JWKS (FAL_JWKS_URL, cached for a day); timestamps more " +
          "than 5 minutes away are refused. The worker waiting on the request is woken to fetch " +
          "and store its result.",
        security: [{}],
        parameters: [
          "X-Fal-Webhook-Request-Id",
          "X-Fal-Webhook-User-Id",
          "X-Fal-Webhook-Timestamp",
          "X-Fal-Webhook-Signature",
        ].map((name) => ({ name, in: "header", required: true, schema: { type: "string" } })),
        requestBody: {
          required: true,
          content: {
            "application/json": {
              schema: {
                type: "object",
                required: ["status"],
                properties: {
                  request_id: { type: "string" },
                  status: { enum: ["OK", "ERROR"] },
                  payload: {},
                  error: { type: "string" },
                },
              },
            },
          },
        },
        responses: {
          200: json("Accepted, ignored (unknown request) or a duplicate delivery.", {
            type: "object",
            properties: { status: { type: "string", enum: ["accepted", "ignored", "duplicate"] } },
          }, { status: "accepted" }),
          400: jsonError("Malformed JSON.", { bad: errorExample("bad_request", "Malformed JSON") }),
          401: jsonError("Signature missing, wrong or too old.", {
            forged: errorExample("invalid_signature", "No matching webhook signature"),
          }),
          404: jsonError("fal is off (no FAL_KEY).", {
            off: errorExample("not_found", "fal webhooks are not enabled"),
          }),
          413: jsonError("Body over 1 MB.", {
            big: errorExample("payload_too_large", "Webhook body must be at most 1048576 bytes"),
          }),
          422: jsonError("Not a fal result for the signed request.", {
            shape: errorExample(
              "validation_error",
              "Webhook body must be a fal result with the signed request_id and a status",
            ),
          }),
          503: jsonError("fal's keys cannot be read now (fal retries).", {
            keys: errorExample(
              "service_unavailable",
              "Cannot verify fal webhooks right now; retry later",
            ),
          }),
        },
      },
    },
  };
}
