/**
 * The library's stars and collections ("boards"): named sets of jobs, one list per API key (the
 * open API's are owned by no key). Plain functions taking the Db handle first; who may see which
 * job is decided by the caller (`owner`: only that key's jobs; undefined: any job, for admins).
 */
import { type Db, fragment, sql } from "../db/db.ts";
import { JOB_COLUMNS, type JobRow } from "../jobs/repo.ts";
import { thumbnailName } from "../media/thumbnails.ts";

/** A collection as stored, with how many jobs it holds and its newest job's first image. */
export interface CollectionRow {
  id: string;
  name: string;
  created_at: Date;
  updated_at: Date;
  job_count: number;
  /** The file of the first image of the newest job added, for a cover. */
  cover_file: string | null;
  cover_thumbnail: string | null;
}

/** Longest collection name, and most collections one key may have. */
export const COLLECTION_LIMITS = { nameChars: 100, perOwner: 1000 } as const;

/** Whose collections: a key id, or null for the open API's. */
export type CollectionOwner = string | null;

/** Thrown when the owner already has a collection of that name (any case). */
export class CollectionNameTaken extends Error {
  constructor(name: string) {
    super(`A collection named ${JSON.stringify(name)} exists already`);
    this.name = "CollectionNameTaken";
  }
}

function ownedBy(owner: CollectionOwner) {
  return owner === null
    ? fragment(sql`c.owner_key_id IS NULL`)
    : fragment(sql`c.owner_key_id = ${owner}`);
}

const COLLECTION_COLUMNS = fragment(sql`
  c.id, c.name, c.created_at, c.updated_at,
  (SELECT count(*)::int FROM collection_jobs cj WHERE cj.collection_id = c.id) AS job_count,
  (SELECT j.images -> 0 ->> 'file' FROM collection_jobs cj JOIN jobs j ON j.id = cj.job_id
   WHERE cj.collection_id = c.id AND jsonb_array_length(j.images) > 0
   ORDER BY cj.added_at DESC LIMIT 1) AS cover_file,
  (SELECT j.images -> 0 ->> 'thumbnail' FROM collection_jobs cj JOIN jobs j ON j.id = cj.job_id
   WHERE cj.collection_id = c.id AND jsonb_array_length(j.images) > 0
   ORDER BY cj.added_at DESC LIMIT 1) AS cover_thumbnail`);

/** True for a unique-violation (the name index). */
function isNameTaken(err: unknown): boolean {
  return (err as { code?: unknown })?.code === "23505";
}

/** The owner's collections, by name. */
export function listCollections(db: Db, owner: CollectionOwner): Promise<CollectionRow[]> {
  return db.query<CollectionRow>(sql`
    SELECT ${COLLECTION_COLUMNS} FROM collections c WHERE ${ownedBy(owner)}
    ORDER BY lower(c.name), c.id`);
}

/** One of the owner's collections, or null (unknown, or another key's). */
export async function getCollection(
  db: Db,
  id: string,
  owner: CollectionOwner,
): Promise<CollectionRow | null> {
  const [row] = await db.query<CollectionRow>(sql`
    SELECT ${COLLECTION_COLUMNS} FROM collections c WHERE c.id = ${id} AND ${ownedBy(owner)}`);
  return row ?? null;
}

/** How many collections the owner has. */
export async function countCollections(db: Db, owner: CollectionOwner): Promise<number> {
  const [row] = await db.query<{ n: number }>(
    sql`SELECT count(*)::int AS n FROM collections c WHERE ${ownedBy(owner)}`,
  );
  return row.n;
}

/** Creates a collection; throws CollectionNameTaken when the name is used (any case). */
export async function createCollection(
  db: Db,
  owner: CollectionOwner,
  name: string,
): Promise<CollectionRow> {
  const id = crypto.randomUUID();
  try {
    await db.query(sql`INSERT INTO collections (id, owner_key_id, name) VALUES (${id}, ${owner},
                                                                              ${name})`);
  } catch (err) {
    if (isNameTaken(err)) throw new CollectionNameTaken(name);
    throw err;
  }
  return (await getCollection(db, id, owner))!;
}

/** Renames one of the owner's collections; null when it is not theirs. */
export async function renameCollection(
  db: Db,
  id: string,
  owner: CollectionOwner,
  name: string,
): Promise<CollectionRow | null> {
  let rows: unknown[];
  try {
    rows = await db.query(sql`
      UPDATE collections c SET name = ${name}, updated_at = now()
      WHERE c.id = ${id} AND ${ownedBy(owner)} RETURNING c.id`);
  } catch (err) {
    if (isNameTaken(err)) throw new CollectionNameTaken(name);
    throw err;
  }
  return rows.length ? await getCollection(db, id, owner) : null;
}

