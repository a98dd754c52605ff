import assert from "node:assert/strict";
import { join } from "node:path";
import { decode, encode } from "fast-png";
import { readPngText, textChunk } from "../media/png_metadata.ts";
import { GIF_1X1 } from "../testing/image_fixtures.ts";
import { DownloadError, NotFoundError } from "../errors.ts";
import { createLocalStorage } from "./local.ts";
import type { Storage } from "./storage.ts";

function png(width: number, height: number): Uint8Array {
  // Pseudo-random pixels so the file does not compress to almost nothing.
  let seed = width * 31 + height;
  const data = Uint8Array.from(
    { length: width * height * 4 },
    () => (seed = (Math.imul(seed, 1103515245) + 12345) & 0x7fffffff) >> 16 & 0xff,
  );
  return encode({ width, height, data, channels: 4 });
}

/** A stream that yields `bytes` in `chunks` roughly equal parts. */
function streamOf(bytes: Uint8Array, chunks = 1): ReadableStream<Uint8Array> {
  const size = Math.max(1, Math.ceil(bytes.length / chunks));
  let offset = 0;
  return new ReadableStream({
    pull(controller) {
      if (offset >= bytes.length) return controller.close();
      controller.enqueue(bytes.slice(offset, offset + size));
      offset += size;
    },
  });
}

async function withStorage(fn: (storage: Storage, root: string) => Promise<void>): Promise<void> {
  const root = await Deno.makeTempDir({ prefix: "darkroom-storage-" });
  try {
    await fn(createLocalStorage(root), root);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}

async function listDir(path: string): Promise<string[]> {
  const names: string[] = [];
  try {
    for await (const entry of Deno.readDir(path)) names.push(entry.name);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  return names.sort();
}

/** Targets of this process's open file descriptors under `root` (Linux /proc). */
async function openFilesUnder(root: string): Promise<string[]> {
  const open: string[] = [];
  for (const fd of await listDir("/proc/self/fd")) {
    const target = await Deno.readLink(`/proc/self/fd/${fd}`).catch(() => "");
    if (target.startsWith(root)) open.push(target);
  }
  return open;
}

async function assertNothingStored(root: string): Promise<void> {
  assert.deepEqual(await listDir(join(root, "tmp")), []);
  assert.deepEqual(await listDir(join(root, "generated")), []);
  assert.deepEqual(await openFilesUnder(root), []);
}

async function rejectsWith(promise: Promise<unknown>, retryable: boolean, message: RegExp) {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof DownloadError, `expected DownloadError, got ${error}`);
    assert.equal(error.retryable, retryable);
    assert.match(error.message, message);
    return true;
  });
}

