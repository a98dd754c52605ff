/**
 * What a submit does about spend before its job is stored: the estimate it reserves against its
 * key's budget (keys with a budget only; local models are free, so nothing), and, for
 * `"dedupe": true`, the fingerprint to store or the completed twin to answer with. Nothing here
 * queries the database unless the request asked for dedupe: a submit of a key without a budget,
 * or of a free model, costs what it cost before.
 */
import type { Db } from "../db/db.ts";
import { ValidationError } from "../errors.ts";
import { dedupeHash, type DedupeInput, findCompletedTwin, hasExplicitSeed } from "./dedupe.ts";
import { estimateUsd, type Pricing } from "./pricing.ts";

/** The spend side of one submit. */
export interface SubmitSpend {
  /** The estimate to reserve on the job (0: nothing to reserve). */
  reservedUsd: number;
  /** The fingerprint to store on the job (dedupe requested). */
  dedupeHash: string | null;
  /** A completed identical job of the same owner to answer with instead (dedupe). */
  twinId: string | null;
}

/** Plans the spend of a submit by `owner` (a key with `budgetUsd`, or null when open). */
export async function planSubmitSpend(
  deps: { db: Db; pricing: Pricing },
  request: DedupeInput & { dedupe?: boolean | null },
  options: { owner: string | null; budgetUsd?: number | null; dedupeWindowS: number },
): Promise<SubmitSpend> {
  let hash: string | null = null;
  let twinId: string | null = null;
  if (request.dedupe) {
    if (!hasExplicitSeed(request.parameters)) {
      const message = "dedupe needs an explicit parameters.seed (without one, each run differs)";
      throw new ValidationError(message, [{ field: "dedupe", message }]);
    }
    hash = await dedupeHash(request);
    twinId = await findCompletedTwin(deps.db, hash, options.owner, options.dedupeWindowS);
  }
  const budgeted = options.owner !== null && options.budgetUsd !== null &&
    options.budgetUsd !== undefined;
  const reservedUsd = budgeted && twinId === null
    ? estimateUsd(deps.pricing, request.model, request.parameters)
    : 0;
  return { reservedUsd, dedupeHash: hash, twinId };
}
