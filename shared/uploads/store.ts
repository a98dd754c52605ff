/**
 * Storing an upload: the type is sniffed from the magic bytes (PNG, JPEG, WebP, GIF; anything
 * else is 415), the file goes to the image storage as `upload-<id>.<ext>` (local disk or the
 * bucket, like outputs), and a row records its owner and expiry.
 */
import { AppError, PayloadTooLargeError } from "../errors.ts";
import type { Db } from "../db/db.ts";
import { detectImageType } from "../media/image_info.ts";
import { removeImages } from "../media/thumbnails.ts";
import { uploadPath } from "../models/image_refs.ts";
import type { Storage } from "../storage/storage.ts";
import { deleteExpiredUploads, insertUpload, type UploadRow } from "./repo.ts";

/** An upload as the API shows it. */
export interface UploadJson {
  id: string;
  /** Where the image is served (to its owner); also what an image input accepts. */
  url: string;
  content_type: string;
  width: number | null;
  height: number | null;
  bytes: number;
  created_at: string;
  /** When it is removed unless a job uses it (a job keeps it as long as the job exists). */
  expires_at: string;
}

/** Name prefix of uploads in the storage (the /images route serves none of them). */
export const UPLOAD_FILE_PREFIX = "upload-";

/** The JSON of an upload row. */
export function uploadToJson(row: UploadRow): UploadJson {
  return {
    id: row.id,
    url: uploadPath(row.id),
    content_type: row.content_type,
    width: row.width,
    height: row.height,
    bytes: Number(row.bytes),
    created_at: new Date(row.created_at).toISOString(),
    expires_at: new Date(row.expires_at).toISOString(),
  };
}

/** Checks, stores and records an uploaded image; throws 415 for a non-image, 413 over the cap. */
export async function storeUpload(
  deps: { db: Db; storage: Storage },
  bytes: Uint8Array,
  options: { owner: string | null; maxBytes: number; ttlS: number },
): Promise<UploadRow> {
  if (bytes.byteLength > options.maxBytes) throw new PayloadTooLargeError(options.maxBytes);
  if (!detectImageType(bytes.subarray(0, 16))) {
    throw new AppError(
      415,
      "unsupported_media_type",
      "The upload is not an image this service takes (PNG, JPEG, WebP or GIF)",
    );
  }
  const id = crypto.randomUUID();
  const stored = await deps.storage.save(ReadableStream.from([bytes]), {
    name: `${UPLOAD_FILE_PREFIX}${id}`,
    maxBytes: options.maxBytes,
    expectedBytes: bytes.byteLength,
  });
  try {
    return await insertUpload(deps.db, {
      id,
      owner_key_id: options.owner,
      file: stored.file,
      content_type: stored.content_type,
      width: stored.width,
      height: stored.height,
      bytes: stored.bytes,
    }, options.ttlS);
  } catch (err) {
    await deps.storage.remove(stored.file).catch(() => {});
    throw err;
  }
}

/** Removes expired uploads no job uses, rows and files; returns how many. */
export async function sweepExpiredUploads(deps: { db: Db; storage: Storage }): Promise<number> {
  let removed = 0;
  while (true) {
    const batch = await deleteExpiredUploads(deps.db, 200);
    await removeImages(
      deps.storage,
      batch.map((u) => ({ ...u, bytes: Number(u.bytes) })),
    );
    removed += batch.length;
    if (batch.length < 200) return removed;
  }
}
