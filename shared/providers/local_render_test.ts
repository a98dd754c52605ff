import assert from "node:assert/strict";
import { decode } from "fast-png";
import {
  hashString,
  isLocalModel,
  LOCAL_STYLES,
  mulberry32,
  type RenderOptions,
  renderPng,
} from "./local_render.ts";

const BASE: RenderOptions = {
  prompt: "a lighthouse on a cliff at sunset",
  style: "local/abstract",
  seed: 1234,
  width: 64,
  height: 64,
  index: 0,
};

function render(overrides: Partial<RenderOptions> = {}): Uint8Array {
  return renderPng({ ...BASE, ...overrides });
}

/** Width, height, bit depth and colour type from the IHDR chunk. */
function ihdr(png: Uint8Array): { width: number; height: number; depth: number; type: number } {
  const view = new DataView(png.buffer, png.byteOffset, png.byteLength);
  assert.equal(new TextDecoder().decode(png.subarray(12, 16)), "IHDR");
  return {
    width: view.getUint32(16),
    height: view.getUint32(20),
    depth: png[24],
    type: png[25],
  };
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

/** Mean of each channel and the variance of luma over the decoded image. */
function stats(png: Uint8Array): { mean: number[]; lumaVariance: number; colours: number } {
  const img = decode(png);
  assert.equal(img.channels, 3);
  assert.equal(img.depth, 8);
  const data = img.data;
  const pixels = img.width * img.height;
  const sum = [0, 0, 0];
  let luma = 0;
  let luma2 = 0;
  const colours = new Set<number>();
  for (let i = 0; i < data.length; i += 3) {
    sum[0] += data[i];
    sum[1] += data[i + 1];
    sum[2] += data[i + 2];
    const y = 0.2126 * data[i] + 0.7152 * data[i + 1] + 0.0722 * data[i + 2];
    luma += y;
    luma2 += y * y;
    colours.add((data[i] << 16) | (data[i + 1] << 8) | data[i + 2]);
  }
  const mean = luma / pixels;
  return {
    mean: sum.map((s) => s / pixels),
    lumaVariance: luma2 / pixels - mean * mean,
    colours: colours.size,
  };
}

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

Deno.test("renderPng writes an 8-bit RGB PNG of exactly the requested size", () => {
  for (const [width, height] of [[64, 64], [512, 768], [1024, 1024], [333, 77], [1, 1]]) {
    const png = render({ width, height });
    assert.deepEqual([...png.subarray(0, 8)], PNG_SIGNATURE);
    assert.deepEqual(ihdr(png), { width, height, depth: 8, type: 2 });
    const img = decode(png);
    assert.equal(img.width, width);
    assert.equal(img.height, height);
    assert.equal(img.data.length, width * height * 3);
  }
});

Deno.test("renderPng returns exactly the PNG's bytes (no spare buffer)", () => {
  const png = render();
  assert.equal(png.byteOffset, 0);
  assert.equal(png.buffer.byteLength, png.byteLength);
  assert.deepEqual([...png.subarray(-8, -4)], [0x49, 0x45, 0x4e, 0x44]); // IEND
});

Deno.test("renderPng is deterministic for every style", () => {
  for (const { id } of LOCAL_STYLES) {
    const a = render({ style: id, width: 96, height: 80 });
    const b = render({ style: id, width: 96, height: 80 });
    assert.ok(sameBytes(a, b), `${id} rendered differently twice`);
  }
});

Deno.test("renderPng changes with prompt, negative prompt, seed, index and style", () => {
  const base = render();
  const variants: Partial<RenderOptions>[] = [
    { prompt: "a lighthouse on a cliff at sunrise" },
    { negativePrompt: "blurry" },
    { seed: 1235 },
    { index: 1 },
    { style: "local/plasma" },
  ];
  for (const variant of variants) {
    assert.ok(!sameBytes(base, render(variant)), `no change for ${JSON.stringify(variant)}`);
  }
});

Deno.test("every style draws a varied, non-flat image", () => {
  for (const { id } of LOCAL_STYLES) {
    for (const prompt of ["misty forest", "neon city at night", "zzzz"]) {
      const s = stats(render({ style: id, prompt, width: 128, height: 96 }));
      assert.ok(s.lumaVariance > 20, `${id} / ${prompt}: luma variance ${s.lumaVariance}`);
      assert.ok(s.colours > 500, `${id} / ${prompt}: only ${s.colours} colours`);
    }
  }
});

Deno.test("colour words in the prompt steer the palette", () => {
  for (const { id } of LOCAL_STYLES) {
    if (id === "local/aurora") continue; // a night sky is blue whatever the curtains' colour
    const red = stats(render({ style: id, prompt: "crimson red scarlet", width: 96, height: 96 }));
    const blue = stats(render({ style: id, prompt: "blue cobalt navy", width: 96, height: 96 }));
    assert.ok(red.mean[0] > red.mean[2], `${id}: red prompt means ${red.mean}`);
    assert.ok(blue.mean[2] > blue.mean[0], `${id}: blue prompt means ${blue.mean}`);
  }
});

Deno.test("colour words in the negative prompt are steered away from", () => {
  const options = { style: "local/gradient", prompt: "crimson red scarlet", width: 96, height: 96 };
  const red = stats(render(options));
  const notRed = stats(render({ ...options, negativePrompt: "red, oversaturated" }));
  assert.ok(red.mean[0] > red.mean[2] + 30, `red prompt means ${red.mean}`);
  assert.ok(notRed.mean[0] < notRed.mean[2], `red negative prompt means ${notRed.mean}`);
});

Deno.test("style may be given with or without local/, unknown styles look abstract", () => {
  assert.ok(sameBytes(render({ style: "abstract" }), render({ style: "local/abstract" })));
  assert.ok(sameBytes(render({ style: "local/nope" }), render({ style: "local/abstract" })));
  assert.ok(!isLocalModel("local/nope"));
});

Deno.test("renderPng rejects impossible sizes", () => {
  assert.throws(() => render({ width: 0 }), RangeError);
  assert.throws(() => render({ height: 10.5 }), RangeError);
  assert.throws(() => render({ width: 100_000 }), RangeError);
});

Deno.test("LOCAL_STYLES lists local/<style> ids that isLocalModel accepts", () => {
  const ids = LOCAL_STYLES.map((s) => s.id);
  for (const id of ["local/abstract", "local/gradient", "local/plasma", "local/aurora"]) {
    assert.ok(ids.includes(id), `${id} missing`);
  }
  for (const style of LOCAL_STYLES) {
    assert.match(style.id, /^local\/[a-z]+$/);
    assert.ok(style.description.length > 0);
    assert.ok(isLocalModel(style.id));
  }
  assert.ok(!isLocalModel("abstract"));
  assert.ok(!isLocalModel("black-forest-labs/flux-schnell"));
});

Deno.test("hashString is 32-bit FNV-1a over UTF-8", () => {
  assert.equal(hashString(""), 0x811c9dc5);
  assert.equal(hashString("a"), 0xe40c292c);
  assert.equal(hashString("foobar"), 0xbf9cf968);
  assert.notEqual(hashString("é"), hashString("e"));
});

Deno.test("mulberry32 is seeded, repeatable and in [0, 1)", () => {
  const a = mulberry32(42);
  const b = mulberry32(42);
  const c = mulberry32(43);
  const seqA = Array.from({ length: 1000 }, a);
  assert.deepEqual(seqA, Array.from({ length: 1000 }, b));
  assert.notDeepEqual(seqA.slice(0, 10), Array.from({ length: 10 }, c));
  assert.ok(seqA.every((v) => v >= 0 && v < 1));
  const mean = seqA.reduce((s, v) => s + v, 0) / seqA.length;
  assert.ok(Math.abs(mean - 0.5) < 0.05, `mean ${mean}`);
});
