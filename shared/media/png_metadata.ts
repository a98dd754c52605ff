/**
 * Settings inside PNG files: written into every PNG Darkroom stores, and read back from any PNG
 * (Darkroom's, AUTOMATIC1111's, ComfyUI's) so a dropped image can restore the settings that made
 * it. Plain TypeScript on Uint8Array (no Deno or Node API): the browser bundle uses the reader.
 *
 * Written: a `parameters` text chunk in AUTOMATIC1111's form (the prompt, a `Negative prompt:`
 * line, then `Steps: 20, Seed: 42, Size: 1024x1024, Model: local/aurora`) and a `darkroom` chunk
 * with the job's settings as JSON, both right after IHDR (`tEXt` when the text is Latin-1, else
 * uncompressed `iTXt`, as PIL writes them). `createPngInserter` does it on the way into storage,
 * one chunk of the download at a time.
 */

/** The PNG signature. */
const SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
/** Signature (8) and the IHDR chunk (4 length + 4 type + 13 data + 4 CRC). */
const HEAD_BYTES = 33;
/** Keywords are 1–79 Latin-1 characters (PNG spec). */
const KEYWORD = /^[\x20-\x7e\xa1-\xff]{1,79}$/;

/** The settings of a job, as the `darkroom` chunk holds them (and `parameters` describes). */
export interface DarkroomSettings {
  prompt: string;
  negative_prompt: string | null;
  model: string;
  parameters: Record<string, unknown>;
  /** The job, for reference (not needed to make the image again). */
  job_id?: string;
}

/** What a PNG says about how it was made, whichever tool wrote it. */
export interface ImageSettings {
  /** Which chunk the settings come from. */
  source: "darkroom" | "a1111" | "comfyui";
  prompt: string;
  negative_prompt: string | null;
  /** The model or checkpoint named (a Darkroom model id only for `darkroom`). */
  model: string | null;
  /** Darkroom's parameter names: seed, num_inference_steps, guidance_scale, width, height... */
  parameters: Record<string, unknown>;
}

// ---------------------------------------------------------------------------------------------
// Chunks
// ---------------------------------------------------------------------------------------------

let crcTable: Uint32Array | undefined;

/** CRC-32 (ISO 3309, as PNG uses it) of `bytes`, continuing from `crc`. */
export function crc32(bytes: Uint8Array, crc = 0): number {
  if (!crcTable) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  let c = ~crc >>> 0;
  for (let i = 0; i < bytes.length; i++) c = crcTable[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}

/** One whole chunk: length, type, data and its CRC. */
export function pngChunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, data.length);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  out.set(data, 8);
  view.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
  return out;
}

function latin1(text: string): Uint8Array {
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) out[i] = text.charCodeAt(i);
  return out;
}

function isLatin1(text: string): boolean {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) > 0xff) return false;
  return true;
}

/**
 * A text chunk: `tEXt` when `text` is Latin-1 (without NUL), else an uncompressed UTF-8 `iTXt`.
 * Throws on a keyword PNG does not allow.
 */
