/**
 * Thumbnails: a small WebP beside every stored image (`X.png` → `X.thumb.webp`), made with sharp
 * by the worker when it stores an image, or lazily by the API for images stored before.
 */
import type { StoredImage } from "../jobs/repo.ts";
import type { Logger } from "../logger.ts";
import type { ObjectInfo, Storage } from "../storage/storage.ts";

/** Longest side of a thumbnail in pixels; smaller images keep their size. */
export const THUMBNAIL_MAX_SIDE = 512;
/** WebP quality: ~70–75 keeps a 512 px rendering of a 1024 px image near 20–60 KB. */
export const THUMBNAIL_QUALITY = 72;
export const THUMBNAIL_CONTENT_TYPE = "image/webp";
const SUFFIX = ".thumb.webp";
/** Extensions a stored original may have (those `Storage.save` gives). */
const ORIGINAL_EXTENSIONS = ["png", "jpg", "jpeg", "webp", "gif"];

/** The thumbnail's file name for a stored image: `X.<ext>` → `X.thumb.webp`. */
export function thumbnailName(file: string): string {
  const dot = file.lastIndexOf(".");
  return `${dot > 0 ? file.slice(0, dot) : file}${SUFFIX}`;
}

/** True for a name `thumbnailName` makes. */
export function isThumbnailName(file: string): boolean {
  return file.endsWith(SUFFIX) && file.length > SUFFIX.length;
}

/** The names the original of a thumbnail may have, most likely first. */
export function originalCandidates(thumbFile: string): string[] {
  if (!isThumbnailName(thumbFile)) return [];
  const base = thumbFile.slice(0, -SUFFIX.length);
  return ORIGINAL_EXTENSIONS.map((ext) => `${base}.${ext}`);
}

/** The stored files of an image: the image and its thumbnail (made now or lazily later). */
export function storedFiles(image: StoredImage): string[] {
  const thumb = image.thumbnail ?? thumbnailName(image.file);
  const lazy = thumbnailName(image.file);
  return thumb === lazy ? [image.file, thumb] : [image.file, thumb, lazy];
}

/** Removes images and their thumbnails; a missing file or a failed removal is skipped. */
export async function removeImages(storage: Storage, images: StoredImage[]): Promise<void> {
  await Promise.all(
    images.flatMap(storedFiles).map((file) => storage.remove(file).catch(() => {})),
  );
}

type Sharp = typeof import("sharp");
let loaded: Promise<Sharp> | undefined;

/**
 * sharp, loaded on first use (a native addon: the process needs `--allow-ffi`). Its operation
 * cache is turned off: every thumbnail comes from a different image, so it would only hold memory.
 */
export function loadSharp(): Promise<Sharp> {
  loaded ??= import("sharp").then((mod) => {
    mod.default.cache(false);
    return mod.default;
  }).catch((err) => {
    loaded = undefined;
    throw err;
  });
  return loaded;
}

/** Options for `makeThumbnail`. */
export interface ThumbnailOptions {
  /** Longest side (default THUMBNAIL_MAX_SIDE). */
  maxSide?: number;
  /** WebP quality 1–100 (default THUMBNAIL_QUALITY). */
  quality?: number;
  /** A stream longer than this is refused (default 64 MiB). */
  maxInputBytes?: number;
}

/**
 * A WebP thumbnail of an image (PNG, JPEG, WebP, GIF: its first frame), at most `maxSide` on the
 * long side, never enlarged, turned upright by its EXIF orientation, metadata dropped.
 */
export async function makeThumbnail(
  input: Uint8Array | ReadableStream<Uint8Array>,
  options: ThumbnailOptions = {},
): Promise<Uint8Array> {
  const maxSide = options.maxSide ?? THUMBNAIL_MAX_SIDE;
  const bytes = input instanceof Uint8Array
    ? input
    : await readAll(input, options.maxInputBytes ?? 64 * 1024 * 1024);
  const sharp = await loadSharp();
  const out = await sharp(bytes, { failOn: "error" })
    .rotate()
    .resize(maxSide, maxSide, { fit: "inside", withoutEnlargement: true })
    .webp({ quality: options.quality ?? THUMBNAIL_QUALITY, effort: 4 })
    .toBuffer();
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
}

/**
 * Makes and stores the thumbnail of a stored image; resolves to its file name. Reads the image
 * back through storage (one copy in memory, at most MAX_IMAGE_BYTES, for sharp to decode).
 */
export async function storeThumbnail(storage: Storage, file: string): Promise<string> {
  const thumb = await makeThumbnail(await storage.read(file));
  const name = thumbnailName(file);
  await storage.put(name, thumb, THUMBNAIL_CONTENT_TYPE);
  return name;
}

/**
 * The stored image with its thumbnail recorded: `thumbnail` is the file name, or null when it
 * could not be made (logged as a warning; a thumbnail never fails a job).
 */
export async function withThumbnail(
  storage: Storage,
  image: StoredImage,
  logger: Logger,
): Promise<StoredImage> {
  const started = performance.now();
  try {
    const thumbnail = await storeThumbnail(storage, image.file);
    logger.debug("thumbnail stored", {
      file: thumbnail,
      ms: Math.round(performance.now() - started),
    });
    return { ...image, thumbnail };
  } catch (err) {
    logger.warn("cannot make thumbnail; the image is kept without one", { file: image.file, err });
    return { ...image, thumbnail: null };
  }
}

/**
 * Makes a missing thumbnail from its original, when one is stored under any of the extensions:
 * resolves to the new thumbnail's info, or null when there is no original or sharp refused it.
 */
export async function ensureThumbnail(
  storage: Storage,
  thumbFile: string,
  logger?: Logger,
): Promise<ObjectInfo | null> {
  for (const original of originalCandidates(thumbFile)) {
    if (!(await storage.stat(original))) continue;
    try {
      await storeThumbnail(storage, original);
    } catch (err) {
      logger?.warn("cannot make thumbnail on request", { file: original, err });
      return null;
    }
    logger?.info("thumbnail made on request", { file: thumbFile });
    return await storage.stat(thumbFile);
  }
  return null;
}

/**
 * `ensureThumbnail` with one generation per name at a time: requests for the same missing
 * thumbnail (a gallery page asking at once) wait for the first one's result.
 */
export function createLazyThumbnails(
  storage: Storage,
  logger?: Logger,
): { ensure(thumbFile: string): Promise<ObjectInfo | null> } {
  const running = new Map<string, Promise<ObjectInfo | null>>();
  return {
    ensure(thumbFile) {
      if (!isThumbnailName(thumbFile)) return Promise.resolve(null);
      let pending = running.get(thumbFile);
      if (!pending) {
        pending = ensureThumbnail(storage, thumbFile, logger)
          .finally(() => running.delete(thumbFile));
        running.set(thumbFile, pending);
      }
      return pending;
    },
  };
}

async function readAll(stream: ReadableStream<Uint8Array>, max: number): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let length = 0;
  for await (const chunk of stream) {
    length += chunk.byteLength;
    if (length > max) {
      throw new Error(`Cannot make thumbnail: the image is over ${max} bytes`);
    }
    chunks.push(chunk);
  }
  if (chunks.length === 1) return chunks[0];
  const joined = new Uint8Array(length);
  let at = 0;
  for (const chunk of chunks) {
    joined.set(chunk, at);
    at += chunk.byteLength;
  }
  return joined;
}
