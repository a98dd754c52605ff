/**
 * `"dedupe": true` on POST /generate: an identical request (same model reference, normalised
 * prompt, negative prompt and parameters, with an explicit seed) made by the same key within
 * DEDUPE_WINDOW_S gets the job that already completed, at no cost. Only requests that ask for it
 * store a fingerprint, so other submits pay nothing for the feature.
 */
import { type Db, sql } from "../db/db.ts";
import { sha256Hex } from "../hash.ts";
import { canonicalJson } from "../jobs/schemas.ts";

/** What makes two requests the same. */
export interface DedupeInput {
  model: string;
  prompt: string;
  negative_prompt?: string | null;
  parameters: Record<string, unknown>;
}

/** The fingerprint of a request: SHA-256 of its normalised form (key order, blank negatives). */
export function dedupeHash(input: DedupeInput): Promise<string> {
  return sha256Hex(canonicalJson({
    v: 1,
    model: input.model.trim(),
    prompt: input.prompt.trim(),
    negative_prompt: input.negative_prompt?.trim() || null,
    parameters: input.parameters,
  }));
}

/** True when the request fixes its seed (without one, a new run gives another image). */
export function hasExplicitSeed(parameters: Record<string, unknown>): boolean {
  return typeof parameters.seed === "number" && Number.isInteger(parameters.seed);
}

/** The newest completed job of `owner` (null: the open API) with this fingerprint, if recent. */
export async function findCompletedTwin(
  db: Db,
  hash: string,
  owner: string | null,
  windowS: number,
): Promise<string | null> {
  const [row] = await db.query<{ id: string }>(sql`
    SELECT id FROM jobs
    WHERE dedupe_hash = ${hash} AND status = 'completed'
      AND owner_key_id IS NOT DISTINCT FROM ${owner}::uuid
      AND completed_at > now() - make_interval(secs => ${windowS})
    ORDER BY completed_at DESC LIMIT 1`);
  return row?.id ?? null;
}