export function textChunk(keyword: string, text: string): Uint8Array {
  if (!KEYWORD.test(keyword) || /^ | $| {2}/.test(keyword)) {
    throw new RangeError(`Invalid PNG text keyword ${JSON.stringify(keyword)}`);
  }
  const clean = text.replaceAll("\u0000", "");
  if (isLatin1(clean)) {
    return pngChunk("tEXt", concat([latin1(keyword), new Uint8Array([0]), latin1(clean)]));
  }
  // keyword NUL, compression flag 0, method 0, empty language tag NUL, empty translation NUL.
  return pngChunk(
    "iTXt",
    concat([latin1(keyword), new Uint8Array([0, 0, 0, 0, 0]), new TextEncoder().encode(clean)]),
  );
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Writing
// ---------------------------------------------------------------------------------------------

function num(value: unknown): number | null {
  return typeof value === "number" && Number.isFinite(value) ? value : null;
}

/** One value of the settings line, quoted as AUTOMATIC1111 does when it holds `,`, `:` or `"`. */
function settingValue(value: string | number): string {
  const text = String(value).replace(/[\r\n]+/g, " ");
  return /[,:"]/.test(text) ? JSON.stringify(text) : text;
}

/**
 * AUTOMATIC1111's `parameters` text for a job: the prompt, `Negative prompt: …` when there is
 * one, then `Steps: …, Sampler: …, CFG scale: …, Seed: …, Size: WxH, Model: …` (what is known;
 * the size is the image's own).
 */
export function a1111Parameters(
  settings: DarkroomSettings,
  size: { width: number; height: number },
): string {
  const p = settings.parameters;
  const pairs: [string, string | number | null][] = [
    ["Steps", num(p.num_inference_steps) ?? num(p.steps)],
    ["Sampler", typeof p.scheduler === "string" ? p.scheduler : null],
    ["CFG scale", num(p.guidance_scale) ?? num(p.cfg_scale)],
    ["Seed", num(p.seed)],
    ["Size", `${size.width}x${size.height}`],
    ["Model", settings.model],
  ];
  const line = pairs.filter(([, v]) => v !== null)
    .map(([k, v]) => `${k}: ${settingValue(v as string | number)}`).join(", ");
  const negative = settings.negative_prompt ? `\nNegative prompt: ${settings.negative_prompt}` : "";
  return `${settings.prompt}${negative}\n${line}`;
}

/** The chunks Darkroom puts into a PNG: `parameters` (A1111's form) and `darkroom` (JSON). */
export function settingsChunks(
  settings: DarkroomSettings,
  size: { width: number; height: number },
): Uint8Array {
  return concat([
    textChunk("parameters", a1111Parameters(settings, size)),
    textChunk("darkroom", JSON.stringify(settings)),
  ]);
}

/** Width and height from an IHDR chunk's data. */
function ihdrSize(head: Uint8Array): { width: number; height: number } {
  const view = new DataView(head.buffer, head.byteOffset, head.byteLength);
  return { width: view.getUint32(16), height: view.getUint32(20) };
}

/** True when `head` (at least 33 bytes) starts with the PNG signature and an IHDR chunk. */
function startsWithPngHeader(head: Uint8Array): boolean {
  if (head.length < HEAD_BYTES) return false;
  for (let i = 0; i < 8; i++) if (head[i] !== SIGNATURE[i]) return false;
  const view = new DataView(head.buffer, head.byteOffset, head.byteLength);
  return view.getUint32(8) === 13 && String.fromCharCode(...head.subarray(12, 16)) === "IHDR";
}

/** Passes a file through, adding chunks after a PNG's IHDR; see `createPngInserter`. */
export interface PngInserter {
  /** The bytes to write for the next piece of the input (may be none yet, or more). */
  push(bytes: Uint8Array): Uint8Array[];
  /** What is still held back, at the end of the input. */
  end(): Uint8Array[];
  /** Bytes added so far (0 for a file that is not a PNG). */
  readonly added: number;
}

/**
 * Streams a file through, inserting `chunksFor(size)` (whole chunks, e.g. `settingsChunks`) right
 * after the IHDR chunk of a PNG. Anything that does not start like a PNG (JPEG, WebP...) passes
 * unchanged. Only the first 33 bytes are held back; the rest flows as it comes.
 */
export function createPngInserter(
  chunksFor: (size: { width: number; height: number }) => Uint8Array,
): PngInserter {
  let held: Uint8Array[] = [];
  let heldBytes = 0;
  let decided = false;
  let added = 0;
  const decide = (): Uint8Array[] => {
    decided = true;
    const head = concat(held);
    held = [];
    if (!startsWithPngHeader(head)) return head.length ? [head] : [];
    const extra = chunksFor(ihdrSize(head));
    added = extra.length;
    const out = [head.subarray(0, HEAD_BYTES)];
    if (extra.length) out.push(extra);
    if (head.length > HEAD_BYTES) out.push(head.subarray(HEAD_BYTES));
    return out;
  };
  return {
    push(bytes) {
      if (decided) return bytes.length ? [bytes] : [];
      held.push(bytes);
      heldBytes += bytes.length;
      return heldBytes >= HEAD_BYTES ? decide() : [];
    },
    end() {
      return decided ? [] : decide();
    },
    get added() {
      return added;
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Reading
// ---------------------------------------------------------------------------------------------

/** Text chunks in file order, keyword → text (the first of a keyword wins). */
export async function readPngText(bytes: Uint8Array): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  if (bytes.length < 8 || SIGNATURE.some((b, i) => bytes[i] !== b)) return out;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = 8;
  while (at + 12 <= bytes.length) {
    const length = view.getUint32(at);
    const type = String.fromCharCode(...bytes.subarray(at + 4, at + 8));
    const start = at + 8;
    const end = start + length;
    if (end + 4 > bytes.length) break;
    const data = bytes.subarray(start, end);
    const entry = type === "tEXt"
      ? readText(data)
      : type === "iTXt"
      ? await readInternational(data)
      : type === "zTXt"
      ? await readCompressed(data)
      : null;
    if (entry && !out.has(entry[0])) out.set(entry[0], entry[1]);
    if (type === "IEND") break;
    at = end + 4;
  }
  return out;
}

function decodeLatin1(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i += 8192) {
    s += String.fromCharCode(...bytes.subarray(i, i + 8192));
  }
  return s;
}

function readText(data: Uint8Array): [string, string] | null {
  const nul = data.indexOf(0);
  if (nul < 1) return null;
  return [decodeLatin1(data.subarray(0, nul)), decodeLatin1(data.subarray(nul + 1))];
}

async function readCompressed(data: Uint8Array): Promise<[string, string] | null> {
  const nul = data.indexOf(0);
  if (nul < 1 || data[nul + 1] !== 0) return null;
  const text = await inflate(data.subarray(nul + 2));
  return text === null ? null : [decodeLatin1(data.subarray(0, nul)), decodeLatin1(text)];
}

async function readInternational(data: Uint8Array): Promise<[string, string] | null> {
  const nul = data.indexOf(0);
  if (nul < 1 || nul + 3 > data.length) return null;
  const compressed = data[nul + 1] === 1;
  const languageEnd = data.indexOf(0, nul + 3);
  const translatedEnd = languageEnd < 0 ? -1 : data.indexOf(0, languageEnd + 1);
  if (translatedEnd < 0) return null;
  let body: Uint8Array | null = data.subarray(translatedEnd + 1);
  if (compressed) body = await inflate(body);
  if (body === null) return null;
  try {
    return [
      decodeLatin1(data.subarray(0, nul)),
      new TextDecoder("utf-8", { fatal: true }).decode(body),
    ];
  } catch {
    return null;
  }
}

/** zlib-inflates (DecompressionStream, in browsers and Deno), or null when it cannot. */
async function inflate(data: Uint8Array): Promise<Uint8Array | null> {
  try {
    const stream = new Blob([data as Uint8Array<ArrayBuffer>]).stream()
      .pipeThrough(new DecompressionStream("deflate"));
    return new Uint8Array(await new Response(stream).arrayBuffer());
  } catch {
    return null;
  }
}

/** A parsed A1111 `parameters` text: prompt, negative prompt and the settings line's pairs. */
export interface A1111Parameters {
  prompt: string;
  negative_prompt: string | null;
  /** `Steps`, `Seed`, `Size`... as written (quotes removed). */
  settings: Record<string, string>;
}

const SETTING = /\s*([\w][\w \-/]*?):\s*("(?:\\.|[^\\"])*"|[^,]*)(?:,|$)/g;

/** The key/value pairs of a settings line (`Steps: 20, Seed: 1, ...`), or null if it is none. */
function settingsLine(line: string): Record<string, string> | null {
  const pairs: Record<string, string> = {};
  let count = 0;
  for (const m of line.matchAll(SETTING)) {
    const key = m[1].trim();
    let value = m[2].trim();
    if (value.startsWith('"')) {
      try {
        value = JSON.parse(value);
      } catch { /* kept as written */ }
    }
    pairs[key] = value;
    count++;
  }
  const known = ["Steps", "Seed", "Size", "Model", "Sampler", "CFG scale"];
  return count >= 2 && known.filter((k) => k in pairs).length >= 2 ? pairs : null;
}

/** Parses AUTOMATIC1111's `parameters` text (the settings line is its last line of pairs). */
export function parseA1111(text: string): A1111Parameters {
  const lines = text.replace(/\r\n?/g, "\n").trimEnd().split("\n");
  let settings: Record<string, string> = {};
  const last = lines.length > 1 ? settingsLine(lines[lines.length - 1]) : null;
  if (last) {
    settings = last;
    lines.pop();
  }
  const negativeAt = lines.findIndex((l) => l.startsWith("Negative prompt:"));
  const promptLines = negativeAt < 0 ? lines : lines.slice(0, negativeAt);
  const negative = negativeAt < 0 ? null : lines.slice(negativeAt).join("\n")
    .slice("Negative prompt:".length).trim();
  return { prompt: promptLines.join("\n").trim(), negative_prompt: negative || null, settings };
}

function intOf(value: string | undefined): number | undefined {
  if (value === undefined || !/^\d+$/.test(value.trim())) return undefined;
  const n = Number(value);
  return Number.isSafeInteger(n) ? n : undefined;
}

function floatOf(value: string | undefined): number | undefined {
  const n = value === undefined ? NaN : Number(value);
  return Number.isFinite(n) ? n : undefined;
}

function fromA1111(parsed: A1111Parameters): ImageSettings {
  const s = parsed.settings;
  const size = /^(\d+)x(\d+)$/.exec(s.Size ?? "");
  const parameters: Record<string, unknown> = {};
  const put = (k: string, v: unknown) => v !== undefined && (parameters[k] = v);
  put("seed", intOf(s.Seed));
  put("num_inference_steps", intOf(s.Steps));
  put("guidance_scale", floatOf(s["CFG scale"]));
  put("scheduler", s.Sampler);
  if (size) {
    parameters.width = Number(size[1]);
    parameters.height = Number(size[2]);
  }
  return {
    source: "a1111",
    prompt: parsed.prompt,
    negative_prompt: parsed.negative_prompt,
    model: s.Model ?? null,
    parameters,
  };
}

type Graph = Record<string, { class_type?: string; inputs?: Record<string, unknown> }>;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * Settings from a ComfyUI API graph (the `prompt` chunk): the first sampler's seed, steps, CFG
 * and sampler, the texts its positive and negative inputs lead to, the latent's size and the
 * checkpoint. Null when the graph has no sampler.
 */
export function fromComfyGraph(graph: unknown): ImageSettings | null {
  if (!isRecord(graph)) return null;
  const nodes = graph as Graph;
  const sampler = Object.values(nodes).find((n) =>
    isRecord(n) && typeof n.class_type === "string" && /KSampler/.test(n.class_type)
  );
  if (!sampler?.inputs) return null;
  const input = sampler.inputs;
  /** The text a link ([node id, output]) leads to, through a few nodes at most. */
  const textOf = (link: unknown, depth = 0): string | null => {
    if (!Array.isArray(link) || depth > 5) return null;
    const node = nodes[String(link[0])];
    if (!node?.inputs) return null;
    if (typeof node.inputs.text === "string") return node.inputs.text;
    for (const key of ["text", "conditioning", "conditioning_1", "positive"]) {
      const found = textOf(node.inputs[key], depth + 1);
      if (found !== null) return found;
    }
    return null;
  };
  const nodeOf = (type: RegExp) =>
    Object.values(nodes).find((n) =>
      isRecord(n) && typeof n.class_type === "string" && type.test(n.class_type)
    );
  const latent = nodeOf(/EmptyLatentImage/)?.inputs;
  const checkpoint = nodeOf(/CheckpointLoader/)?.inputs?.ckpt_name;
  const parameters: Record<string, unknown> = {};
  const put = (k: string, v: unknown) => typeof v === "number" && (parameters[k] = v);
  put("seed", input.seed ?? input.noise_seed);
  put("num_inference_steps", input.steps);
  put("guidance_scale", input.cfg);
  if (typeof input.sampler_name === "string") parameters.scheduler = input.sampler_name;
  put("width", latent?.width);
  put("height", latent?.height);
  return {
    source: "comfyui",
    prompt: textOf(input.positive) ?? "",
    negative_prompt: textOf(input.negative),
    model: typeof checkpoint === "string" ? checkpoint : null,
    parameters,
  };
}

interface WorkflowNode {
  id: number;
  type?: string;
  inputs?: { name?: string; link?: number | null }[];
  widgets_values?: unknown[];
}

/**
 * Settings from a ComfyUI UI workflow (the `workflow` chunk, when there is no `prompt` graph):
 * the first KSampler's widgets (seed, control, steps, cfg, sampler...) and the text widgets of
 * the nodes linked to its positive and negative inputs.
 */
export function fromComfyWorkflow(workflow: unknown): ImageSettings | null {
  if (!isRecord(workflow) || !Array.isArray(workflow.nodes)) return null;
  const nodes = workflow.nodes.filter(isRecord) as unknown as WorkflowNode[];
  const links = Array.isArray(workflow.links) ? workflow.links : [];
  const sampler = nodes.find((n) => typeof n.type === "string" && /^KSampler$/.test(n.type));
  if (!sampler) return null;
  const widgets = sampler.widgets_values ?? [];
  /** The first text widget of the node feeding the sampler's input `name`. */
  const textInto = (name: string): string | null => {
    const linkId = sampler.inputs?.find((i) => i.name === name)?.link;
    const link = links.find((l) => Array.isArray(l) && l[0] === linkId) as unknown[] | undefined;
    const from = link ? nodes.find((n) => n.id === link[1]) : undefined;
    const text = from?.widgets_values?.find((v) => typeof v === "string");
    return typeof text === "string" ? text : null;
  };
  const parameters: Record<string, unknown> = {};
  const put = (k: string, v: unknown) => typeof v === "number" && (parameters[k] = v);
  put("seed", widgets[0]);
  put("num_inference_steps", widgets[2]);
  put("guidance_scale", widgets[3]);
  if (typeof widgets[4] === "string") parameters.scheduler = widgets[4];
  return {
    source: "comfyui",
    prompt: textInto("positive") ?? "",
    negative_prompt: textInto("negative"),
    model: null,
    parameters,
  };
}

function parseJson(text: string | undefined): unknown {
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/**
 * How a PNG was made, from its text chunks: Darkroom's own `darkroom` chunk first, then
 * AUTOMATIC1111's `parameters`, then ComfyUI's `prompt` graph, then its `workflow`. Null when it
 * says nothing (or is not a PNG).
 */
export async function readImageSettings(bytes: Uint8Array): Promise<ImageSettings | null> {
  const text = await readPngText(bytes);
  const own = parseJson(text.get("darkroom"));
  if (isRecord(own) && typeof own.prompt === "string" && typeof own.model === "string") {
    return {
      source: "darkroom",
      prompt: own.prompt,
      negative_prompt: typeof own.negative_prompt === "string" ? own.negative_prompt : null,
      model: own.model,
      parameters: isRecord(own.parameters) ? own.parameters : {},
    };
  }
  const a1111 = text.get("parameters");
  if (a1111 !== undefined) return fromA1111(parseA1111(a1111));
  return fromComfyGraph(parseJson(text.get("prompt"))) ??
    fromComfyWorkflow(parseJson(text.get("workflow")));
}
