/**
 * One action on many jobs (`POST /jobs/bulk`): delete, star, unstar, add to or remove from a
 * collection, with a result per id. Each id is checked on its own: a job that does not exist, a
 * malformed id and another key's job all answer `not_found` for that id, and the others go ahead.
 */
import { type Db, fragment, sql } from "../db/db.ts";
import { JOB_COLUMNS, type JobRow } from "../jobs/repo.ts";
import { removeImages } from "../media/thumbnails.ts";
import type { Storage } from "../storage/storage.ts";
import type { Logger } from "../logger.ts";
import { addToCollection, type JobScope, removeFromCollection, setStarred } from "./collections.ts";

/** The actions of POST /jobs/bulk. */
export const BULK_ACTIONS = ["delete", "star", "unstar", "add_to", "remove_from"] as const;
export type BulkAction = typeof BULK_ACTIONS[number];

/** Most ids one request may name. */
export const BULK_MAX_IDS = 100;

/** The outcome for one id. */
export type BulkResult =
  | { id: string; ok: true }
  | { id: string; ok: false; error: { code: "not_found"; message: string } };

/** What a bulk action needs besides the database. */
export interface BulkDeps {
  db: Db;
  storage: Storage;
  /** Takes a job off the queue (deletes only); a failure is ignored, as for one delete. */
  dequeue(id: string): Promise<unknown>;
  logger: Logger;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Runs `action` on `ids` (duplicates answered once, in first-seen order) within `scope`. For
 * `add_to` and `remove_from`, `collection` is a collection the caller owns (checked before).
 */
export async function runBulk(
  deps: BulkDeps,
  request: { ids: string[]; action: BulkAction; collection?: string },
  scope: JobScope,
): Promise<BulkResult[]> {
  const unique = [...new Set(request.ids)];
  const wellFormed = unique.filter((id) => UUID.test(id)).map((id) => id.toLowerCase());
  let done: Set<string>;
  switch (request.action) {
    case "delete":
      done = await deleteJobs(deps, [...new Set(wellFormed)], scope);
      break;
    case "star":
    case "unstar":
      done = await setStarred(deps.db, wellFormed, request.action === "star", scope);
      break;
    case "add_to":
      done = await addToCollection(deps.db, request.collection!, wellFormed, scope);
      break;
    case "remove_from":
      done = await removeFromCollection(deps.db, request.collection!, wellFormed, scope);
      break;
  }
  return unique.map((id) =>
    UUID.test(id) && done.has(id.toLowerCase()) ? { id, ok: true as const } : {
      id,
      ok: false as const,
      error: { code: "not_found" as const, message: `Job ${id.slice(0, 100)} not found` },
    }
  );
}

/**
 * Deletes the jobs the scope may act on, like DELETE /jobs/{id} for each: off the queue, the row,
 * then the stored images (a running job's worker notices and stops). Returns the ids deleted.
 */
async function deleteJobs(deps: BulkDeps, ids: string[], scope: JobScope): Promise<Set<string>> {
  if (ids.length === 0) return new Set();
  const mine = scope.owner === undefined
    ? fragment(sql`TRUE`)
    : fragment(sql`jobs.owner_key_id = ${scope.owner}`);
  const candidates = await deps.db.query<{ id: string }>(sql`
    SELECT jobs.id FROM darkroom_ids(${JSON.stringify(ids)}) AS k JOIN jobs ON jobs.id = k.kid
    WHERE ${mine}`);
  await Promise.all(candidates.map((r) => deps.dequeue(r.id).catch(() => false)));
  const deleted = candidates.length === 0 ? [] : await deps.db.query<JobRow>(sql`
    DELETE FROM jobs USING darkroom_ids(${JSON.stringify(candidates.map((r) => r.id))}) AS k
    WHERE jobs.id = k.kid AND ${mine}
    RETURNING ${JOB_COLUMNS}`);
  await Promise.all(deleted.map((row) => removeImages(deps.storage, row.images)));
  for (const row of deleted) deps.logger.info("job deleted", { jobId: row.id, bulk: true });
  return new Set(deleted.map((row) => row.id));
}