async function readAll(stream: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

Deno.test("save streams a chunked PNG into generated/ with exact bytes and dimensions", async () => {
  await withStorage(async (storage, root) => {
    const image = png(120, 45);
    assert.ok(image.length > 1000);
    const stored = await storage.save(streamOf(image, 7), {
      name: "job1-0",
      maxBytes: 1_000_000,
      expectedBytes: image.length,
    });
    assert.deepEqual(stored, {
      file: "job1-0.png",
      content_type: "image/png",
      width: 120,
      height: 45,
      bytes: image.length,
    });
    assert.deepEqual(await Deno.readFile(join(root, "generated", "job1-0.png")), image);
    assert.deepEqual(await listDir(join(root, "tmp")), []);

    const info = await storage.stat("job1-0.png");
    assert.equal(info?.size, image.length);
    assert.ok(info?.mtime instanceof Date);
    assert.deepEqual(await readAll(await storage.read("job1-0.png")), image);
    assert.deepEqual(
      await readAll(await storage.read("job1-0.png", { start: 10, end: 19 })),
      image.slice(10, 20),
    );
  });
});

Deno.test("save puts settings chunks into a PNG as it streams; other types stay as sent", async () => {
  await withStorage(async (storage, root) => {
    const image = png(40, 24);
    const seen: { width: number; height: number }[] = [];
    const pngChunks = (size: { width: number; height: number }) => {
      seen.push(size);
      return textChunk("darkroom", JSON.stringify({ prompt: "p", model: "local/aurora" }));
    };
    for (const chunks of [1, 3, image.length]) {
      const stored = await storage.save(streamOf(image, chunks), {
        name: `p${chunks}`,
        maxBytes: 1_000_000,
        expectedBytes: image.length,
        pngChunks,
      });
      const kept = await Deno.readFile(join(root, "generated", stored.file));
      assert.equal(stored.bytes, kept.length);
      assert.deepEqual(kept.subarray(0, 33), image.subarray(0, 33), "signature and IHDR first");
      assert.deepEqual(kept.subarray(kept.length - (image.length - 33)), image.subarray(33));
      const decoded = decode(kept, { checkCrc: true });
      assert.deepEqual([decoded.width, decoded.height], [40, 24]);
      assert.equal(
        (await readPngText(kept)).get("darkroom"),
        '{"prompt":"p","model":"local/aurora"}',
      );
    }
    assert.deepEqual(seen, [1, 2, 3].map(() => ({ width: 40, height: 24 })));
    // A GIF is stored byte for byte.
    const gif = await storage.save(streamOf(GIF_1X1), { name: "g", maxBytes: 1000, pngChunks });
    assert.deepEqual(await Deno.readFile(join(root, "generated", gif.file)), GIF_1X1);
    assert.equal(gif.bytes, GIF_1X1.length);
  });
});

Deno.test("save accepts a body whose magic bytes arrive one byte at a time", async () => {
  await withStorage(async (storage, root) => {
    const image = png(4, 4);
    const stored = await storage.save(streamOf(image, image.length), {
      name: "tiny",
      maxBytes: image.length,
    });
    assert.equal(stored.file, "tiny.png");
    assert.equal(stored.bytes, image.length);
    assert.deepEqual(await Deno.readFile(join(root, "generated", "tiny.png")), image);
  });
});

Deno.test("save takes the extension from the detected type", async () => {
  await withStorage(async (storage) => {
    const gif = new Uint8Array([
      ...new TextEncoder().encode("GIF89a"),
      ...[7, 0, 3, 0, 0, 0, 0],
      ...new TextEncoder().encode(";"),
    ]);
    const stored = await storage.save(streamOf(gif), { name: "anim-1", maxBytes: 1000 });
    assert.deepEqual(stored, {
      file: "anim-1.gif",
      content_type: "image/gif",
      width: 7,
      height: 3,
      bytes: gif.length,
    });
  });
});

Deno.test("save refuses a non-image as retryable and leaves no files", async () => {
  await withStorage(async (storage, root) => {
    const page = new TextEncoder().encode(
      "<!DOCTYPE html><html><body>502 Bad Gateway</body></html>",
    );
    await rejectsWith(
      storage.save(streamOf(page, 3), { name: "job2-0", maxBytes: 1_000_000 }),
      true,
      /^Output is not an image \(got "<!DOCTYPE html>/,
    );
    await assertNothingStored(root);
    await rejectsWith(
      storage.save(
        streamOf(new Uint8Array([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15])),
        {
          name: "job2-1",
          maxBytes: 1000,
        },
      ),
      true,
      /^Output is not an image \(got bytes 00 01 02 03 04 05 06 07\)$/,
    );
    await rejectsWith(
      storage.save(streamOf(new Uint8Array(0)), { name: "job2-2", maxBytes: 1000 }),
      true,
      /got an empty body/,
    );
    await assertNothingStored(root);
  });
});

Deno.test("save refuses a body over maxBytes as not retryable and leaves no files", async () => {
  await withStorage(async (storage, root) => {
    const image = png(64, 64);
    let pulled = 0;
    const endless = new ReadableStream<Uint8Array>({
      pull(controller) {
        controller.enqueue(pulled === 0 ? image : new Uint8Array(4096));
        pulled++;
      },
    });
    await rejectsWith(
      storage.save(endless, { name: "big", maxBytes: 100_000 }),
      false,
      /^Output exceeds MAX_IMAGE_BYTES \(more than 100000 bytes\)$/,
    );
    assert.ok(pulled < 40, `stopped reading after ${pulled} chunks`);
    await assertNothingStored(root);

    await rejectsWith(
      storage.save(streamOf(image, 5), { name: "big", maxBytes: image.length - 1 }),
      false,
      /MAX_IMAGE_BYTES/,
    );
    // An announced length over the cap is refused before anything is written.
    await rejectsWith(
      storage.save(streamOf(image), { name: "big", maxBytes: 100, expectedBytes: image.length }),
      false,
      /MAX_IMAGE_BYTES/,
    );
    await assertNothingStored(root);
  });
});

Deno.test("save refuses a body shorter than expectedBytes as retryable", async () => {
  await withStorage(async (storage, root) => {
    const image = png(32, 32);
    await rejectsWith(
      storage.save(streamOf(image.slice(0, image.length - 10), 3), {
        name: "cut",
        maxBytes: 1_000_000,
        expectedBytes: image.length,
      }),
      true,
      new RegExp(`^Output was truncated \\(got ${image.length - 10} of ${image.length} bytes\\)$`),
    );
    await assertNothingStored(root);
  });
});

Deno.test("save turns a stream error into a retryable DownloadError", async () => {
  await withStorage(async (storage, root) => {
    const image = png(32, 32);
    let sent = false;
    const broken = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent) return controller.error(new TypeError("connection reset"));
        controller.enqueue(image.slice(0, 100));
        sent = true;
      },
    });
    await rejectsWith(
      storage.save(broken, { name: "broken", maxBytes: 1_000_000 }),
      true,
      /connection reset/,
    );
    await assertNothingStored(root);
  });
});

