/**
 * Never paying twice when a create's answer is lost. With `Prefer: wait` the provider holds the
 * create call until the prediction ends (up to REPLICATE_PREFER_WAIT_S), so the prediction id
 * arrives seconds after the prediction exists: a worker killed, stopped or timed out meanwhile
 * never stores it. A later attempt of the job first asks the provider for predictions created
 * since the job started with exactly its input, and adopts one that no other job holds.
 */
import { type Db, sql } from "../db/db.ts";
import type { JobRow } from "../jobs/repo.ts";
import type { Prediction, Provider } from "../providers/provider.ts";

/** Clocks of the provider and the database may differ by this much. */
const CLOCK_SLACK_MS = 5 * 60_000;

/**
 * A prediction the provider created for this job's input since the job first started that no
 * other job holds, or null (also when the provider cannot list its predictions).
 */
export async function findOrphanPrediction(
  db: Db,
  provider: Provider,
  job: Pick<
    JobRow,
    "id" | "model" | "prompt" | "negative_prompt" | "parameters" | "started_at" | "created_at"
  >,
  signal?: AbortSignal,
): Promise<Prediction | null> {
  if (!provider.findCreated) return null;
  const since = new Date(job.started_at ?? job.created_at).getTime() - CLOCK_SLACK_MS;
  const candidates = await provider.findCreated(
    {
      model: job.model,
      prompt: job.prompt,
      negative_prompt: job.negative_prompt,
      parameters: job.parameters,
    },
    since,
    { signal },
  );
  if (candidates.length === 0) return null;
  // Another job that holds one runs it now (a processing job, partial index) or ran it since
  // (updated after it was created): both are found without scanning the job history.
  const taken = await db.query<{ p: string }>(sql`
    SELECT provider_prediction_id AS p FROM jobs
    WHERE provider_prediction_id = ANY(${candidates.map((c) => c.id)}::text[])
      AND id <> ${job.id}
      AND (status = 'processing' OR updated_at >= ${new Date(since)})`);
  const held = new Set(taken.map((r) => r.p));
  return candidates.find((c) => !held.has(c.id)) ?? null;
}
