import assert from "node:assert/strict";
import { join } from "node:path";
import { encode } from "fast-png";
import sharp from "sharp";
import { createLogger } from "../logger.ts";
import { renderPng } from "../providers/local_render.ts";
import { createLocalStorage } from "../storage/local.ts";
import type { Storage } from "../storage/storage.ts";
import { detectImageType } from "./image_info.ts";
import {
  createLazyThumbnails,
  ensureThumbnail,
  isThumbnailName,
  makeThumbnail,
  originalCandidates,
  removeImages,
  storedFiles,
  thumbnailName,
  withThumbnail,
} from "./thumbnails.ts";

function noisePng(width: number, height: number): Uint8Array {
  let seed = 11;
  const data = Uint8Array.from(
    { length: width * height * 3 },
    () => (seed = (Math.imul(seed, 1103515245) + 12345) & 0x7fffffff) >> 16 & 0xff,
  );
  return encode({ width, height, data, channels: 3 });
}

async function size(bytes: Uint8Array): Promise<{ width?: number; height?: number }> {
  const meta = await sharp(bytes).metadata();
  return { width: meta.width, height: meta.height };
}

async function withStorage(fn: (storage: Storage, root: string) => Promise<void>): Promise<void> {
  const root = await Deno.makeTempDir({ prefix: "darkroom-thumbs-" });
  try {
    await fn(createLocalStorage(root), root);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}

function quietLogger(lines: string[] = []) {
  return createLogger({ level: "debug", write: (line) => lines.push(line) });
}

Deno.test("thumbnails: names pair an image with its .thumb.webp", () => {
  assert.equal(thumbnailName("abc-0.png"), "abc-0.thumb.webp");
  assert.equal(thumbnailName("abc-1.jpeg"), "abc-1.thumb.webp");
  assert.equal(thumbnailName("abc-1.webp"), "abc-1.thumb.webp");
  assert.ok(isThumbnailName("abc-0.thumb.webp"));
  assert.ok(!isThumbnailName("abc-0.webp"));
  assert.ok(!isThumbnailName(".thumb.webp"));
  assert.deepEqual(originalCandidates("abc-0.thumb.webp"), [
    "abc-0.png",
    "abc-0.jpg",
    "abc-0.jpeg",
    "abc-0.webp",
    "abc-0.gif",
  ]);
  assert.deepEqual(originalCandidates("abc-0.png"), []);
  const image = { file: "j-0.png", content_type: "image/png", width: 1, height: 1, bytes: 1 };
  assert.deepEqual(storedFiles(image), ["j-0.png", "j-0.thumb.webp"]);
  assert.deepEqual(storedFiles({ ...image, thumbnail: null }), ["j-0.png", "j-0.thumb.webp"]);
});

Deno.test("thumbnails: a WebP of at most 512 px on the long side, never enlarged", async () => {
  const square = await makeThumbnail(noisePng(1024, 1024));
  assert.equal(detectImageType(square)?.contentType, "image/webp");
  assert.deepEqual(await size(square), { width: 512, height: 512 });

  const wide = await makeThumbnail(noisePng(1200, 600));
  assert.deepEqual(await size(wide), { width: 512, height: 256 });

  const tall = await makeThumbnail(ReadableStream.from([noisePng(300, 900)]));
  assert.deepEqual(await size(tall), { width: 171, height: 512 });

  const small = await makeThumbnail(noisePng(100, 60));
  assert.deepEqual(await size(small), { width: 100, height: 60 }, "not upscaled");

  const jpeg = await sharp(noisePng(800, 800)).jpeg().toBuffer();
  assert.deepEqual(await size(await makeThumbnail(new Uint8Array(jpeg))), {
    width: 512,
    height: 512,
  });
});

Deno.test("thumbnails: a 1024 px render becomes a thumbnail of a few KB", async () => {
  for (const style of ["local/abstract", "local/marble", "local/plasma"]) {
    const png = renderPng({
      prompt: "a lighthouse",
      style,
      seed: 1,
      width: 1024,
      height: 1024,
      index: 0,
    });
    const thumb = await makeThumbnail(png);
    assert.ok(thumb.byteLength < 60 * 1024, `${style}: ${thumb.byteLength} bytes`);
    assert.ok(thumb.byteLength * 20 < png.byteLength, `${style}: at least 20× smaller`);
  }
});

Deno.test("thumbnails: broken or oversized input is refused", async () => {
  await assert.rejects(makeThumbnail(new TextEncoder().encode("not an image at all")));
  await assert.rejects(
    makeThumbnail(ReadableStream.from([new Uint8Array(10), new Uint8Array(10)]), {
      maxInputBytes: 15,
    }),
    /over 15 bytes/,
  );
});

Deno.test("thumbnails: withThumbnail stores it beside the image; a failure keeps the image", async () => {
  await withStorage(async (storage, root) => {
    const image = await storage.save(ReadableStream.from([noisePng(640, 480)]), {
      name: "job-0",
      maxBytes: 10_000_000,
    });
    const lines: string[] = [];
    const done = await withThumbnail(storage, image, quietLogger(lines));
    assert.equal(done.thumbnail, "job-0.thumb.webp");
    assert.equal(done.file, image.file);
    const thumb = await Deno.readFile(join(root, "generated", "job-0.thumb.webp"));
    assert.deepEqual(await size(thumb), { width: 512, height: 384 });
    assert.deepEqual([...Deno.readDirSync(join(root, "tmp"))], [], "no partial file left");

    // A GIF header with nothing behind it: sharp refuses it, the job keeps its image.
    const broken = await storage.save(
      ReadableStream.from([new TextEncoder().encode("GIF89a\x10\x00\x10\x00junkjunkjunk")]),
      { name: "job-1", maxBytes: 1000 },
    );
    const kept = await withThumbnail(storage, broken, quietLogger(lines));
    assert.equal(kept.thumbnail, null);
    assert.ok(lines.some((l) => JSON.parse(l).msg.startsWith("cannot make thumbnail")));
    assert.equal(await storage.stat("job-1.thumb.webp"), null);

    await removeImages(storage, [done, kept]);
    assert.deepEqual([...Deno.readDirSync(join(root, "generated"))], []);
  });
});

Deno.test("thumbnails: ensureThumbnail makes a missing one from the original, once", async () => {
  await withStorage(async (storage) => {
    await storage.save(ReadableStream.from([noisePng(700, 700)]), {
      name: "old-0",
      maxBytes: 10_000_000,
    });
    assert.equal(await ensureThumbnail(storage, "nothing-0.thumb.webp"), null);
    assert.equal(await ensureThumbnail(storage, "old-0.png"), null, "not a thumbnail name");

    let puts = 0;
    const counting: Storage = {
      ...storage,
      put: (...args) => {
        puts++;
        return storage.put(...args);
      },
    };
    const lazy = createLazyThumbnails(counting);
    const infos = await Promise.all([1, 2, 3].map(() => lazy.ensure("old-0.thumb.webp")));
    assert.equal(puts, 1, "three requests at once make it once");
    assert.ok(infos.every((info) => info && info.size > 0));
    assert.equal((await storage.stat("old-0.thumb.webp"))?.size, infos[0]!.size);
  });
});
