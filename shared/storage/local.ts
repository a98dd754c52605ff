/** The local-disk backend of Storage (storage.ts): files under one folder, written durably. */
import { join } from "node:path";
import { createBatcher } from "../batcher.ts";
import { NotFoundError, toError } from "../errors.ts";
import { checkSaveRequest, receiveImage, storedImage, writeAll } from "./receive.ts";
import { isSafeFileName, type Storage } from "./storage.ts";

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
    backend: "local",

    async save(body, options) {
      await checkSaveRequest(body, options);
      await ensureDirs();
      const tmpPath = join(tmpDir, `${crypto.randomUUID()}.part`);
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
        const out = file;
        const image = await receiveImage(body, options, (chunk) => writeAll(out, chunk));
        await file.syncData();
        file.close();
        file = null;
        const stored = storedImage(options.name, image);
        await Deno.rename(tmpPath, join(generatedDir, stored.file));
        await syncGenerated(stored.file);
        return stored;
      } catch (error) {
        try {
          file?.close();
        } catch { /* already closed */ }
        await Deno.remove(tmpPath).catch(() => {});
        await body.cancel().catch(() => {});
        throw error;
      }
    },

    async put(file, bytes, _contentType) {
      if (!isSafeFileName(file)) {
        throw new Error(`Cannot store ${JSON.stringify(file)}: invalid name`);
      }
      await ensureDirs();
      const tmpPath = join(tmpDir, `${crypto.randomUUID()}.part`);
      try {
        const handle = await Deno.open(tmpPath, { write: true, createNew: true });
        try {
          await writeAll(handle, bytes);
          await handle.syncData();
        } finally {
          handle.close();
        }
        await Deno.rename(tmpPath, join(generatedDir, file));
        await syncGenerated(file);
      } catch (error) {
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
