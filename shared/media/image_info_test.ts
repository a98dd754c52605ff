import assert from "node:assert/strict";
import { encode } from "fast-png";
import { detectImageType, imageDimensions } from "./image_info.ts";

function png(width: number, height: number): Uint8Array {
  return encode({ width, height, data: new Uint8Array(width * height * 4), channels: 4 });
}

function fromBase64(b64: string): Uint8Array {
  return Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
}

function bytes(...parts: (number[] | string | Uint8Array)[]): Uint8Array {
  const arrays = parts.map((p) =>
    typeof p === "string" ? new TextEncoder().encode(p) : Uint8Array.from(p)
  );
  const out = new Uint8Array(arrays.reduce((n, a) => n + a.length, 0));
  let offset = 0;
  for (const a of arrays) {
    out.set(a, offset);
    offset += a.length;
  }
  return out;
}

function le16(n: number): number[] {
  return [n & 0xff, (n >> 8) & 0xff];
}

function le24(n: number): number[] {
  return [n & 0xff, (n >> 8) & 0xff, (n >> 16) & 0xff];
}

function le32(n: number): number[] {
  return [n & 0xff, (n >> 8) & 0xff, (n >> 16) & 0xff, (n >>> 24) & 0xff];
}

function be16(n: number): number[] {
  return [(n >> 8) & 0xff, n & 0xff];
}

function riff(chunk: string, payload: Uint8Array): Uint8Array {
  const body = bytes("WEBP", chunk, le32(payload.length), payload);
  return bytes("RIFF", le32(body.length), body);
}

function webpLossy(width: number, height: number): Uint8Array {
  // Key-frame tag (3 bytes), start code, 14-bit sizes, then some frame data.
  return riff(
    "VP8 ",
    bytes([0x30, 0x01, 0x00, 0x9d, 0x01, 0x2a], le16(width), le16(height), [0, 0]),
  );
}

function webpLossless(width: number, height: number): Uint8Array {
  const bits = ((width - 1) | ((height - 1) << 14)) >>> 0;
  return riff("VP8L", bytes([0x2f], le32(bits), [0, 0, 0]));
}

function webpExtended(width: number, height: number): Uint8Array {
  return riff("VP8X", bytes([0x10, 0, 0, 0], le24(width - 1), le24(height - 1)));
}

function gif(width: number, height: number): Uint8Array {
  return bytes("GIF89a", le16(width), le16(height), [0x80, 0, 0], [0, 0, 0, 255, 255, 255], ";");
}

function segment(marker: number, payload: Uint8Array | number[]): Uint8Array {
  return bytes([0xff, marker], be16(payload.length + 2), payload);
}

function jpeg(width: number, height: number, options: { padding?: number; sof?: number } = {}) {
  const jfif = segment(0xe0, bytes("JFIF\0", [1, 1, 0, 0, 1, 0, 1, 0, 0]));
  // APP segments (EXIF, ICC) can push the frame header far from the start of the file.
  const padding: Uint8Array[] = [];
  for (let left = options.padding ?? 0; left > 0; left -= 60_000) {
    padding.push(segment(0xe1, new Uint8Array(Math.min(left, 60_000))));
  }
  const dqt = segment(0xdb, new Uint8Array(65));
  const sof = segment(options.sof ?? 0xc0, bytes([8], be16(height), be16(width), [1, 1, 0x11, 0]));
  const dht = segment(0xc4, new Uint8Array(20));
  const sos = segment(0xda, [1, 1, 0, 0, 63, 0]);
  return bytes([0xff, 0xd8], jfif, ...padding, dqt, [0xff, 0xff], sof, dht, sos, [0, 0xff, 0xd9]);
}

Deno.test("detectImageType recognises the four formats by magic bytes", () => {
  assert.deepEqual(detectImageType(png(2, 2)), { contentType: "image/png", ext: "png" });
  assert.deepEqual(detectImageType(jpeg(2, 2)), { contentType: "image/jpeg", ext: "jpg" });
  assert.deepEqual(detectImageType(webpLossy(2, 2)), { contentType: "image/webp", ext: "webp" });
  assert.deepEqual(detectImageType(gif(2, 2)), { contentType: "image/gif", ext: "gif" });
  assert.deepEqual(detectImageType(bytes("GIF87a", [1, 0, 1, 0])), {
    contentType: "image/gif",
    ext: "gif",
  });
});

Deno.test("detectImageType rejects other and partial input", () => {
  const cases = [
    new Uint8Array(0),
    bytes("<!DOCTYPE html><html>"),
    bytes('{"detail":"Not found"}'),
    bytes("BM", new Uint8Array(40)), // BMP
    bytes([0, 0, 0, 0x1c], "ftypavif"), // AVIF
    bytes("RIFF", le32(100), "WAVEfmt "), // RIFF that is not WebP
    bytes([0x89, 0x50, 0x4e, 0x47]), // truncated PNG signature
    bytes([0xff, 0xd8]), // truncated JPEG
    bytes("GIF8"),
  ];
  for (const input of cases) assert.equal(detectImageType(input), null);
});

