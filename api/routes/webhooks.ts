/**
 * POST /webhooks/replicate: Replicate's prediction webhooks, signed with Standard Webhooks. The
 * route checks and parses a delivery; shared/webhooks/receipts.ts applies it (progress, and a
 * wake-up for workers when the prediction is finished).
 */
import { Hono } from "hono";
import type { Db } from "../../shared/db/db.ts";
import {
  BadRequestError,
  NotFoundError,
  UnauthorizedError,
  ValidationError,
} from "../../shared/errors.ts";
import type { Logger } from "../../shared/logger.ts";
import { recordDelivery, type WebhookPrediction } from "../../shared/webhooks/receipts.ts";
import {
  decodeWebhookSecret,
  verifyWebhook,
  WebhookVerificationError,
} from "../../shared/webhooks/signature.ts";
import type { AppEnv } from "../app.ts";
import { readBody } from "../body.ts";

/** Largest webhook body accepted (a prediction with long logs and many output URLs fits). */
export const MAX_WEBHOOK_BYTES = 1024 * 1024;

const MAX_ID_LENGTH = 256;

export interface WebhookDeps {
  db: Db;
  logger: Logger;
  /** Replicate's signing secret (`whsec_...`); without one the endpoint answers 404. */
  secret: string | undefined;
}

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
    if (!secret) throw new NotFoundError("Replicate webhooks are not enabled");
    const body = await readBody(c, MAX_WEBHOOK_BYTES);

    try {
      await verifyWebhook(secret, c.req.raw.headers, body);
    } catch (err) {
      const reason = err instanceof WebhookVerificationError ? err.reason : "error";
      log.warn("webhook refused", { reason, webhookId: c.req.header("webhook-id") });
      const message = err instanceof WebhookVerificationError
        ? err.message
        : "Webhook signature verification failed";
      throw new UnauthorizedError(message, "invalid_signature");
    }

    const webhookId = c.req.header("webhook-id") ?? "";
    if (webhookId.length > MAX_ID_LENGTH) {
      throw new BadRequestError("webhook-id header is too long");
    }
    let json: unknown;
    try {
      json = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(body));
    } catch {
      throw new BadRequestError("Malformed JSON in request body");
    }
    const prediction = predictionOf(json);
    if (!prediction) {
      throw new ValidationError("Webhook body must be a prediction with an id and a status");
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
