/** Image type detection by magic bytes and header-only dimension parsing (PNG, JPEG, WebP, GIF). */

/** A recognised image type: its MIME type and the file extension used in storage. */
export interface ImageType {
  contentType: string;
  ext: string;
}

/** Width and height in pixels, as declared by the image header. */
export interface ImageDimensions {
  width: number;
  height: number;
}

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

/** Detects PNG, JPEG, WebP or GIF from the first bytes (12 are enough); null for anything else. */
export function detectImageType(head: Uint8Array): ImageType | null {
  if (startsWith(head, PNG_SIGNATURE)) return { contentType: "image/png", ext: "png" };
  if (startsWith(head, [0xff, 0xd8, 0xff])) return { contentType: "image/jpeg", ext: "jpg" };
  if (isWebp(head)) return { contentType: "image/webp", ext: "webp" };
  if (ascii(head, 0, 6) === "GIF87a" || ascii(head, 0, 6) === "GIF89a") {
    return { contentType: "image/gif", ext: "gif" };
  }
  return null;
}

/** Reads width and height from the image header; null for unknown, truncated or broken input. */
export function imageDimensions(bytes: Uint8Array): ImageDimensions | null {
  const type = detectImageType(bytes);
  let dims: ImageDimensions | null = null;
  switch (type?.ext) {
    case "png":
      dims = pngDimensions(bytes);
      break;
    case "gif":
      dims = bytes.length >= 10 ? { width: u16le(bytes, 6), height: u16le(bytes, 8) } : null;
      break;
    case "webp":
      dims = webpDimensions(bytes);
      break;
    case "jpg":
      dims = jpegDimensions(bytes);
      break;
  }
  return dims && dims.width > 0 && dims.height > 0 ? dims : null;
}

function pngDimensions(b: Uint8Array): ImageDimensions | null {
  // Signature (8), IHDR length (4), "IHDR" (4), width (4), height (4).
  if (b.length < 24 || ascii(b, 12, 16) !== "IHDR") return null;
  return { width: u32be(b, 16), height: u32be(b, 20) };
}

function webpDimensions(b: Uint8Array): ImageDimensions | null {
  // "RIFF" size "WEBP", then the first chunk: fourcc (4), size (4), payload from offset 20.
  const chunk = ascii(b, 12, 16);
  if (chunk === "VP8 ") {
    // Frame tag (3 bytes), start code 9d 01 2a, then 14-bit width and height (2 scale bits each).
    if (b.length < 30 || b[23] !== 0x9d || b[24] !== 0x01 || b[25] !== 0x2a) return null;
    return { width: u16le(b, 26) & 0x3fff, height: u16le(b, 28) & 0x3fff };
  }
  if (chunk === "VP8L") {
    // Signature 0x2f, then width-1 (14 bits) and height-1 (14 bits), little-endian bit order.
    if (b.length < 25 || b[20] !== 0x2f) return null;
    const bits = (b[21] | (b[22] << 8) | (b[23] << 16) | (b[24] << 24)) >>> 0;
    return { width: (bits & 0x3fff) + 1, height: ((bits >>> 14) & 0x3fff) + 1 };
  }
  if (chunk === "VP8X") {
    // Flags (1) + reserved (3), then canvas width-1 and height-1 as 24-bit little-endian.
    if (b.length < 30) return null;
    return { width: u24le(b, 24) + 1, height: u24le(b, 27) + 1 };
  }
  return null;
}

function jpegDimensions(b: Uint8Array): ImageDimensions | null {
  let i = 2; // after SOI (ff d8)
  while (i < b.length) {
    if (b[i] !== 0xff) return null; // segments must follow each other
    while (i < b.length && b[i] === 0xff) i++; // a marker may be preceded by fill bytes
    if (i >= b.length) return null;
    const marker = b[i++];
    // Standalone markers carry no length: TEM, RSTn, SOI.
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd8)) continue;
    // End of image or start of scan before any frame header: no dimensions to find.
    if (marker === 0xd9 || marker === 0xda) return null;
    if (i + 2 > b.length) return null;
    const length = u16be(b, i);
    if (length < 2) return null;
    // SOF0..SOF15 except DHT (c4), JPG (c8) and DAC (cc).
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      // Length (2), precision (1), height (2), width (2).
      if (length < 7 || i + 7 > b.length) return null;
      return { width: u16be(b, i + 5), height: u16be(b, i + 3) };
    }
    i += length;
  }
  return null;
}

function isWebp(b: Uint8Array): boolean {
  return ascii(b, 0, 4) === "RIFF" && ascii(b, 8, 12) === "WEBP";
}

function startsWith(b: Uint8Array, prefix: number[]): boolean {
  return b.length >= prefix.length && prefix.every((v, i) => b[i] === v);
}

function ascii(b: Uint8Array, start: number, end: number): string {
  if (b.length < end) return "";
  return String.fromCharCode(...b.subarray(start, end));
}

function u16le(b: Uint8Array, i: number): number {
  return b[i] | (b[i + 1] << 8);
}

function u24le(b: Uint8Array, i: number): number {
  return b[i] | (b[i + 1] << 8) | (b[i + 2] << 16);
}

function u16be(b: Uint8Array, i: number): number {
  return (b[i] << 8) | b[i + 1];
}

function u32be(b: Uint8Array, i: number): number {
  return ((b[i] << 24) | (b[i + 1] << 16) | (b[i + 2] << 8) | b[i + 3]) >>> 0;
}
