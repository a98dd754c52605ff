/** Data access for `uploads` and `job_uploads` (migration 00010). */
import { type Db, fragment, sql } from "../db/db.ts";

/** One stored upload. */
export interface UploadRow {
  id: string;
  owner_key_id: string | null;
  /** The file's name in the image storage (`upload-<id>.<ext>`). */
  file: string;
  content_type: string;
  width: number | null;
  height: number | null;
  bytes: number;
  created_at: Date;
  expires_at: Date;
}

/** Who asks: an admin sees every upload; a key only its own (none while the API is open). */
export interface UploadViewer {
  admin: boolean;
  keyId: string | null;
}

const COLUMNS = fragment(sql`id, owner_key_id, file, content_type, width, height,
  bytes::float8 AS bytes, created_at, expires_at`);

/** Stores a new upload's row. */
export async function insertUpload(
  db: Db,
  upload: Omit<UploadRow, "created_at" | "expires_at">,
  ttlS: number,
): Promise<UploadRow> {
  const [row] = await db.query<UploadRow>(sql`
    INSERT INTO uploads (id, owner_key_id, file, content_type, width, height, bytes, expires_at)
    VALUES (${upload.id}, ${upload.owner_key_id}, ${upload.file}, ${upload.content_type},
            ${upload.width}, ${upload.height}, ${upload.bytes},
            now() + make_interval(secs => ${ttlS}))
    RETURNING ${COLUMNS}`);
  return row;
}

/** An upload the viewer may see, unexpired or used by a job; null otherwise. */
export async function findUpload(
  db: Db,
  id: string,
  viewer: UploadViewer | null,
): Promise<UploadRow | null> {
  const [row] = await db.query<UploadRow>(sql`
    SELECT ${COLUMNS} FROM uploads u
    WHERE id = ${id}
      AND (expires_at > now() OR EXISTS (SELECT 1 FROM job_uploads j WHERE j.upload_id = u.id))
      AND (${viewer === null || viewer.admin} OR owner_key_id = ${viewer?.keyId ?? null})`);
  return row ?? null;
}

/** Reads uploads by id, whoever owns them (the worker; ids come from a job). */
export async function uploadsByIds(db: Db, ids: string[]): Promise<UploadRow[]> {
  if (ids.length === 0) return [];
  return await db.query<UploadRow>(sql`
    SELECT ${COLUMNS} FROM uploads
    WHERE id IN (SELECT (jsonb_array_elements_text(${JSON.stringify(ids)}::text::jsonb))::uuid)`);
}

/**
 * Checks that the viewer may use these uploads in a new job and keeps them alive meanwhile (at
 * least an hour, until the job links them); returns the ids that are usable.
 */
export async function claimUploads(
  db: Db,
  ids: string[],
  viewer: UploadViewer,
): Promise<Set<string>> {
  if (ids.length === 0) return new Set();
  const rows = await db.query<{ id: string }>(sql`
    UPDATE uploads u SET expires_at = GREATEST(expires_at, now() + interval '1 hour')
    WHERE id IN (SELECT (jsonb_array_elements_text(${JSON.stringify(ids)}::text::jsonb))::uuid)
      AND (expires_at > now() OR EXISTS (SELECT 1 FROM job_uploads j WHERE j.upload_id = u.id))
      AND (${viewer.admin} OR owner_key_id = ${viewer.keyId})
    RETURNING id`);
  return new Set(rows.map((r) => r.id));
}

/** Records that a job uses these uploads (they then live as long as the job). */
export async function linkUploads(db: Db, jobId: string, ids: string[]): Promise<void> {
  if (ids.length === 0) return;
  await db.query(sql`
    INSERT INTO job_uploads (job_id, upload_id)
    SELECT ${jobId}, (jsonb_array_elements_text(${JSON.stringify(ids)}::text::jsonb))::uuid
    ON CONFLICT DO NOTHING`);
}

/** Deletes an upload no job uses; returns its row, or null (missing, or a job uses it). */
export async function deleteUnusedUpload(db: Db, id: string): Promise<UploadRow | null> {
  const [row] = await db.query<UploadRow>(sql`
    DELETE FROM uploads u WHERE id = ${id}
      AND NOT EXISTS (SELECT 1 FROM job_uploads j WHERE j.upload_id = u.id)
    RETURNING ${COLUMNS}`);
  return row ?? null;
}

/** Deletes up to `limit` expired uploads that no job uses; returns their rows (for the files). */
export async function deleteExpiredUploads(db: Db, limit = 200): Promise<UploadRow[]> {
  return await db.query<UploadRow>(sql`
    DELETE FROM uploads WHERE id IN (
      SELECT id FROM uploads u WHERE expires_at <= now()
        AND NOT EXISTS (SELECT 1 FROM job_uploads j WHERE j.upload_id = u.id)
      ORDER BY expires_at LIMIT ${limit})
    RETURNING ${COLUMNS}`);
}

/** The secret stored by migration 00010 under `name`. */
export async function serviceSecret(db: Db, name: string): Promise<string | null> {
  const [row] = await db.query<{ value: string }>(
    sql`SELECT value FROM service_secrets WHERE name = ${name}`,
  );
  return row?.value ?? null;
}
