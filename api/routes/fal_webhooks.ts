/**
 * POST /webhooks/fal: fal's `fal_webhook` deliveries (sent when a request completes, while
 * PUBLIC_BASE_URL is set), signed with ED25519 (shared/webhooks/fal_signature.ts). A verified
 * delivery is applied like Replicate's (shared/webhooks/receipts.ts): claimed once per request,
 * and the worker waiting on the request is woken to fetch and store its result.
 */
import { Hono } from "hono";
import type { Db } from "../../shared/db/db.ts";
import {
  BadRequestError,
  NotFoundError,
  UnauthorizedError,
  UnavailableError,
  ValidationError,
} from "../../shared/errors.ts";
import type { Logger } from "../../shared/logger.ts";
import {
  createFalVerifier,
  type FalVerifier,
  JwksUnavailableError,
} from "../../shared/webhooks/fal_signature.ts";
import { recordDelivery } from "../../shared/webhooks/receipts.ts";
import { WebhookVerificationError } from "../../shared/webhooks/signature.ts";
import type { AppEnv } from "../app.ts";
import { readBody } from "../body.ts";
import { MAX_WEBHOOK_BYTES } from "./webhooks.ts";

const MAX_ID_LENGTH = 256;

export interface FalWebhookDeps {
  db: Db;
  logger: Logger;
  /** FAL_KEY: without it fal is off and the endpoint answers 404. */
  falKey: string | undefined;
  /** FAL_JWKS_URL. */
  jwksUrl: string | undefined;
  /** A verifier of one's own (tests); made from `jwksUrl` otherwise. */
  verifier?: FalVerifier;
}

/** Routes mounted under the API prefix. */
export function falWebhookRoutes(deps: FalWebhookDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const verifier = deps.falKey
    ? deps.verifier ??
      createFalVerifier({ jwksUrl: deps.jwksUrl ?? "https://rest.fal.ai/.well-known/jwks.json" })
    : undefined;

  app.post("/webhooks/fal", async (c) => {
    const log = c.get("logger") ?? deps.logger;
    if (!verifier) throw new NotFoundError("fal webhooks are not enabled");
    const body = await readBody(c, MAX_WEBHOOK_BYTES);
    let requestId: string;
    try {
      ({ requestId } = await verifier.verify(c.req.raw.headers, body));
    } catch (err) {
      if (err instanceof JwksUnavailableError) {
        log.warn("fal webhook not verified: no keys", { err });
        throw new UnavailableError("Cannot verify fal webhooks right now; retry later");
      }
      const reason = err instanceof WebhookVerificationError ? err.reason : "error";
      log.warn("fal webhook refused", {
        reason,
        requestId: c.req.header("x-fal-webhook-request-id")?.slice(0, MAX_ID_LENGTH),
      });
      const message = err instanceof WebhookVerificationError
        ? err.message
        : "Webhook signature verification failed";
      throw new UnauthorizedError(message, "invalid_signature");
    }
    if (requestId.length > MAX_ID_LENGTH || requestId.includes("\0")) {
      throw new BadRequestError("X-Fal-Webhook-Request-Id is too long");
    }
    let json: unknown;
    try {
      json = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(body));
    } catch {
      throw new BadRequestError("Malformed JSON in request body");
    }
    const delivery = deliveryOf(json);
    if (!delivery || (delivery.requestId !== null && delivery.requestId !== requestId)) {
      throw new ValidationError(
        "Webhook body must be a fal result with the signed request_id and a status",
      );
    }
    // One completion per request: a redelivery of it is a duplicate.
    const outcome = await recordDelivery(deps.db, `fal:${requestId}`, {
      id: requestId,
      status: delivery.ok ? "succeeded" : "failed",
      logs: null,
    });
    log.debug("fal webhook received", { requestId, ok: delivery.ok, outcome });
    return c.json({ status: outcome }, 200);
  });

  return app;
}

/** `{request_id, status: "OK" | "ERROR", payload, error}`, or null when the body is not one. */
function deliveryOf(json: unknown): { requestId: string | null; ok: boolean } | null {
  if (typeof json !== "object" || json === null || Array.isArray(json)) return null;
  const { request_id, status } = json as Record<string, unknown>;
  if (status !== "OK" && status !== "ERROR") return null;
  if (request_id !== undefined && typeof request_id !== "string") return null;
  return { requestId: request_id ?? null, ok: status === "OK" };
}
