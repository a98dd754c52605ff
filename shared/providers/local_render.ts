/**
 * The offline renderer behind the `local` provider: turns a prompt, a seed and an image index
 * into a deterministic PNG. The prompt picks the palette (colour and mood words are honoured, the
 * negative prompt steers colours away), the seed and index pick the composition, and the style
 * picks the look. Each look is computed as a field of a few hundred pixels on the long side, then
 * upscaled bilinearly and dithered; most of a 1024x1024 render's time goes to PNG encoding.
 */
import { encode } from "fast-png";

/** One offline style, offered as model `local/<style>`. */
export interface LocalStyle {
  id: string;
  description: string;
}

/** The offline styles (models) the local provider accepts. */
export const LOCAL_STYLES: readonly LocalStyle[] = [
  { id: "local/abstract", description: "Offline: soft glowing colour blobs on a dark ground" },
  { id: "local/gradient", description: "Offline: smooth grainy mesh gradient" },
  { id: "local/plasma", description: "Offline: demoscene plasma in the prompt's palette" },
  { id: "local/aurora", description: "Offline: northern lights over a dark ridge under stars" },
  { id: "local/marble", description: "Offline: domain-warped marbled ink" },
];

/**
 * Most simulated steps a local prediction takes: the local models' input schema says so, so a
 * submit asking for more is refused (422) instead of silently run with fewer.
 */
export const LOCAL_MAX_STEPS = 100;

/** True when `model` is one of LOCAL_STYLES. */
export function isLocalModel(model: string): boolean {
  return LOCAL_STYLES.some((s) => s.id === model);
}

/** What to render; `style` is `abstract` or `local/abstract` (unknown styles look abstract). */
export interface RenderOptions {
  prompt: string;
  negativePrompt?: string | null;
  style: string;
  seed: number;
  width: number;
  height: number;
  /** Which image of a multi-output prediction (changes the composition, not the palette). */
  index: number;
  /**
   * A starting image, shrunk to a few pixels a side (sRGB bytes, RGB, row by row; see
   * `imageSketch`): its colours join the palette and its layout shows through the picture.
   */
  image?: number[];
}

const MAX_SIDE = 8192;
/** Long side of the internal field; the rest is bilinear upscaling plus dither. */
const FIELD_SIDE = 256;