Deno.test("save stops on abort, cancels the body and leaves no files", async () => {
  await withStorage(async (storage, root) => {
    const image = png(32, 32);
    const controller = new AbortController();
    let canceled = false;
    let sent = false;
    // Sends the first bytes, then stalls until canceled.
    const stalled = new ReadableStream<Uint8Array>({
      pull(c) {
        if (!sent) {
          c.enqueue(image.slice(0, 200));
          sent = true;
          return;
        }
        return new Promise<void>(() => {});
      },
      cancel() {
        canceled = true;
      },
    });
    const saving = storage.save(stalled, {
      name: "slow",
      maxBytes: 1_000_000,
      signal: controller.signal,
    });
    setTimeout(() => controller.abort(new Error("worker shutting down")), 20);
    await rejectsWith(saving, true, /^Download was aborted: worker shutting down$/);
    assert.ok(canceled);
    await assertNothingStored(root);

    // Already aborted: nothing is created at all.
    await rejectsWith(
      storage.save(streamOf(image), {
        name: "late",
        maxBytes: 1_000_000,
        signal: controller.signal,
      }),
      true,
      /aborted/,
    );
    await assertNothingStored(root);
  });
});

Deno.test("save refuses unsafe names before writing anything", async () => {
  await withStorage(async (storage, root) => {
    for (const name of ["../escape", "a/b", ".hidden", "", "a\\b", "x".repeat(197)]) {
      await rejectsWith(
        storage.save(streamOf(png(2, 2)), { name, maxBytes: 1_000_000 }),
        false,
        /invalid name/,
      );
    }
    assert.deepEqual(await listDir(root), []);
    await assertNothingStored(root);
  });
});

Deno.test("stat, read and remove handle missing and invalid names", async () => {
  await withStorage(async (storage, root) => {
    assert.equal(await storage.stat("missing.png"), null);
    assert.equal(await storage.stat("../etc/passwd"), null);
    await Deno.mkdir(join(root, "generated", "dir.png"), { recursive: true });
    assert.equal(await storage.stat("dir.png"), null);
    await assert.rejects(storage.read("missing.png"), NotFoundError);
    await assert.rejects(storage.read("../x.png"), NotFoundError);
    await storage.remove("missing.png");
    await storage.remove("../x.png");

    const stored = await storage.save(streamOf(png(8, 8)), { name: "gone", maxBytes: 1_000_000 });
    await storage.remove(stored.file);
    assert.equal(await storage.stat(stored.file), null);
  });
});

Deno.test("read closes the file at the end and when cancelled half-way", async () => {
  await withStorage(async (storage, root) => {
    const stored = await storage.save(streamOf(png(300, 300)), {
      name: "large",
      maxBytes: 10_000_000,
    });
    assert.ok(stored.bytes > 64 * 1024);
    const reader = (await storage.read(stored.file)).getReader();
    const first = await reader.read();
    assert.equal(first.done, false);
    assert.equal((await openFilesUnder(root)).length, 1);
    await reader.cancel();
    assert.deepEqual(await openFilesUnder(root), []);

    await readAll(await storage.read(stored.file, { start: 100, end: 70_000 }));
    await readAll(await storage.read(stored.file));
    assert.deepEqual(await openFilesUnder(root), []);
  });
});

Deno.test("checkWritable creates the folders and throws when they cannot be written", async () => {
  await withStorage(async (storage, root) => {
    await storage.checkWritable();
    assert.deepEqual(await listDir(root), ["generated", "tmp"]);
    assert.deepEqual(await listDir(join(root, "tmp")), []);

    const blocker = join(root, "file");
    await Deno.writeTextFile(blocker, "not a folder");
    await assert.rejects(
      createLocalStorage(blocker).checkWritable(),
      /^Error: Cannot write to storage folder/,
    );
  });
});

Deno.test("put stores small objects whole, replaces them, and refuses unsafe names", async () => {
  await withStorage(async (storage, root) => {
    const bytes = new Uint8Array([1, 2, 3, 4, 5]);
    await storage.put("job-0.thumb.webp", bytes, "image/webp");
    assert.deepEqual(await Deno.readFile(join(root, "generated", "job-0.thumb.webp")), bytes);
    assert.equal((await storage.stat("job-0.thumb.webp"))?.size, 5);
    await storage.put("job-0.thumb.webp", new Uint8Array([9]), "image/webp");
    assert.deepEqual(
      await Deno.readFile(join(root, "generated", "job-0.thumb.webp")),
      new Uint8Array([9]),
    );
    await assert.rejects(storage.put("../x.webp", bytes, "image/webp"), /invalid name/);
    await assert.rejects(storage.put("a/b.webp", bytes, "image/webp"), /invalid name/);
    assert.deepEqual(await listDir(join(root, "tmp")), []);
    assert.deepEqual(await listDir(join(root, "generated")), ["job-0.thumb.webp"]);
  });
});
