/**
 * Incoming provider webhooks (Replicate's prediction deliveries): each delivery is claimed once
 * by its webhook id, raises the progress of the job waiting on the prediction, and wakes workers
 * with a NOTIFY on PREDICTION_CHANNEL when the prediction is finished. The worker still fetches
 * the prediction and finishes the job, so a lost webhook costs time, never a result.
 */
import { type Db, sql } from "../db/db.ts";
import { isPredictionAwaited, raisePredictionProgress } from "../jobs/repo.ts";
import { parseProgress } from "../providers/progress.ts";
import { isFinished, type PredictionStatus } from "../providers/provider.ts";

/** The Postgres channel announcing a finished prediction; the payload is the prediction id. */
export const PREDICTION_CHANNEL = "darkroom_prediction";

/** The fields of a Replicate prediction that a webhook delivery uses. */
export interface WebhookPrediction {
  id: string;
  status: string;
  logs: string | null;
}

/** What became of one delivery. */
export type WebhookOutcome = "accepted" | "ignored" | "duplicate";

/** Records a delivery's webhook id; false when it was already recorded (a redelivery). */
export async function claimWebhookReceipt(db: Db, webhookId: string): Promise<boolean> {
  const claimed = await db.query(sql`
    INSERT INTO webhook_receipts (webhook_id) VALUES (${webhookId})
    ON CONFLICT DO NOTHING RETURNING webhook_id`);
  return claimed.length > 0;
}

/** Wakes the workers waiting on a prediction (inside a transaction: delivered at its COMMIT). */
export async function notifyPredictionFinished(db: Db, predictionId: string): Promise<void> {
  await db.query(sql`SELECT pg_notify(${PREDICTION_CHANNEL}, ${predictionId})`);
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
    if (!(await claimWebhookReceipt(tx, webhookId))) return "duplicate";
    if (!(await isPredictionAwaited(tx, prediction.id))) return "ignored";
    const progress = prediction.logs ? parseProgress(prediction.logs) : null;
    if (progress !== null) await raisePredictionProgress(tx, prediction.id, progress);
    // Delivered at COMMIT, so a woken worker sees this transaction's writes.
    if (isFinished(prediction.status as PredictionStatus)) {
      await notifyPredictionFinished(tx, prediction.id);
    }
    return "accepted";
  });
}
