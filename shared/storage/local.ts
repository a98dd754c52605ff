/** The local-disk backend of Storage (storage.ts): files under one folder, written durably. */
import { join } from "node:path";
import { createBatcher } from "../batcher.ts";
import { DownloadError, NotFoundError, toError } from "../errors.ts";
import { detectImageType, imageDimensions, type ImageType } from "../media/image_info.ts";
import { isSafeFileName, type Storage } from "./storage.ts";

/** Bytes needed to recognise an image type. */
const MAGIC_BYTES = 16;
/** Bytes kept in memory to read dimensions (a JPEG frame header may sit behind EXIF/ICC data). */
const HEAD_BYTES = 256 * 1024;
/** Longest extension added to a base name (".webp"). */
const MAX_EXT_LENGTH = 5;
const READ_CHUNK = 64 * 1024;

/** Local-disk storage: files in `<root>/generated/`, partial downloads in `<root>/tmp/`. */
export function createLocalStorage(root: string): Storage {
  const generatedDir = join(root, "generated");
  const tmpDir = join(root, "tmp");

  // The folders are made once per process (two mkdir calls per image showed in profiles); if
  // someone removes them later, the open below notices and they are made again.
  let dirsReady: Promise<void> | undefined;
  // A rename is durable once its folder is synced; saves finishing together share one sync.
  const syncGenerated = createBatcher(async (names: string[]) => {
    const dir = await Deno.open(generatedDir, { read: true });
    try {
      await dir.syncData();
    } finally {
      dir.close();
    }
    return names.map(() => ({ ok: true as const, value: undefined }));
  });
  function ensureDirs(): Promise<void> {
    dirsReady ??= (async () => {
      await Deno.mkdir(generatedDir, { recursive: true });
      await Deno.mkdir(tmpDir, { recursive: true });
    })().catch((err) => {
      dirsReady = undefined;
      throw err;
    });
    return dirsReady;
  }

  return {
    async save(body, options) {
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

      await ensureDirs();
      const tmpPath = join(tmpDir, `${crypto.randomUUID()}.part`);
      const reader = body.getReader();
      const onAbort = () => void reader.cancel(signal?.reason).catch(() => {});
      signal?.addEventListener("abort", onAbort, { once: true });
      let file: Deno.FsFile | null = null;
      try {
        try {
          file = await Deno.open(tmpPath, { write: true, createNew: true });
        } catch (err) {
          if (!(err instanceof Deno.errors.NotFound)) throw err;
          dirsReady = undefined;
          await ensureDirs();
          file = await Deno.open(tmpPath, { write: true, createNew: true });
        }
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
          await writeAll(file, value);
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
        await file.syncData();
        file.close();
        file = null;
        const dims = imageDimensions(head.bytes());
        const fileName = `${name}.${type.ext}`;
        await Deno.rename(tmpPath, join(generatedDir, fileName));
        await syncGenerated(fileName);
        return {
          file: fileName,
          content_type: type.contentType,
          width: dims?.width ?? null,
          height: dims?.height ?? null,
          bytes: total,
        };
      } catch (error) {
        try {
          file?.close();
        } catch { /* already closed */ }
        await Deno.remove(tmpPath).catch(() => {});
        await reader.cancel().catch(() => {});
        throw error;
      } finally {
        signal?.removeEventListener("abort", onAbort);
      }
    },

    async put(file, bytes) {
      if (!isSafeFileName(file)) {
        throw new Error(`Cannot store ${JSON.stringify(file)}: invalid name`);
      }
      await ensureDirs();
      const tmpPath = join(tmpDir, `${crypto.randomUUID()}.part`);
      let handle: Deno.FsFile | undefined;
      try {
        try {
          handle = await Deno.open(tmpPath, { write: true, createNew: true });
        } catch (err) {
          if (!(err instanceof Deno.errors.NotFound)) throw err;
          dirsReady = undefined;
          await ensureDirs();
          handle = await Deno.open(tmpPath, { write: true, createNew: true });
        }
        await writeAll(handle, bytes);
        await handle.syncData();
        handle.close();
        handle = undefined;
        await Deno.rename(tmpPath, join(generatedDir, file));
        await syncGenerated(file);
      } catch (error) {
        try {
          handle?.close();
        } catch { /* already closed */ }
        await Deno.remove(tmpPath).catch(() => {});
        throw error;
      }
    },

    async stat(file) {
      if (!isSafeFileName(file)) return null;
      try {
        const info = await Deno.stat(join(generatedDir, file));
        if (!info.isFile) return null;
        return { size: info.size, mtime: info.mtime ?? new Date(0) };
      } catch (error) {
        if (error instanceof Deno.errors.NotFound) return null;
        throw error;
      }
    },

    async read(file, range) {
      if (!isSafeFileName(file)) throw new NotFoundError("Image not found");
      if (range && !(range.start >= 0 && range.end >= range.start)) {
        throw new RangeError(`Invalid byte range ${range.start}-${range.end}`);
      }
      let handle: Deno.FsFile;
      try {
        handle = await Deno.open(join(generatedDir, file), { read: true });
      } catch (error) {
        if (error instanceof Deno.errors.NotFound) throw new NotFoundError("Image not found");
        throw error;
      }
      try {
        if (range && range.start > 0) await handle.seek(range.start, Deno.SeekMode.Start);
      } catch (error) {
        handle.close();
        throw error;
      }
      return fileStream(handle, range ? range.end - range.start + 1 : Infinity);
    },

    async remove(file) {
      if (!isSafeFileName(file)) return;
      try {
        await Deno.remove(join(generatedDir, file));
      } catch (error) {
        if (!(error instanceof Deno.errors.NotFound)) throw error;
      }
    },

    async checkWritable() {
      try {
        await ensureDirs();
        const probe = join(tmpDir, `write-check-${crypto.randomUUID()}.part`);
        await Deno.writeFile(probe, new Uint8Array([1]));
        await Deno.remove(probe);
      } catch (error) {
        throw new Error(`Cannot write to storage folder ${root}: ${toError(error).message}`);
      }
    },
  };
}

/** Streams up to `length` bytes from an open file, closing it at the end or on cancel. */
function fileStream(file: Deno.FsFile, length: number): ReadableStream<Uint8Array> {
  let remaining = length;
  let open = true;
  const close = () => {
    if (open) {
      open = false;
      file.close();
    }
  };
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (remaining <= 0) {
        close();
        controller.close();
        return;
      }
      const buffer = new Uint8Array(Math.min(READ_CHUNK, remaining));
      let n: number | null;
      try {
        n = await file.read(buffer);
      } catch (error) {
        close();
        throw error;
      }
      if (n === null) {
        close();
        controller.close();
        return;
      }
      remaining -= n;
      controller.enqueue(buffer.subarray(0, n));
    },
    cancel() {
      close();
    },
  }, { highWaterMark: 0 });
}

async function writeAll(file: Deno.FsFile, data: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < data.byteLength) offset += await file.write(data.subarray(offset));
}

function abortedError(signal: AbortSignal): DownloadError {
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
