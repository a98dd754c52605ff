/** Small real images for tests of uploads and image inputs. */
import { encode } from "fast-png";

/** A width x height PNG: a left-to-right blend from `from` to `to` (RGB 0–255). */
export function pngBytes(
  width = 16,
  height = 16,
  from: [number, number, number] = [220, 30, 30],
  to: [number, number, number] = [30, 30, 220],
): Uint8Array<ArrayBuffer> {
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const t = width > 1 ? x / (width - 1) : 0;
      for (let c = 0; c < 3; c++) data[(y * width + x) * 3 + c] = from[c] + (to[c] - from[c]) * t;
    }
  }
  return new Uint8Array(encode({ width, height, data, channels: 3, depth: 8 }));
}

/** The smallest GIF (1x1), for type sniffing. */
export const GIF_1X1 = Uint8Array.from(
  atob("R0lGODlhAQABAIAAAAAAAP///ywAAAAAAQABAAACAUwAOw=="),
  (c) => c.charCodeAt(0),
);
