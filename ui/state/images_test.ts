import assert from "node:assert/strict";
import {
  IMAGE_RETRY_MS,
  onImageError,
  onImageLoad,
  retryBrokenImages,
  retryUrl,
  thumbnailSize,
  tileSources,
} from "./images.ts";

const base = { content_type: "image/png", bytes: 1 };

Deno.test("thumbnailSize: fits 512 px on the long side, never enlarged", () => {
  assert.deepEqual(thumbnailSize(1024, 1024), { width: 512, height: 512 });
  assert.deepEqual(thumbnailSize(1344, 768), { width: 512, height: 293 });
  assert.deepEqual(thumbnailSize(768, 1344), { width: 293, height: 512 });
  assert.deepEqual(thumbnailSize(300, 200), { width: 300, height: 200 });
});

Deno.test("tileSources: the thumbnail first, the full image for larger tiles", () => {
  const size = { width: 1, height: 1 };
  assert.deepEqual(
    tileSources({
      ...base,
      url: "/images/a.png",
      thumbnail_url: "/images/a.thumb.webp",
      width: 1344,
      height: 768,
    }, size),
    {
      src: "/images/a.thumb.webp",
      srcset: "/images/a.thumb.webp 512w, /images/a.png 1344w",
      width: 1344,
      height: 768,
    },
  );
  // Small images: the thumbnail is as large as the image, no srcset.
  const small = tileSources({
    ...base,
    url: "/images/b.png",
    thumbnail_url: "/images/b.thumb.webp",
    width: 256,
    height: 256,
  }, size);
  assert.deepEqual(small, {
    src: "/images/b.thumb.webp",
    srcset: undefined,
    width: 256,
    height: 256,
  });
  // Unknown size: the thumbnail at the reserved size. No thumbnail offered: the image itself.
  assert.deepEqual(
    tileSources({ ...base, url: "/c.png", thumbnail_url: "/c.webp", width: null, height: null }, {
      width: 768,
      height: 512,
    }),
    { src: "/c.webp", width: 768, height: 512 },
  );
  assert.deepEqual(
    tileSources({ ...base, url: "/d.png", width: 10, height: 20 }, size),
    { src: "/d.png", width: 10, height: 20 },
  );
});

/** Just enough of an <img> for the retry logic. */
function fakeImg(src: string, srcset?: string) {
  const attrs = new Map<string, string>([["src", src]]);
  if (srcset) attrs.set("srcset", srcset);
  return {
    dataset: {} as Record<string, string | undefined>,
    isConnected: true,
    getAttribute: (name: string) => attrs.get(name) ?? null,
    removeAttribute: (name: string) => void attrs.delete(name),
    get src() {
      return attrs.get("src")!;
    },
    set src(value: string) {
      attrs.set("src", value);
    },
  };
}

Deno.test("broken images: thumbnail → full image → cache-busting retries after 1, 3, 10, 30 s", () => {
  const img = fakeImg("/images/a.thumb.webp", "/images/a.thumb.webp 512w, /images/a.png 1344w");
  const el = img as unknown as HTMLImageElement;
  const waits: number[] = [];
  const due: (() => void)[] = [];
  const schedule = (fn: () => void, ms: number) => {
    waits.push(ms);
    due.push(fn);
  };
  onImageError(el, "/images/a.png", schedule);
  assert.equal(img.src, "/images/a.png", "the thumbnail fell back to the full image");
  assert.equal(img.getAttribute("srcset"), null);
  assert.equal(waits.length, 0);
  for (let n = 1; n <= 4; n++) {
    onImageError(el, "/images/a.png", schedule);
    assert.equal(img.dataset.broken, "/images/a.png");
    due.shift()!();
    assert.equal(img.src, `/images/a.png?retry=${n}`);
  }
  assert.deepEqual(waits, [...IMAGE_RETRY_MS]);
  onImageError(el, "/images/a.png", schedule);
  assert.equal(due.length, 0, "no more timed retries: the next one comes with the live feed");
  // The feed came back: every broken image is asked for again.
  const root = { querySelectorAll: () => [el] } as unknown as ParentNode;
  assert.equal(retryBrokenImages(root), 1);
  assert.equal(img.src, "/images/a.png?retry=5");
  onImageLoad(el);
  assert.equal(img.dataset.broken, undefined);
  assert.equal(img.dataset.retries, undefined);
});

Deno.test("retryUrl: one retry parameter, other query parameters kept", () => {
  assert.equal(retryUrl("/images/a.png", 1), "/images/a.png?retry=1");
  assert.equal(retryUrl("/images/a.png?retry=1", 2), "/images/a.png?retry=2");
  assert.equal(retryUrl("/i/a.png?sig=x&retry=3", 4), "/i/a.png?sig=x&retry=4");
  assert.equal(retryUrl("/i/a.png?retry=3&sig=x", 4), "/i/a.png?sig=x&retry=4");
});
