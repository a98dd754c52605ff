/**
 * POST /webhooks/replicate: Replicate's prediction webhooks, signed with Standard Webhooks. A
 * delivery only moves the progress of the job waiting on that prediction and wakes workers
 * (NOTIFY darkroom_prediction) when the prediction is finished; the worker still downloads the
 * outputs and finishes the job, so a lost webhook costs time, never a result.
 */
import { Hono } from "hono";
import { type Db, sql } from "../../shared/db/db.ts";
import type { Logger } from "../../shared/logger.ts";
import { parseProgress } from "../../shared/providers/progress.ts";
import {
  decodeWebhookSecret,
  verifyWebhook,
  WebhookVerificationError,
} from "../../shared/webhooks/signature.ts";
import type { AppEnv } from "../app.ts";
import { readRawBody } from "../body.ts";
import { errorBody } from "../http_errors.ts";

/** Largest webhook body accepted (a prediction with long logs and many output URLs fits). */
export const MAX_WEBHOOK_BYTES = 1024 * 1024;
/** The channel a worker LISTENs on; the payload is the prediction id. */
export const PREDICTION_CHANNEL = "darkroom_prediction";

const TERMINAL = new Set(["succeeded", "failed", "canceled", "aborted"]);
const MAX_ID_LENGTH = 256;

export interface WebhookDeps {
  db: Db;
  logger: Logger;
  /** Replicate's signing secret (`whsec_...`); without one the endpoint answers 404. */
  secret: string | undefined;
}

/** The fields of a Replicate prediction that a webhook delivery uses. */
export interface WebhookPrediction {
  id: string;
  status: string;
  logs: string | null;
}

/** What became of one delivery. */
export type WebhookOutcome = "accepted" | "ignored" | "duplicate";

/**
 * Routes mounted under the API prefix. Throws at once when `secret` is set but is not a
 * `whsec_...` secret, so a misconfiguration stops start-up instead of refusing every delivery.
 */
export function webhookRoutes(deps: WebhookDeps): Hono<AppEnv> {
  const secret = deps.secret || undefined;
  if (secret) decodeWebhookSecret(secret);
  const app = new Hono<AppEnv>();

  app.post("/webhooks/replicate", async (c) => {
    const log = c.get("logger") ?? deps.logger;
    if (!secret) {
      return c.json(errorBody("not_found", "Replicate webhooks are not enabled"), 404);
    }
    const body = await readRawBody(c.req.raw, MAX_WEBHOOK_BYTES);
    if (body === "too_large") {
      return c.json(
        errorBody("payload_too_large", `Request body must be at most ${MAX_WEBHOOK_BYTES} bytes`),
        413,
      );
    }
    if (body === "unreadable") {
      return c.json(errorBody("bad_request", "Could not read the request body"), 400);
    }

    try {
      await verifyWebhook(secret, c.req.raw.headers, body);
    } catch (err) {
      const reason = err instanceof WebhookVerificationError ? err.reason : "error";
      log.warn("webhook refused", { reason, webhookId: c.req.header("webhook-id") });
      const message = err instanceof WebhookVerificationError
        ? err.message
        : "Webhook signature verification failed";
      return c.json(errorBody("invalid_signature", message), 401);
    }

    const webhookId = c.req.header("webhook-id") ?? "";
    if (webhookId.length > MAX_ID_LENGTH) {
      return c.json(errorBody("bad_request", "webhook-id header is too long"), 400);
    }
    let json: unknown;
    try {
      json = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(body));
    } catch {
      return c.json(errorBody("bad_request", "Malformed JSON in request body"), 400);
    }
    const prediction = predictionOf(json);
    if (!prediction) {
      return c.json(
        errorBody("validation_error", "Webhook body must be a prediction with an id and a status"),
        422,
      );
    }

    const outcome = await recordDelivery(deps.db, webhookId, prediction);
    log.debug("webhook received", {
      webhookId,
      predictionId: prediction.id,
      predictionStatus: prediction.status,
      outcome,
    });
    return c.json({ status: outcome }, 200);
  });

  return app;
}

/**
 * Applies one verified delivery in a transaction: claims its webhook id (a repeat is a
 * duplicate and changes nothing), raises the progress of the processing job waiting on the
 * prediction, and notifies workers when the prediction is finished.
 */
export async function recordDelivery(
  db: Db,
  webhookId: string,
  prediction: WebhookPrediction,
): Promise<WebhookOutcome> {
  return await db.transaction(async (tx) => {
    const claimed = await tx.query(sql`
      INSERT INTO webhook_receipts (webhook_id) VALUES (${webhookId})
      ON CONFLICT DO NOTHING RETURNING webhook_id`);
    if (claimed.length === 0) return "duplicate";
    const waiting = await tx.query(sql`
      SELECT id FROM jobs WHERE provider_prediction_id = ${prediction.id} AND status = 'processing'`);
    if (waiting.length === 0) return "ignored";
    const progress = prediction.logs ? parseProgress(prediction.logs) : null;
    if (progress !== null) {
      await tx.query(sql`
        UPDATE jobs SET progress = ${progress}::real, updated_at = now()
        WHERE provider_prediction_id = ${prediction.id} AND status = 'processing'
          AND progress < ${progress}::real`);
    }
    if (TERMINAL.has(prediction.status)) {
      // Delivered at COMMIT, so a woken worker sees this transaction's writes.
      await tx.query(sql`SELECT pg_notify(${PREDICTION_CHANNEL}, ${prediction.id})`);
    }
    return "accepted";
  });
}

/** The prediction in a webhook body, or null when the body is not one. */
function predictionOf(json: unknown): WebhookPrediction | null {
  if (typeof json !== "object" || json === null || Array.isArray(json)) return null;
  const { id, status, logs } = json as Record<string, unknown>;
  if (typeof id !== "string" || id === "" || id.length > MAX_ID_LENGTH || id.includes("\0")) {
    return null;
  }
  if (typeof status !== "string") return null;
  return { id, status, logs: typeof logs === "string" ? logs : null };
}