/** Deletes one of the owner's collections (its jobs stay); false when it is not theirs. */
export async function deleteCollection(
  db: Db,
  id: string,
  owner: CollectionOwner,
): Promise<boolean> {
  const rows = await db.query(
    sql`DELETE FROM collections c WHERE c.id = ${id} AND ${ownedBy(owner)} RETURNING c.id`,
  );
  return rows.length > 0;
}

/** Who may act on a job: only `owner`'s jobs, or any job (undefined). */
export interface JobScope {
  owner?: string;
}

function visible(scope: JobScope) {
  return scope.owner === undefined
    ? fragment(sql`TRUE`)
    : fragment(sql`jobs.owner_key_id = ${scope.owner}`);
}

/** Ids (lower-case UUIDs, checked by the caller) as rows `k(kid)` (darkroom_ids, 00008). */
function idRows(ids: string[]) {
  return fragment(sql`darkroom_ids(${JSON.stringify(ids)}) AS k`);
}

/** The ids (lower-case UUIDs) of the jobs among `ids` that exist and the scope may act on. */
export async function visibleJobIds(db: Db, ids: string[], scope: JobScope): Promise<Set<string>> {
  if (ids.length === 0) return new Set();
  const rows = await db.query<{ id: string }>(sql`
    SELECT jobs.id FROM ${idRows(ids)} JOIN jobs ON jobs.id = k.kid WHERE ${visible(scope)}`);
  return new Set(rows.map((r) => r.id));
}

/**
 * Stars or unstars the jobs among `ids` the scope may act on; returns their ids. A job whose star
 * changes gets a new updated_at, so the live feed tells open pages.
 */
export async function setStarred(
  db: Db,
  ids: string[],
  starred: boolean,
  scope: JobScope,
): Promise<Set<string>> {
  if (ids.length === 0) return new Set();
  const rows = await db.query<{ id: string }>(sql`
    UPDATE jobs SET starred = ${starred},
                    updated_at = CASE WHEN starred = ${starred} THEN updated_at ELSE now() END
    FROM ${idRows(ids)}
    WHERE jobs.id = k.kid AND ${visible(scope)}
    RETURNING jobs.id`);
  return new Set(rows.map((r) => r.id));
}

/** One job after a star change (for the single-job endpoints). */
export async function starJob(
  db: Db,
  id: string,
  starred: boolean,
): Promise<JobRow | null> {
  const [row] = await db.query<JobRow>(sql`
    UPDATE jobs SET starred = ${starred},
                    updated_at = CASE WHEN starred = ${starred} THEN updated_at ELSE now() END
    WHERE id = ${id} RETURNING ${JOB_COLUMNS}`);
  return row ?? null;
}

/**
 * Adds the jobs among `ids` the scope may act on to a collection (already there: kept as it
 * was); returns their ids. The collection must be the caller's (checked before).
 */
export async function addToCollection(
  db: Db,
  collectionId: string,
  ids: string[],
  scope: JobScope,
): Promise<Set<string>> {
  if (ids.length === 0) return new Set();
  return await db.transaction(async (tx) => {
    const found = await visibleJobIds(tx, ids, scope);
    if (found.size === 0) return found;
    await tx.query(sql`
      INSERT INTO collection_jobs (collection_id, job_id)
      SELECT ${collectionId}::uuid, k.kid FROM ${idRows([...found])}
      ON CONFLICT DO NOTHING`);
    await tx.query(sql`UPDATE collections SET updated_at = now() WHERE id = ${collectionId}`);
    return found;
  });
}

/**
 * Takes the jobs among `ids` the scope may act on out of a collection (not in it: fine); returns
 * their ids.
 */
export async function removeFromCollection(
  db: Db,
  collectionId: string,
  ids: string[],
  scope: JobScope,
): Promise<Set<string>> {
  if (ids.length === 0) return new Set();
  return await db.transaction(async (tx) => {
    const found = await visibleJobIds(tx, ids, scope);
    if (found.size === 0) return found;
    await tx.query(sql`
      DELETE FROM collection_jobs cj USING ${idRows([...found])}
      WHERE cj.collection_id = ${collectionId} AND cj.job_id = k.kid`);
    await tx.query(sql`UPDATE collections SET updated_at = now() WHERE id = ${collectionId}`);
    return found;
  });
}

/** The cover thumbnail of a collection row (its image's thumbnail name), or null. */
export function coverThumbnail(row: CollectionRow): string | null {
  if (!row.cover_file) return null;
  return row.cover_thumbnail ?? thumbnailName(row.cover_file);
}
