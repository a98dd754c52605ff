/**
 * The spend of one finished prediction, as the worker records it on its job (added to the job's
 * `predict_time_s` and `cost_usd` by the statement that completes or fails it) and counts it in
 * the metrics. No statement of its own: the hot path stays as it was.
 */
import type { PredictionSpend } from "../jobs/repo.ts";
import type { Metrics } from "../metrics.ts";
import type { Prediction } from "../providers/provider.ts";
import { costUsd, type Pricing } from "./pricing.ts";

/** The job fields spend depends on. */
export interface SpendJob {
  model: string;
  provider: string;
  owner_key_id: string | null;
}

/**
 * Predict time and estimated cost of a finished prediction that left `outputs` stored images.
 * Local models cost nothing; their predict time is the render's run time.
 */
export function predictionSpend(
  pricing: Pricing,
  job: SpendJob,
  prediction: Prediction,
  outputs: number,
): PredictionSpend {
  const predictTimeS = prediction.predictTimeS ??
    (job.provider === "local" && prediction.runMs !== undefined ? prediction.runMs / 1000 : null);
  if (job.provider === "local") return { predictTimeS, costUsd: 0 };
  const status = prediction.status === "starting" || prediction.status === "processing"
    ? "canceled"
    : prediction.status;
  return {
    predictTimeS,
    costUsd: costUsd(pricing, job.model, { status, outputs, predictTimeS }),
  };
}

/** Counts a prediction's spend in `darkroom_spend_usd_total` and `darkroom_predict_seconds_total`. */
export function countSpend(
  metrics: Metrics | undefined,
  job: SpendJob,
  spend: PredictionSpend,
): void {
  if (!metrics) return;
  if (spend.costUsd !== null && spend.costUsd > 0) {
    metrics.spendUsd.inc({ model: job.model, key: job.owner_key_id ?? "none" }, spend.costUsd);
  }
  if (spend.predictTimeS !== null && spend.predictTimeS > 0) {
    metrics.predictSeconds.inc({ model: job.model }, spend.predictTimeS);
  }
}
