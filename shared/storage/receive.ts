/**
 * Receiving a downloaded image, for every storage backend: the request checks, the read loop
 * (capped, type checked by magic bytes, truncation and abort noticed) and the refusals.
 */
import { DownloadError, toError } from "../errors.ts";
import { detectImageType, imageDimensions, type ImageType } from "../media/image_info.ts";
import type { StoredImage } from "../jobs/repo.ts";
import { createPngInserter } from "../media/png_metadata.ts";
import { isSafeFileName } from "./storage.ts";

/** What `receiveImage` learnt about a body it passed on whole. */
export interface ReceivedImage {
  type: ImageType;
  width: number | null;
  height: number | null;
  /** Bytes handed to `write`: the body's, plus any PNG chunks inserted. */
  bytes: number;
}

/** The limits of one download (the fields of `SaveOptions` the read loop needs). */
export interface ReceiveLimits {
  maxBytes: number;
  signal?: AbortSignal;
  expectedBytes?: number;
  /** Chunks to insert after a PNG's IHDR (see `SaveOptions.pngChunks`). */
  pngChunks?: (size: { width: number; height: number }) => Uint8Array;
}

/** The record of a received image stored as `<name>.<ext>` (the extension of its detected type). */
export function storedImage(name: string, image: ReceivedImage): StoredImage {
  return {
    file: `${name}.${image.type.ext}`,
    content_type: image.type.contentType,
    width: image.width,
    height: image.height,
    bytes: image.bytes,
  };
}

/** Bytes needed to recognise an image type. */
const MAGIC_BYTES = 16;
/** Bytes kept in memory to read dimensions (a JPEG frame header may sit behind EXIF/ICC data). */
const HEAD_BYTES = 256 * 1024;
/** Longest extension added to a base name (".webp"). */
const MAX_EXT_LENGTH = 5;

/**
 * Refuses a save before anything is written (invalid base name, announced length over the cap,
 * already aborted), cancelling the body; resolves when the save may start.
 */
export async function checkSaveRequest(
  body: ReadableStream<Uint8Array>,
  options: ReceiveLimits & { name: string },
): Promise<void> {
  const { name, maxBytes, signal, expectedBytes } = options;
  if (!isSafeFileName(name) || name.length + MAX_EXT_LENGTH > 201) {
    await body.cancel().catch(() => {});
    throw new DownloadError(`Cannot store output: invalid name ${JSON.stringify(name)}`, false);
  }
  if (expectedBytes !== undefined && expectedBytes > maxBytes) {
    await body.cancel().catch(() => {});
    throw new DownloadError(
      `Output exceeds MAX_IMAGE_BYTES (${expectedBytes} > ${maxBytes} bytes)`,
      false,
    );
  }
  if (signal?.aborted) {
    await body.cancel(signal.reason).catch(() => {});
    throw abortedError(signal);
  }
}

/**
 * Reads `body` to its end, handing each chunk to `write` as it comes (nothing but the first
 * 256 KiB is kept): refused when over `maxBytes` (not retryable), when its first bytes are no
 * image, when shorter than `expectedBytes` or when `signal` aborts (retryable). On any error the
 * body is cancelled. With `pngChunks`, a PNG gets them after its IHDR on the way (the limits
 * apply to the body as sent).
 */