Deno.test("imageDimensions reads PNG IHDR from fast-png output", () => {
  assert.deepEqual(imageDimensions(png(3, 2)), { width: 3, height: 2 });
  assert.deepEqual(imageDimensions(png(320, 17)), { width: 320, height: 17 });
  // The header alone is enough.
  assert.deepEqual(imageDimensions(png(640, 480).subarray(0, 24)), { width: 640, height: 480 });
});

Deno.test("imageDimensions reads GIF logical screen", () => {
  assert.deepEqual(imageDimensions(gif(640, 480)), { width: 640, height: 480 });
  // A real 1x1 GIF.
  const pixel = fromBase64("R0lGODlhAQABAIAAAP///wAAACH5BAEAAAAALAAAAAABAAEAAAICRAEAOw==");
  assert.deepEqual(imageDimensions(pixel), { width: 1, height: 1 });
});

Deno.test("imageDimensions reads WebP VP8, VP8L and VP8X headers", () => {
  assert.deepEqual(imageDimensions(webpLossy(1024, 768)), { width: 1024, height: 768 });
  assert.deepEqual(imageDimensions(webpLossless(1000, 16383)), { width: 1000, height: 16383 });
  assert.deepEqual(imageDimensions(webpExtended(16384, 9000)), { width: 16384, height: 9000 });
  // Real 1x1 files (lossy, lossless, extended with alpha).
  const real = [
    "UklGRiIAAABXRUJQVlA4IBYAAAAwAQCdASoBAAEADsD+JaQAA3AAAAAA",
    "UklGRhoAAABXRUJQVlA4TA0AAAAvAAAAEAcQERGIiP4HAA==",
    "UklGRkoAAABXRUJQVlA4WAoAAAAQAAAAAAAAAAAAQUxQSAwAAAARBxAR/Q9ERP8DAABWUDggGAAAABQBAJ0BKgEAAQAAAP4AAA3AAP7mtQAAAA==",
  ];
  for (const b64 of real) {
    assert.deepEqual(imageDimensions(fromBase64(b64)), { width: 1, height: 1 }, b64);
  }
});

Deno.test("imageDimensions walks JPEG segments to the SOF marker", () => {
  assert.deepEqual(imageDimensions(jpeg(800, 600)), { width: 800, height: 600 });
  // Progressive (SOF2) frame.
  assert.deepEqual(imageDimensions(jpeg(33, 65535, { sof: 0xc2 })), { width: 33, height: 65535 });
  // Frame header ~150 KB into the file, behind large APP1 segments.
  const far = jpeg(1920, 1080, { padding: 150_000 });
  assert.ok(far.length > 150_000);
  assert.deepEqual(imageDimensions(far), { width: 1920, height: 1080 });
});

Deno.test("imageDimensions returns null for truncated or broken input and never throws", () => {
  const samples = [png(64, 64), gif(5, 5), webpLossy(9, 9), webpLossless(9, 9), webpExtended(9, 9)];
  samples.push(jpeg(10, 10, { padding: 1000 }));
  for (const sample of samples) {
    // No prefix throws or yields a zero size.
    for (let n = 0; n < Math.min(sample.length, 1200); n++) {
      const result = imageDimensions(sample.subarray(0, n));
      if (result !== null) assert.ok(result.width > 0 && result.height > 0);
    }
    assert.equal(imageDimensions(sample.subarray(0, 8)), null);
  }
  // JPEG cut just before its frame header.
  const cut = jpeg(10, 10, { padding: 1000 });
  const sofAt = cut.findIndex((v, i) => v === 0xff && cut[i + 1] === 0xc0);
  assert.equal(imageDimensions(cut.subarray(0, sofAt + 6)), null);
  assert.deepEqual(imageDimensions(cut.subarray(0, sofAt + 9)), { width: 10, height: 10 });
  // Garbage after valid magic bytes.
  assert.equal(imageDimensions(bytes([0xff, 0xd8, 0xff, 0xe0, 0, 0, 1, 2, 3])), null);
  assert.equal(imageDimensions(bytes([0xff, 0xd8, 0x00, 0x01, 0x02])), null);
  assert.equal(imageDimensions(bytes([0xff, 0xd8, 0xff, 0xda, 0, 8])), null);
  assert.equal(imageDimensions(bytes(png(4, 4).subarray(0, 12), "XXXX", new Uint8Array(8))), null);
  assert.equal(imageDimensions(riff("VP8 ", new Uint8Array(10))), null);
  assert.equal(imageDimensions(riff("VP8L", new Uint8Array(10))), null);
  assert.equal(imageDimensions(riff("ALPH", new Uint8Array(10))), null);
  assert.equal(imageDimensions(gif(0, 10)), null);
  assert.equal(imageDimensions(bytes("not an image at all")), null);
  // Random bytes behind each signature.
  let seed = 42;
  const random = (n: number) =>
    Uint8Array.from(
      { length: n },
      () => (seed = (Math.imul(seed, 1103515245) + 12345) & 0x7fffffff) >> 16 & 0xff,
    );
  for (const prefix of [[0xff, 0xd8, 0xff], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]]) {
    for (let i = 0; i < 500; i++) {
      const result = imageDimensions(bytes(prefix, random(i % 64)));
      if (result !== null) assert.ok(result.width > 0 && result.height > 0);
    }
  }
});
