/**
 * Image storage, whatever the backend: the interface the worker and the API use, its types, and
 * the rule for the file names it accepts. The local-disk backend is in local.ts.
 */
import type { StoredImage } from "../jobs/repo.ts";

/** Size and modification time of a stored object. */
export interface ObjectInfo {
  size: number;
  mtime: Date;
  /** The store's own validator, quoted (a bucket's ETag); absent on local disk. */
  etag?: string;
}

/** Options for `Storage.save`. */
export interface SaveOptions {
  /** Base name without extension (e.g. `<jobId>-0`); the extension comes from the detected type. */
  name: string;
  /** Larger bodies are rejected (not retryable). */
  maxBytes: number;
  signal?: AbortSignal;
  /** The announced length (Content-Length); a shorter body is a retryable truncation. */
  expectedBytes?: number;
  /**
   * Whole PNG chunks to put right after a PNG's IHDR as it is stored (the job's settings, see
   * shared/media/png_metadata.ts), made from the image's size; other types are stored as sent.
   * The stored size, hash and ETag are those of what is stored.
   */
  pngChunks?: (size: { width: number; height: number }) => Uint8Array;
}

/** Where generated images live; a bucket backend can implement the same interface. */
export interface Storage {
  /**
   * Streams a download into storage: capped at maxBytes, type checked by magic bytes, stored
   * atomically and durably (on disk before it resolves, so a job marked completed never points
   * at an image a power cut could lose). Returns the StoredImage record. Throws DownloadError
   * when the body is refused.
   */
  save(body: ReadableStream<Uint8Array>, options: SaveOptions): Promise<StoredImage>;
  /**
   * Stores a small object (a thumbnail) whole, atomically and durably, replacing any object of
   * that name. Throws on an invalid name.
   */
  put(file: string, bytes: Uint8Array, contentType: string): Promise<void>;
  /** Size and mtime of a stored file; null if missing or the name is invalid. */
  stat(file: string): Promise<ObjectInfo | null>;
  /** Streams a stored file, or the inclusive byte range of it; throws NotFoundError if missing. */
  read(file: string, range?: { start: number; end: number }): Promise<ReadableStream<Uint8Array>>;
  /** Deletes a stored file; a missing file is fine. */
  remove(file: string): Promise<void>;
  /** Throws if the storage folder cannot be written. */
  checkWritable(): Promise<void>;
  /** Which backend this is, for /ready (never a credential). */
  readonly backend: "local" | "s3";
  /** A short-lived URL a browser can fetch the file from (bucket backends); null if none. */
  presignedUrl?(file: string, expiresS: number): Promise<string | null>;
  /** The object key of a stored file (bucket backends), for a public base URL. */
  objectKey?(file: string): string;
}

const SAFE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,200}$/;

/** True for a plain file name: `^[A-Za-z0-9][A-Za-z0-9._-]{0,200}$` and no `..`. */
export function isSafeFileName(name: string): boolean {
  return SAFE_NAME.test(name) && !name.includes("..");
}
