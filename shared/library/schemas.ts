/** Request bodies of the library's endpoints (zod): collections and bulk actions. */
import { z } from "zod";
import { cleanText } from "../jobs/schemas.ts";
import { BULK_ACTIONS, BULK_MAX_IDS } from "./bulk.ts";
import { COLLECTION_LIMITS } from "./collections.ts";

const collectionName = cleanText("name", COLLECTION_LIMITS.nameChars)
  .transform((s) => s.trim())
  .refine((s) => s.length > 0, { error: "name must not be empty" });

/** POST /collections and PATCH /collections/{id}. */
export const collectionBody = z.object({ name: collectionName });

const ids = z.array(
  z.string({ error: "ids must be job ids" }).max(100, { error: "ids must be job ids" }),
  { error: "ids must be a list of job ids" },
).min(1, { error: "ids must name at least one job" }).max(BULK_MAX_IDS, {
  error: `ids must name at most ${BULK_MAX_IDS} jobs`,
});

/** POST /collections/{id}/jobs. */
export const collectionJobsBody = z.object({ ids });

/** POST /jobs/bulk. */
export const bulkBody = z.object({
  ids,
  action: z.enum(BULK_ACTIONS, { error: `action must be one of ${BULK_ACTIONS.join(", ")}` }),
  collection: z.string({ error: "collection must be a collection id" }).max(100).optional(),
}).superRefine((v, ctx) => {
  const needs = v.action === "add_to" || v.action === "remove_from";
  if (needs && v.collection === undefined) {
    ctx.addIssue({
      code: "custom",
      path: ["collection"],
      message: `collection is required with ${v.action}`,
    });
  }
});
