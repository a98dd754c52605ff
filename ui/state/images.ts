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

/** Waits before each automatic retry of an image that failed to load (ms); then only on resync. */
export const IMAGE_RETRY_MS: readonly number[] = [1000, 3000, 10_000, 30_000];

/** `url` with a cache-busting `retry=n`, so the browser asks the server again. */
export function retryUrl(url: string, n: number): string {
  const clean = url.replace(/([?&])retry=\d+(&|$)/, (_, lead, tail) => tail ? lead : "")
    .replace(/[?&]$/, "");
  return `${clean}${clean.includes("?") ? "&" : "?"}retry=${n}`;
}

/**
 * `onError` of an image. A thumbnail falls back to the full image (fallBackToFull). A full image
 * that fails (the server restarting, a connection dropped) is marked broken (`data-broken`) and
 * loaded again, with a cache-busting query, after 1 s, 3 s, 10 s and 30 s, and whenever the live
 * feed comes back (`retryBrokenImages`); `onImageLoad` clears the mark.
 */
export function onImageError(
  el: HTMLImageElement,
  fullUrl: string,
  schedule: (fn: () => void, ms: number) => unknown = setTimeout,
): void {
  if (!el.dataset.broken && el.getAttribute("src") !== fullUrl) {
    fallBackToFull(el, fullUrl);
    return;
  }
  el.dataset.broken = fullUrl;
  const tries = Number(el.dataset.retries ?? "0");
  if (tries < IMAGE_RETRY_MS.length) schedule(() => retryImage(el), IMAGE_RETRY_MS[tries]);
}

/** `onLoad` of an image: it is whole again. */
export function onImageLoad(el: HTMLImageElement): void {
  if (!el.dataset.broken) return;
  delete el.dataset.broken;
  delete el.dataset.retries;
}

/** Loads a broken image again now (if it is still on the page and still broken). */
export function retryImage(el: HTMLImageElement): void {
  const url = el.dataset.broken;
  if (!url || !el.isConnected) return;
  const n = Number(el.dataset.retries ?? "0") + 1;
  el.dataset.retries = String(n);
  el.removeAttribute("srcset");
  el.src = retryUrl(url, n);
}

/** Loads every broken image under `root` again (the live feed came back). */
export function retryBrokenImages(root: ParentNode = document): number {
  const broken = [...root.querySelectorAll<HTMLImageElement>("img[data-broken]")];
  for (const el of broken) retryImage(el);
  return broken.length;
}
