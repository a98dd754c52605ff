/** A starting image shrunk to a few pixels a side: what the offline renderer takes from it. */
import { loadSharp } from "./thumbnails.ts";

/** The image (PNG, JPEG, WebP, GIF) as `side` x `side` sRGB pixels, RGB bytes row by row. */
export async function imageSketch(bytes: Uint8Array, side = 8): Promise<number[]> {
  const sharp = await loadSharp();
  const raw = await sharp(bytes, { failOn: "error", limitInputPixels: 100_000_000 })
    .rotate()
    .resize(side, side, { fit: "fill" })
    .removeAlpha()
    .raw()
    .toBuffer();
  return Array.from(raw.subarray(0, side * side * 3));
}
