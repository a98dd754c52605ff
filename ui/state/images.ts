/**
 * Which file a tile loads: the thumbnail (a WebP of at most 512 px on the long side), with the
 * full image offered in `srcset` for tiles drawn larger than the thumbnail (big or dense screens).
 */
import type { ImageJson } from "../api_client.ts";

/** Longest side of the API's thumbnails (shared/media/thumbnails.ts). */
export const THUMBNAIL_MAX_SIDE = 512;

/** Attributes of an `<img>` for a grid tile. */
export interface TileSources {
  src: string;
  /** `thumb 512w, full 1024w` when both widths are known and the full image is wider. */
  srcset?: string;
  width: number;
  height: number;
}

/** The thumbnail's size: the image scaled to fit THUMBNAIL_MAX_SIDE, never enlarged. */
export function thumbnailSize(width: number, height: number): { width: number; height: number } {
  const scale = Math.min(1, THUMBNAIL_MAX_SIDE / Math.max(width, height));
  return {
    width: Math.max(1, Math.round(width * scale)),
    height: Math.max(1, Math.round(height * scale)),
  };
}

/** The tile's sources; `size` is the space to reserve when the image's own size is unknown. */
export function tileSources(
  img: ImageJson,
  size: { width: number; height: number },
): TileSources {
  const width = img.width ?? size.width;
  const height = img.height ?? size.height;
  if (!img.thumbnail_url) return { src: img.url, width, height };
  if (!img.width || !img.height) return { src: img.thumbnail_url, width, height };
  const thumb = thumbnailSize(img.width, img.height);
  return {
    src: img.thumbnail_url,
    srcset: thumb.width < img.width
      ? `${img.thumbnail_url} ${thumb.width}w, ${img.url} ${img.width}w`
      : undefined,
    width,
    height,
  };
}

/** A thumbnail that fails to load (not made yet, refused): show the full image instead. */
export function fallBackToFull(el: HTMLImageElement, fullUrl: string): void {
  if (el.getAttribute("src") === fullUrl) return;
  el.removeAttribute("srcset");
  el.src = fullUrl;
}
