import assert from "node:assert/strict";
import { thumbnailSize, tileSources } from "./images.ts";

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