export async function receiveImage(
  body: ReadableStream<Uint8Array>,
  limits: ReceiveLimits,
  write: (chunk: Uint8Array) => Promise<void>,
): Promise<ReceivedImage> {
  const { maxBytes, signal, expectedBytes } = limits;
  const inserter = limits.pngChunks ? createPngInserter(limits.pngChunks) : null;
  const pass = async (pieces: Uint8Array[]) => {
    for (const piece of pieces) await write(piece);
  };
  const reader = body.getReader();
  const onAbort = () => void reader.cancel(signal?.reason).catch(() => {});
  signal?.addEventListener("abort", onAbort, { once: true });
  try {
    const head = createHead(HEAD_BYTES);
    let total = 0;
    let type: ImageType | null = null;
    while (true) {
      let chunk: ReadableStreamReadResult<Uint8Array>;
      try {
        chunk = await reader.read();
      } catch (error) {
        if (signal?.aborted) throw abortedError(signal);
        throw new DownloadError(`Cannot download output: ${toError(error).message}`, true);
      }
      if (signal?.aborted) throw abortedError(signal);
      if (chunk.done) break;
      const value = chunk.value;
      if (value.byteLength === 0) continue;
      total += value.byteLength;
      if (total > maxBytes) {
        throw new DownloadError(
          `Output exceeds MAX_IMAGE_BYTES (more than ${maxBytes} bytes)`,
          false,
        );
      }
      head.keep(value);
      if (type === null && head.length >= MAGIC_BYTES) {
        type = detectImageType(head.bytes());
        if (type === null) throw notAnImage(head.bytes());
      }
      if (inserter) await pass(inserter.push(value));
      else await write(value);
    }
    // Bodies shorter than MAGIC_BYTES are checked once complete.
    type ??= detectImageType(head.bytes());
    if (type === null) throw notAnImage(head.bytes());
    if (expectedBytes !== undefined && total < expectedBytes) {
      throw new DownloadError(
        `Output was truncated (got ${total} of ${expectedBytes} bytes)`,
        true,
      );
    }
    if (inserter) await pass(inserter.end());
    const dims = imageDimensions(head.bytes());
    return {
      type,
      width: dims?.width ?? null,
      height: dims?.height ?? null,
      bytes: total + (inserter?.added ?? 0),
    };
  } catch (error) {
    await reader.cancel().catch(() => {});
    throw error;
  } finally {
    signal?.removeEventListener("abort", onAbort);
  }
}

/** Writes all of `data` to an open file (a write may take only part of it). */
export async function writeAll(file: Deno.FsFile, data: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < data.byteLength) offset += await file.write(data.subarray(offset));
}

/** The retryable error for a download stopped by its signal. */
export function abortedError(signal: AbortSignal): DownloadError {
  const reason = signal.reason === undefined ? "" : `: ${toError(signal.reason).message}`;
  return new DownloadError(`Download was aborted${reason}`, true);
}

/**
 * The first `max` bytes of a download, for its type and dimensions. Chunks are kept as they come
 * (no copy, no buffer of `max` bytes per image) and joined once when read.
 */
function createHead(max: number) {
  let chunks: Uint8Array[] = [];
  let length = 0;
  return {
    get length() {
      return length;
    },
    keep(chunk: Uint8Array): void {
      if (length >= max) return;
      const take = chunk.byteLength <= max - length ? chunk : chunk.subarray(0, max - length);
      chunks.push(take);
      length += take.byteLength;
    },
    bytes(): Uint8Array {
      if (chunks.length <= 1) return chunks[0] ?? new Uint8Array(0);
      const joined = new Uint8Array(length);
      let at = 0;
      for (const chunk of chunks) {
        joined.set(chunk, at);
        at += chunk.byteLength;
      }
      chunks = [joined];
      return joined;
    },
  };
}

/** The refusal for a body that is not an image, quoting its first bytes for the logs. */
function notAnImage(head: Uint8Array): DownloadError {
  const start = head.subarray(0, 32);
  let got: string;
  if (start.length === 0) {
    got = "an empty body";
  } else if (
    start.every((b) => (b >= 0x20 && b < 0x7f) || b === 0x09 || b === 0x0a || b === 0x0d)
  ) {
    got = JSON.stringify(new TextDecoder().decode(start));
  } else {
    got = `bytes ${
      [...start.subarray(0, 8)].map((b) => b.toString(16).padStart(2, "0")).join(" ")
    }`;
  }
  return new DownloadError(`Output is not an image (got ${got})`, true);
}