/** Renders one image and encodes it as an 8-bit RGB PNG of exactly width x height. */
export function renderPng(options: RenderOptions): Uint8Array<ArrayBuffer> {
  const { width, height } = options;
  for (const [label, value] of [["width", width], ["height", height]] as const) {
    if (!Number.isInteger(value) || value < 1 || value > MAX_SIDE) {
      throw new RangeError(`${label} must be an integer from 1 to ${MAX_SIDE} (got ${value})`);
    }
  }
  const style = STYLES[options.style.replace(/^local\//, "")] ?? STYLES.abstract;
  const promptHash = hashString(options.prompt);
  const mixed = mix(
    mix(options.seed >>> 0, options.index >>> 0),
    mix(promptHash, hashString(options.negativePrompt ?? "")),
  );
  const image = options.image && options.image.length >= 3 ? options.image : undefined;
  const seed = image ? mix(mixed, hashString(image.join(","))) : mixed;
  const rand = mulberry32(seed);
  const palette = makePalette(
    options.prompt,
    options.negativePrompt ?? "",
    options.seed >>> 0,
    image,
  );

  const factor = Math.max(1, Math.round(Math.max(width, height) / (style.fieldSide ?? FIELD_SIDE)));
  const lw = width > 1 ? Math.ceil((width - 1) / factor) + 1 : 1;
  const lh = height > 1 ? Math.ceil((height - 1) / factor) + 1 : 1;
  const unit = Math.min(width, height);
  const xs = new Float32Array(lw);
  const ys = new Float32Array(lh);
  for (let i = 0; i < lw; i++) {
    xs[i] = ((lw > 1 ? (i * (width - 1)) / (lw - 1) : 0) - (width - 1) / 2) / unit;
  }
  for (let j = 0; j < lh; j++) {
    ys[j] = ((lh > 1 ? (j * (height - 1)) / (lh - 1) : 0) - (height - 1) / 2) / unit;
  }
  const ctx: FieldContext = {
    lw,
    lh,
    xs,
    ys,
    ex: width / (2 * unit),
    ey: height / (2 * unit),
    rand,
    noise: makeNoise(rand),
    palette,
    out: new Float32Array(lw * lh * 3),
  };
  style.field(ctx);
  if (image) blendImage(ctx, image, 0.45);
  linearToSrgb255(ctx.out);
  const pixels = upscale(ctx.out, lw, lh, width, height, style.grain, seed);
  style.finish?.({ ...ctx, pixels, width, height, unit });
  // Deflate level 1: encoding is most of the time, and level 3 saves only about 5% here.
  const png = encode({ width, height, data: pixels, channels: 3, depth: 8 }, {
    zlib: { level: 1 },
  });
  // The encoder's buffer grows by doubling; slice() keeps only the PNG's own bytes.
  return png.slice();
}

/** 32-bit FNV-1a hash of the UTF-8 bytes of `s`. */
export function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (const byte of new TextEncoder().encode(s)) {
    h ^= byte;
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** mulberry32: a small seeded PRNG returning floats in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return function next() {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Combines two 32-bit values into a well-mixed third (murmur3's finaliser). */
function mix(a: number, b: number): number {
  let h = (a ^ Math.imul(b, 0x9e3779b1)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

// ---------------------------------------------------------------------------------------------
// Colour: palettes are built in OKLCH (perceptually even), mixed in OKLab, drawn in linear sRGB.

type Vec3 = [number, number, number];

interface Palette {
  /** Dark ground colour, linear sRGB. */
  deep: Vec3;
  /** Four accent colours, linear sRGB, roughly darker to lighter. */
  accents: Vec3[];
  /** OKLab of deep then the accents, for smooth mixing. */
  lab: Vec3[];
}

/** OKLCH hue (degrees) of colour words in prompts. */
const COLOUR_HUES: Record<string, number> = wordTable(
  "red 29 crimson 18 scarlet 33 ruby 15 orange 55 amber 70 gold 85 golden 85 yellow 105 " +
    "olive 115 lime 128 green 145 emerald 160 mint 165 jade 165 teal 185 turquoise 190 cyan 200 " +
    "aqua 200 azure 240 blue 262 cobalt 262 sapphire 265 navy 265 indigo 280 violet 295 " +
    "purple 305 lavender 300 lilac 310 magenta 330 fuchsia 335 pink 350 rose 5 coral 38 " +
    "salmon 35 peach 55 brown 50 copper 50 bronze 65",
);

function wordTable(text: string): Record<string, number> {
  const table: Record<string, number> = {};
  const parts = text.split(" ");
  for (let i = 0; i + 1 < parts.length; i += 2) table[parts[i]] = Number(parts[i + 1]);
  return table;
}

interface Mood {
  hues?: number[];
  /** Added to lightness. */
  light?: number;
  /** Multiplies chroma. */
  chroma?: number;
}

const MOODS: Record<string, Mood> = {};
function addMood(words: string, mood: Mood): void {
  for (const word of words.split(" ")) MOODS[word] = mood;
}
addMood("sunset", { hues: [45, 20, 330, 300] });
addMood("sunrise dawn", { hues: [70, 40, 350, 260] });
addMood("dusk twilight", { hues: [300, 330, 260], light: -0.05 });
addMood("ocean sea water wave underwater lagoon", { hues: [230, 200, 185] });
addMood("sky cloud clouds", { hues: [235, 210, 80] });
addMood("forest jungle leaf leaves moss tree trees", { hues: [145, 125, 95] });
addMood("fire flame flames lava volcano ember embers", { hues: [30, 55, 85], chroma: 1.2 });
addMood("ice snow frost winter glacier", { hues: [230, 210, 255], light: 0.1, chroma: 0.6 });
addMood("night midnight space galaxy cosmic nebula stars", { hues: [280, 305, 250], light: -0.12 });
addMood("desert sand dune dunes", { hues: [70, 55, 85], chroma: 0.7 });
addMood("neon cyberpunk synthwave vaporwave", { hues: [330, 200, 295], chroma: 1.3 });
addMood("autumn fall", { hues: [50, 30, 85] });
addMood("spring blossom flower flowers garden", { hues: [350, 140, 100] });
addMood("aurora", { hues: [150, 170, 300] });
addMood("candy", { hues: [350, 200, 300], light: 0.08 });
addMood("storm rain rainy", { hues: [240, 220], light: -0.05, chroma: 0.5 });
addMood("pastel dreamy soft", { light: 0.1, chroma: 0.55 });
addMood("dark moody gloomy", { light: -0.12 });
addMood("vivid vibrant bright colorful colourful", { chroma: 1.25 });
addMood("monochrome grayscale greyscale noir", { chroma: 0.04 });

function words(text: string): string[] {
  return text.toLowerCase().match(/[a-z]+/g) ?? [];
}

function lookupMood(word: string): Mood | undefined {
  if (word in COLOUR_HUES) return { hues: [COLOUR_HUES[word]] };
  if (word in MOODS) return MOODS[word];
  const singular = word.endsWith("s") ? word.slice(0, -1) : "";
  return singular ? lookupMood(singular) : undefined;
}

function hueDistance(a: number, b: number): number {
  const d = Math.abs(((a - b) % 360 + 360) % 360);
  return Math.min(d, 360 - d);
}

/**
 * Palette from the starting image's colours (when there is one), then the prompt's colour and
 * mood words (or its hash), nudged a little by the seed.
 */
function makePalette(prompt: string, negative: string, seed: number, image?: number[]): Palette {
  const rand = mulberry32(hashString(prompt));
  const jitter = (mulberry32(mix(seed, 0x5eed))() - 0.5) * 24;
  const hues: number[] = [];
  let light = 0;
  let chroma = 1;
  if (image) {
    const { hues: fromImage, lightness } = imageColours(image);
    for (const h of fromImage) {
      if (hues.length < 3 && hues.every((x) => hueDistance(x, h) > 12)) hues.push(h);
    }
    light += (lightness - 0.55) * 0.4;
  }
  for (const word of words(prompt)) {
    const mood = lookupMood(word);
    if (!mood) continue;
    for (const h of mood.hues ?? []) {
      if (hues.length < 4 && hues.every((x) => hueDistance(x, h) > 12)) hues.push(h);
    }
    light += mood.light ?? 0;
    chroma *= mood.chroma ?? 1;
  }
  light = clamp(light, -0.25, 0.2);
  chroma = clamp(chroma, 0.03, 1.6);
  const base = hues[0] ?? rand() * 360;
  const schemes = [[0, 30, -30, 60], [0, 180, 25, 205], [0, 120, 240, 15], [0, 150, 210, 30]];
  const scheme = schemes[Math.floor(rand() * schemes.length)];
  for (let i = hues.length; i < 4; i++) hues.push(base + scheme[i] + (rand() - 0.5) * 16);
  const avoid = words(negative).flatMap((w) => (w in COLOUR_HUES ? [COLOUR_HUES[w]] : []));
  const finalHues = hues.map((h) => {
    let hue = h + jitter;
    for (let tries = 0; tries < 3 && avoid.some((a) => hueDistance(a, hue) < 40); tries++) {
      hue += 150;
    }
    return hue;
  });

  const lab: Vec3[] = [];
  const deepL = clamp(0.16 + light * 0.6, 0.08, 0.42);
  lab.push(oklchToLab(deepL, 0.05 * chroma, finalHues[0] + 20 + rand() * 30));
  for (let i = 0; i < 4; i++) {
    const l = clamp(0.52 + 0.1 * i + light + (rand() - 0.5) * 0.06, 0.25, 0.95);
    const c = clamp((0.12 + rand() * 0.06) * chroma, 0, 0.32);
    lab.push(oklchToLab(l, c, finalHues[i]));
  }
  const rgb = lab.map(gamutMap);
  // gamutMap may have lowered the chroma: keep lab in step with what is drawn.
  const mapped = rgb.map((c) => linearToLab(c[0], c[1], c[2]));
  return { deep: rgb[0], accents: rgb.slice(1), lab: mapped };
}

function oklchToLab(l: number, c: number, hDeg: number): Vec3 {
  const h = (hDeg * Math.PI) / 180;
  return [l, c * Math.cos(h), c * Math.sin(h)];
}

/** OKLab to linear sRGB, written into `out` at `offset` (no allocation). */
function labToLinear(l: number, a: number, b: number, out: Float32Array, offset: number): void {
  const l_ = l + 0.3963377774 * a + 0.2158037573 * b;
  const m_ = l - 0.1055613458 * a - 0.0638541728 * b;
  const s_ = l - 0.0894841775 * a - 1.291485548 * b;
  const L = l_ * l_ * l_;
  const M = m_ * m_ * m_;
  const S = s_ * s_ * s_;
  out[offset] = 4.0767416621 * L - 3.3077115913 * M + 0.2309699292 * S;
  out[offset + 1] = -1.2684380046 * L + 2.6097574011 * M - 0.3413193965 * S;
  out[offset + 2] = -0.0041960863 * L - 0.7034186147 * M + 1.707614701 * S;
}

function linearToLab(r: number, g: number, b: number): Vec3 {
  const l = Math.cbrt(0.4122214708 * r + 0.5363020883 * g + 0.0514459929 * b);
  const m = Math.cbrt(0.2119034982 * r + 0.6806995451 * g + 0.1073969566 * b);
  const s = Math.cbrt(0.0883024619 * r + 0.2817188376 * g + 0.6299787005 * b);
  return [
    0.2104542553 * l + 0.793617785 * m - 0.0040720468 * s,
    1.9779984951 * l - 2.428592205 * m + 0.4505937099 * s,
    0.0259040371 * l + 0.7827717662 * m - 0.808675766 * s,
  ];
}

/** Linear sRGB of an OKLab colour, lowering chroma until it fits the sRGB gamut. */
function gamutMap(lab: Vec3): Vec3 {
  const out = new Float32Array(3);
  const inGamut = (k: number) => {
    labToLinear(lab[0], lab[1] * k, lab[2] * k, out, 0);
    return out.every((v) => v >= -1e-4 && v <= 1 + 1e-4);
  };
  let lo = 0;
  let hi = 1;
  if (!inGamut(1)) {
    for (let i = 0; i < 16; i++) {
      const k = (lo + hi) / 2;
      if (inGamut(k)) lo = k;
      else hi = k;
    }
    inGamut(lo);
  }
  return [clamp(out[0], 0, 1), clamp(out[1], 0, 1), clamp(out[2], 0, 1)];
}

/** 256-entry linear-RGB ramp through `stops` (OKLab), optionally wrapping back to the first. */
function buildRamp(stops: Vec3[], cyclic: boolean): Float32Array {
  const ramp = new Float32Array(256 * 3);
  const segments = cyclic ? stops.length : stops.length - 1;
  for (let i = 0; i < 256; i++) {
    const t = (i / (cyclic ? 256 : 255)) * segments;
    const k = Math.min(Math.floor(t), segments - 1);
    const f = smoothstep(0, 1, t - k);
    const a = stops[k];
    const b = stops[(k + 1) % stops.length];
    labToLinear(
      a[0] + (b[0] - a[0]) * f,
      a[1] + (b[1] - a[1]) * f,
      a[2] + (b[2] - a[2]) * f,
      ramp,
      i * 3,
    );
  }
  for (let i = 0; i < ramp.length; i++) ramp[i] = clamp(ramp[i], 0, 1);
  return ramp;
}

/** Converts linear values in [0, 1] to sRGB values in [0, 255], in place. */
function linearToSrgb255(buf: Float32Array): void {
  for (let i = 0; i < buf.length; i++) {
    const v = buf[i] > 0 ? (buf[i] < 1 ? buf[i] : 1) : 0;
    buf[i] = 255 * (v <= 0.0031308 ? 12.92 * v : 1.055 * Math.pow(v, 1 / 2.4) - 0.055);
  }
}

/** The hues of the image's four quarters (the colourful ones) and its mean OKLab lightness. */
function imageColours(image: number[]): { hues: number[]; lightness: number } {
  const side = Math.max(1, Math.round(Math.sqrt(image.length / 3)));
  const sums = Array.from({ length: 4 }, () => [0, 0, 0, 0]);
  for (let y = 0; y < side; y++) {
    for (let x = 0; x < side; x++) {
      const q = sums[(y * 2 < side ? 0 : 2) + (x * 2 < side ? 0 : 1)];
      const at = (y * side + x) * 3;
      for (let c = 0; c < 3; c++) q[c] += srgbToLinear(image[at + c] ?? 0);
      q[3]++;
    }
  }
  const hues: number[] = [];
  let lightness = 0;
  for (const [r, g, b, n] of sums) {
    if (n === 0) continue;
    const [l, a, bb] = linearToLab(r / n, g / n, b / n);
    lightness += l / 4;
    if (Math.hypot(a, bb) > 0.03) hues.push((Math.atan2(bb, a) * 180) / Math.PI);
  }
  return { hues, lightness };
}

/** Mixes the starting image (bilinearly stretched over the field) into the field, in linear RGB. */
function blendImage(ctx: FieldContext, image: number[], amount: number): void {
  const side = Math.max(1, Math.round(Math.sqrt(image.length / 3)));
  const linear = image.map(srgbToLinear);
  const { lw, lh, out } = ctx;
  for (let j = 0; j < lh; j++) {
    const sy = lh > 1 ? (j * (side - 1)) / (lh - 1) : 0;
    const y0 = Math.floor(sy);
    const y1 = Math.min(y0 + 1, side - 1);
    const fy = sy - y0;
    for (let i = 0; i < lw; i++) {
      const sx = lw > 1 ? (i * (side - 1)) / (lw - 1) : 0;
      const x0 = Math.floor(sx);
      const x1 = Math.min(x0 + 1, side - 1);
      const fx = sx - x0;
      const at = (j * lw + i) * 3;
      for (let c = 0; c < 3; c++) {
        const top = linear[(y0 * side + x0) * 3 + c] * (1 - fx) +
          linear[(y0 * side + x1) * 3 + c] * fx;
        const bottom = linear[(y1 * side + x0) * 3 + c] * (1 - fx) +
          linear[(y1 * side + x1) * 3 + c] * fx;
        out[at + c] = out[at + c] * (1 - amount) + (top + (bottom - top) * fy) * amount;
      }
    }
  }
}

function srgbToLinear(v: number): number {
  const x = clamp(v, 0, 255) / 255;
  return x <= 0.04045 ? x / 12.92 : Math.pow((x + 0.055) / 1.055, 2.4);
}

// ---------------------------------------------------------------------------------------------
// Noise: seeded 2D gradient (Perlin) noise and fractal sums of it.

type Noise2 = (x: number, y: number) => number;

function makeNoise(rand: () => number): Noise2 {
  const perm = new Uint8Array(512);
  for (let i = 0; i < 256; i++) perm[i] = i;
  for (let i = 255; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    const t = perm[i];
    perm[i] = perm[j];
    perm[j] = t;
  }
  for (let i = 0; i < 256; i++) perm[i + 256] = perm[i];
  const gx = new Float32Array(256);
  const gy = new Float32Array(256);
  for (let i = 0; i < 256; i++) {
    const a = (i / 256) * Math.PI * 2 + 0.3;
    gx[i] = Math.cos(a);
    gy[i] = Math.sin(a);
  }
  /** Gradient noise, roughly in [-1, 1]. */
  return function noise(x: number, y: number): number {
    const fx = Math.floor(x);
    const fy = Math.floor(y);
    const xi = fx & 255;
    const yi = fy & 255;
    const dx = x - fx;
    const dy = y - fy;
    const u = dx * dx * dx * (dx * (dx * 6 - 15) + 10);
    const v = dy * dy * dy * (dy * (dy * 6 - 15) + 10);
    const a = perm[xi] + yi;
    const b = perm[xi + 1] + yi;
    const aa = perm[a];
    const ab = perm[a + 1];
    const ba = perm[b];
    const bb = perm[b + 1];
    const n00 = gx[aa] * dx + gy[aa] * dy;
    const n10 = gx[ba] * (dx - 1) + gy[ba] * dy;
    const n01 = gx[ab] * dx + gy[ab] * (dy - 1);
    const n11 = gx[bb] * (dx - 1) + gy[bb] * (dy - 1);
    const nx0 = n00 + u * (n10 - n00);
    const nx1 = n01 + u * (n11 - n01);
    return (nx0 + v * (nx1 - nx0)) * 1.4;
  };
}

/** Four octaves of `noise`, each rotated to hide the lattice; roughly in [-0.9, 0.9]. */
function fbm(noise: Noise2, x: number, y: number): number {
  let sum = 0;
  let amp = 0.5;
  for (let o = 0; o < 4; o++) {
    sum += amp * noise(x, y);
    const nx = 1.6 * x + 1.2 * y + 3.7;
    y = -1.2 * x + 1.6 * y + 1.3;
    x = nx;
    amp *= 0.5;
  }
  return sum;
}

// ---------------------------------------------------------------------------------------------
// Styles: each fills the low-resolution field with linear RGB; some add full-resolution detail.

interface FieldContext {
  lw: number;
  lh: number;
  /** Centred coordinates of each field column / row, in units of the image's short side. */
  xs: Float32Array;
  ys: Float32Array;
  /** Half extents of the image in those units (0.5 on the short side). */
  ex: number;
  ey: number;
  rand: () => number;
  noise: Noise2;
  palette: Palette;
  /** lw * lh * 3 linear RGB values. */
  out: Float32Array;
}

interface FinishContext extends FieldContext {
  pixels: Uint8ClampedArray;
  width: number;
  height: number;
  unit: number;
}

interface Style {
  field(ctx: FieldContext): void;
  /** Dither / film-grain amplitude in 8-bit steps. */
  grain: number;
  /** Long side of the field when the look needs finer detail than FIELD_SIDE. */
  fieldSide?: number;
  finish?(ctx: FinishContext): void;
}

const STYLES: Record<string, Style> = {
  abstract: { field: abstractField, grain: 2 },
  gradient: { field: gradientField, grain: 9 },
  plasma: { field: plasmaField, grain: 2 },
  aurora: { field: auroraField, grain: 2.5, fieldSide: 384, finish: auroraFinish },
  marble: { field: marbleField, grain: 2, fieldSide: 384 },
};

/** Soft elliptical glows (some with a bokeh rim) over a dark vertical gradient. */
function abstractField(ctx: FieldContext): void {
  const { lw, lh, xs, ys, ex, ey, rand, noise, palette, out } = ctx;
  const blobs = Array.from({ length: 5 + Math.floor(rand() * 4) }, (_, k) => {
    const angle = rand() * Math.PI;
    const radius = 0.12 + rand() * 0.26;
    const colour = palette.accents[(k + Math.floor(rand() * 2)) % 4];
    const strength = 0.45 + rand() * 0.8;
    return {
      x: (rand() * 2 - 1) * ex * 0.85,
      y: (rand() * 2 - 1) * ey * 0.85,
      invR2: 1 / (radius * radius),
      cos: Math.cos(angle),
      sin: Math.sin(angle),
      stretch: 1 + rand() * 1.6,
      r: colour[0] * strength,
      g: colour[1] * strength,
      b: colour[2] * strength,
      /** Brightness of a bokeh rim, 0 for a plain glow. */
      rim: rand() < 0.3 ? 0.35 : 0,
    };
  });
  const [dr, dg, db] = palette.deep;
  const [lr, lg, lb] = palette.accents[0];
  const o1 = rand() * 100;
  const o2 = rand() * 100;
  for (let j = 0; j < lh; j++) {
    const q = ys[j];
    const t = smoothstep(-ey, ey, q);
    const bgr = dr * (1 - t) * 0.6 + lr * t * 0.12;
    const bgg = dg * (1 - t) * 0.6 + lg * t * 0.12;
    const bgb = db * (1 - t) * 0.6 + lb * t * 0.12;
    for (let i = 0; i < lw; i++) {
      const p = xs[i];
      const wx = p + 0.1 * noise(p * 1.8 + o1, q * 1.8);
      const wy = q + 0.1 * noise(p * 1.8, q * 1.8 + o2);
      let r = bgr;
      let g = bgg;
      let b = bgb;
      for (const blob of blobs) {
        const dx = wx - blob.x;
        const dy = wy - blob.y;
        const u = dx * blob.cos + dy * blob.sin;
        const v = (dy * blob.cos - dx * blob.sin) * blob.stretch;
        const d2 = (u * u + v * v) * blob.invR2;
        if (d2 > 16) continue;
        let w = Math.exp(-d2);
        if (blob.rim > 0) {
          const ring = Math.sqrt(d2) - 1.2;
          w = w * 0.5 + blob.rim * Math.exp(-ring * ring * 30);
        }
        r += blob.r * w;
        g += blob.g * w;
        b += blob.b * w;
      }
      const texture = 0.9 + 0.2 * noise(p * 7 + o2, q * 7 + o1);
      const vig = vignette(p, q, ex, ey, 0.35);
      const at = (j * lw + i) * 3;
      out[at] = (1 - Math.exp(-r * texture * 1.5)) * vig;
      out[at + 1] = (1 - Math.exp(-g * texture * 1.5)) * vig;
      out[at + 2] = (1 - Math.exp(-b * texture * 1.5)) * vig;
    }
  }
}

/** A mesh gradient: five coloured control points blended in OKLab, gently warped. */
function gradientField(ctx: FieldContext): void {
  const { lw, lh, xs, ys, ex, ey, rand, noise, palette, out } = ctx;
  // Lift the ground colour and push chroma: blends between far-apart hues pass near grey.
  const stops = palette.lab.map(([l, a, b], k): Vec3 => {
    return [k === 0 ? Math.max(l, 0.32) : l, a * 1.3, b * 1.3];
  });
  const n = stops.length;
  const px = new Float64Array(n);
  const py = new Float64Array(n);
  const sharp = new Float64Array(n);
  for (let k = 0; k < n; k++) {
    px[k] = (rand() * 2 - 1) * ex * 1.1;
    py[k] = (rand() * 2 - 1) * ey * 1.1;
    sharp[k] = 4 + rand() * 5;
  }
  const phase = rand() * Math.PI * 2;
  const freq = 4 + rand() * 4;
  const o1 = rand() * 100;
  const o2 = rand() * 100;
  for (let j = 0; j < lh; j++) {
    const q = ys[j];
    for (let i = 0; i < lw; i++) {
      const p = xs[i];
      const wx = p + 0.16 * noise(p * 1.1 + o1, q * 1.1) + 0.04 * Math.sin(q * freq + phase);
      const wy = q + 0.16 * noise(p * 1.1, q * 1.1 + o2);
      let sum = 0;
      let l = 0;
      let a = 0;
      let b = 0;
      for (let k = 0; k < n; k++) {
        const dx = wx - px[k];
        const dy = wy - py[k];
        const w = Math.exp(-(dx * dx + dy * dy) * sharp[k]) + 1e-6;
        sum += w;
        l += stops[k][0] * w;
        a += stops[k][1] * w;
        b += stops[k][2] * w;
      }
      labToLinear(l / sum, a / sum, b / sum, out, (j * lw + i) * 3);
    }
  }
}

/** Sums of sine waves (linear, rotated and radial) mapped through a cyclic palette ramp. */
function plasmaField(ctx: FieldContext): void {
  const { lw, lh, xs, ys, ex, ey, rand, noise, palette, out } = ctx;
  const [deep, a0, a1, a2, a3] = palette.lab;
  const ramp = buildRamp([a0, a1, deep, a2, a3], true);
  const f1 = 3 + rand() * 6;
  const f2 = 3 + rand() * 6;
  const f3 = 3 + rand() * 6;
  const f4 = 4 + rand() * 8;
  const t1 = rand() * 6.3;
  const t2 = rand() * 6.3;
  const t3 = rand() * 6.3;
  const t4 = rand() * 6.3;
  const angle = rand() * Math.PI;
  const ca = Math.cos(angle);
  const sa = Math.sin(angle);
  const cx = (rand() * 2 - 1) * ex;
  const cy = (rand() * 2 - 1) * ey;
  const offset = rand();
  const span = 0.8 + rand() * 0.8;
  for (let j = 0; j < lh; j++) {
    const q = ys[j];
    for (let i = 0; i < lw; i++) {
      const p = xs[i];
      const wx = p + 0.08 * noise(p * 2 + 11, q * 2);
      const wy = q + 0.08 * noise(p * 2, q * 2 + 23);
      const rx = wx - cx;
      const ry = wy - cy;
      const v = Math.sin(wx * f1 + t1) + Math.sin(wy * f2 + t2) +
        Math.sin((wx * ca + wy * sa) * f3 + t3) + Math.sin(Math.sqrt(rx * rx + ry * ry) * f4 + t4);
      let t = (v * 0.125 + 0.5) * span + offset;
      t -= Math.floor(t);
      const pos = t * 256;
      const k0 = Math.floor(pos) & 255;
      const k1 = (k0 + 1) & 255;
      const f = pos - Math.floor(pos);
      const shade = (0.82 + 0.18 * Math.cos(v * 2.2)) * vignette(p, q, ex, ey, 0.25);
      const at = (j * lw + i) * 3;
      for (let c = 0; c < 3; c++) {
        out[at + c] = (ramp[k0 * 3 + c] * (1 - f) + ramp[k1 * 3 + c] * f) * shade;
      }
    }
  }
}

/** Where the ridge line sits, in the same centred units as the field (down is positive). */
function ridgeAt(noise: Noise2, p: number, ey: number): number {
  return ey * 0.62 + 0.07 * noise(p * 2.2 + 41, 7.5) + 0.025 * noise(p * 7 + 3, 1.5) +
    0.008 * noise(p * 23, 4.5);
}

/** Night sky with two or three folded curtains of light; the ridge and stars come in finish. */
function auroraField(ctx: FieldContext): void {
  const { lw, lh, xs, ys, ey, rand, noise, palette, out } = ctx;
  const count = 2 + Math.floor(rand() * 2);
  const bands = Array.from({ length: count }, (_, k) => ({
    /** Height of the curtain's lower edge (down is positive) and how far it folds. */
    edge: ey * (-0.3 + 0.55 * (k + rand() * 0.8) / count),
    amp: 0.06 + rand() * 0.08,
    freq: 1 + rand() * 1.5,
    /** How far the rays reach up before fading to 1/e. */
    reach: 0.12 + rand() * 0.16,
    rayFreq: 25 + rand() * 25,
    off: rand() * 100,
    strength: 0.35 + rand() * 0.3,
    low: palette.accents[(k + 1) % 4],
    high: palette.accents[(k + 2 + Math.floor(rand() * 2)) % 4],
  }));
  // Night blue, tinted a little by the palette's ground colour.
  const night = gamutMap(oklchToLab(0.16, 0.05, 262));
  const sky = night.map((v, c) => v * 0.7 + palette.deep[c] * 0.3);
  const glow = palette.accents[0];
  for (let j = 0; j < lh; j++) {
    const q = ys[j];
    const t = smoothstep(-ey, ey * 0.7, q);
    const skyR = sky[0] * (0.3 + 0.7 * t) + glow[0] * 0.04 * t * t;
    const skyG = sky[1] * (0.3 + 0.7 * t) + glow[1] * 0.04 * t * t;
    const skyB = sky[2] * (0.3 + 0.7 * t) + glow[2] * 0.04 * t * t;
    for (let i = 0; i < lw; i++) {
      const p = xs[i];
      let r = skyR;
      let g = skyG;
      let b = skyB;
      for (const band of bands) {
        const fold = noise(p * band.freq + band.off, band.off * 0.37);
        const edge = band.edge + band.amp * fold +
          band.amp * 0.4 * noise(p * band.freq * 2.7, band.off + 5);
        const d = edge - q; // > 0 above the curtain's lower edge
        let fall: number;
        if (d < 0) fall = 1.8 * Math.exp(-(d * d) / 0.0012);
        else fall = Math.exp(-d / band.reach) * (1 + 0.8 * Math.exp(-d / 0.04));
        if (fall < 0.002) continue;
        const ray = noise((p + fold * 0.05) * band.rayFreq + band.off, d * 1.5 + band.off);
        const lit = 0.5 + 0.5 * ray;
        const w = fall * (0.15 + 0.85 * lit * lit * lit) * band.strength;
        const h = clamp(d / band.reach, 0, 1);
        r += (band.low[0] + (band.high[0] - band.low[0]) * h) * w;
        g += (band.low[1] + (band.high[1] - band.low[1]) * h) * w;
        b += (band.low[2] + (band.high[2] - band.low[2]) * h) * w;
      }
      const at = (j * lw + i) * 3;
      out[at] = 1 - Math.exp(-r * 1.3);
      out[at + 1] = 1 - Math.exp(-g * 1.3);
      out[at + 2] = 1 - Math.exp(-b * 1.3);
    }
  }
}

/** Stars at full resolution, then a dark anti-aliased ridge in front of everything. */
function auroraFinish(ctx: FinishContext): void {
  const { pixels, width, height, unit, noise, rand, ey, palette } = ctx;
  const ridge = new Float32Array(width);
  for (let x = 0; x < width; x++) {
    const p = (x - (width - 1) / 2) / unit;
    ridge[x] = ridgeAt(noise, p, ey) * unit + (height - 1) / 2;
  }
  const stars = Math.round((width * height) / 1500);
  for (let s = 0; s < stars; s++) {
    const x = Math.floor(rand() * width);
    const y = Math.floor(rand() * height);
    const bright = 30 + 225 * Math.pow(rand(), 5);
    const tint = rand();
    if (y > ridge[x] - 3) continue;
    const spread = bright > 150 && x > 0 && y > 0 && x < width - 1 && y < height - 1;
    for (let n = 0; n < (spread ? 5 : 1); n++) {
      const nx = x + (n === 1 ? -1 : n === 2 ? 1 : 0);
      const ny = y + (n === 3 ? -1 : n === 4 ? 1 : 0);
      const v = n === 0 ? bright : bright * 0.3;
      const at = (ny * width + nx) * 3;
      pixels[at] += v * (0.85 + 0.15 * tint);
      pixels[at + 1] += v * 0.92;
      pixels[at + 2] += v * (1 - 0.1 * tint);
    }
  }
  const base = palette.deep;
  const sr = 255 * base[0] * 0.25;
  const sg = 255 * base[1] * 0.25;
  const sb = 255 * base[2] * 0.3;
  for (let x = 0; x < width; x++) {
    const top = ridge[x];
    for (let y = Math.max(0, Math.floor(top)); y < height; y++) {
      const cover = clamp(y + 1 - top, 0, 1);
      const at = (y * width + x) * 3;
      pixels[at] = pixels[at] * (1 - cover) + sr * cover;
      pixels[at + 1] = pixels[at + 1] * (1 - cover) + sg * cover;
      pixels[at + 2] = pixels[at + 2] * (1 - cover) + sb * cover;
    }
  }
}

/** Inigo Quilez's nested domain warping: fbm of fbm of fbm, coloured by the warp vectors. */
function marbleField(ctx: FieldContext): void {
  const { lw, lh, xs, ys, ex, ey, rand, noise, palette, out } = ctx;
  const scale = 0.9 + rand() * 0.7;
  const o = Array.from({ length: 10 }, () => rand() * 50);
  const [deep, a0, a1, a2, a3] = [palette.deep, ...palette.accents];
  for (let j = 0; j < lh; j++) {
    const y = ys[j] * scale;
    for (let i = 0; i < lw; i++) {
      const x = xs[i] * scale;
      const q1 = fbm(noise, x + o[0], y + o[1]);
      const q2 = fbm(noise, x + o[2], y + o[3]);
      const r1 = fbm(noise, x + 3.5 * q1 + o[4], y + 3.5 * q2 + o[5]);
      const r2 = fbm(noise, x + 3.5 * q1 + o[6], y + 3.5 * q2 + o[7]);
      const f = clamp(0.5 + fbm(noise, x + 3.5 * r1 + o[8], y + 3.5 * r2 + o[9]), 0, 1);
      const m1 = clamp(f * f * 3, 0, 1);
      const m2 = clamp(Math.sqrt(q1 * q1 + q2 * q2) * 1.4, 0, 1);
      const m3 = clamp(Math.abs(r1) * 1.6, 0, 1);
      const m4 = clamp(Math.abs(r2) * 2 - 0.6, 0, 1);
      const shade = (f * f * f * 1.2 + f * f * 0.8 + f * 0.7 + 0.15) *
        vignette(xs[i], ys[j], ex, ey, 0.3);
      const at = (j * lw + i) * 3;
      for (let c = 0; c < 3; c++) {
        let v = a0[c] + (a1[c] - a0[c]) * m1;
        v += (deep[c] - v) * m2;
        v += (a3[c] - v) * m3;
        v += (a2[c] - v) * m4 * 0.6;
        out[at + c] = 1 - Math.exp(-v * shade * 1.6);
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Upscaling and small helpers.

/** Bilinear upscale of the sRGB field to width x height bytes, with triangular dither / grain. */
function upscale(
  src: Float32Array,
  lw: number,
  lh: number,
  width: number,
  height: number,
  grain: number,
  seed: number,
): Uint8ClampedArray {
  const pixels = new Uint8ClampedArray(width * height * 3);
  const x0s = new Int32Array(width);
  const x1s = new Int32Array(width);
  const fxs = new Float32Array(width);
  for (let x = 0; x < width; x++) {
    const sx = width > 1 ? (x * (lw - 1)) / (width - 1) : 0;
    const x0 = Math.min(Math.floor(sx), lw - 1);
    x0s[x] = x0 * 3;
    x1s[x] = Math.min(x0 + 1, lw - 1) * 3;
    fxs[x] = sx - x0;
  }
  const scale = grain / 255;
  let at = 0;
  for (let y = 0; y < height; y++) {
    const sy = height > 1 ? (y * (lh - 1)) / (height - 1) : 0;
    const y0 = Math.min(Math.floor(sy), lh - 1);
    const fy = sy - y0;
    const row0 = y0 * lw * 3;
    const row1 = Math.min(y0 + 1, lh - 1) * lw * 3;
    const rowSeed = Math.imul(y + 1, 0x27d4eb2d) ^ seed;
    for (let x = 0; x < width; x++) {
      const fx = fxs[x];
      const a = row0 + x0s[x];
      const b = row0 + x1s[x];
      const c = row1 + x0s[x];
      const d = row1 + x1s[x];
      let h = Math.imul(rowSeed ^ Math.imul(x + 1, 0x165667b1), 0x85ebca6b);
      h ^= h >>> 13;
      h = Math.imul(h, 0xc2b2ae35);
      const n = ((h & 255) + ((h >>> 8) & 255) - 255) * scale;
      for (let k = 0; k < 3; k++) {
        const top = src[a + k] + (src[b + k] - src[a + k]) * fx;
        const bottom = src[c + k] + (src[d + k] - src[c + k]) * fx;
        pixels[at++] = top + (bottom - top) * fy + n;
      }
    }
  }
  return pixels;
}

function vignette(p: number, q: number, ex: number, ey: number, amount: number): number {
  const u = p / ex;
  const v = q / ey;
  return 1 - amount * clamp((u * u + v * v) * 0.5, 0, 1);
}

function clamp(v: number, lo: number, hi: number): number {
  return v < lo ? lo : v > hi ? hi : v;
}

function smoothstep(a: number, b: number, v: number): number {
  const t = clamp((v - a) / (b - a), 0, 1);
  return t * t * (3 - 2 * t);
}
