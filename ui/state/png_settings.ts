/**
 * The settings a PNG carries, for "drop an image on the form to reuse its settings": Darkroom's
 * `darkroom` JSON chunk, AUTOMATIC1111's `parameters` text, or ComfyUI's `prompt` graph. Reads
 * `tEXt`, `zTXt` and `iTXt` chunks (compressed ones through DecompressionStream). Browser-safe:
 * plain Uint8Array work, no Deno or Node API. It mirrors the reader the library backend adds in
 * shared/media/png_metadata.ts (same `ImageSettings` shape); once that is on main the UI can
 * import it instead and this file can go.
 */

/** What a PNG says about how it was made. */
export interface ImageSettings {
  source: "darkroom" | "a1111" | "comfyui";
  prompt: string;
  negative_prompt: string | null;
  /** The model or checkpoint named (a Darkroom model id only for `darkroom`, maybe for A1111). */
  model: string | null;
  /** Darkroom's parameter names: seed, num_inference_steps, guidance_scale, width, height... */
  parameters: Record<string, unknown>;
}

const SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

function latin1(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i += 8192) {
    s += String.fromCharCode(...bytes.subarray(i, i + 8192));
  }
  return s;
}

/** zlib-inflates, or null when the data is not zlib. */
async function inflate(data: Uint8Array): Promise<Uint8Array | null> {
  try {
    const stream = new Blob([data as Uint8Array<ArrayBuffer>]).stream()
      .pipeThrough(new DecompressionStream("deflate"));
    return new Uint8Array(await new Response(stream).arrayBuffer());
  } catch {
    return null;
  }
}

/** One text chunk's keyword and text, or null when it is malformed. */
async function textOf(type: string, data: Uint8Array): Promise<[string, string] | null> {
  const nul = data.indexOf(0);
  if (nul < 1) return null;
  const keyword = latin1(data.subarray(0, nul));
  if (type === "tEXt") return [keyword, latin1(data.subarray(nul + 1))];
  if (type === "zTXt") {
    const text = await inflate(data.subarray(nul + 2));
    return text && [keyword, latin1(text)];
  }
  // iTXt: keyword NUL, compressed flag, method, language NUL, translated keyword NUL, UTF-8 text.
  const language = data.indexOf(0, nul + 3);
  const translated = language < 0 ? -1 : data.indexOf(0, language + 1);
  if (translated < 0) return null;
  let body: Uint8Array | null = data.subarray(translated + 1);
  if (data[nul + 1] === 1) body = await inflate(body);
  if (!body) return null;
  try {
    return [keyword, new TextDecoder("utf-8", { fatal: true }).decode(body)];
  } catch {
    return null;
  }
}

/** The text chunks of a PNG, keyword → text (the first of each keyword); empty for others. */
export async function readPngText(bytes: Uint8Array): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  if (bytes.length < 8 || SIGNATURE.some((b, i) => bytes[i] !== b)) return out;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let at = 8; at + 12 <= bytes.length;) {
    const length = view.getUint32(at);
    const type = latin1(bytes.subarray(at + 4, at + 8));
    const end = at + 8 + length;
    if (type === "IEND" || end + 4 > bytes.length) break;
    if (type === "tEXt" || type === "zTXt" || type === "iTXt") {
      const entry = await textOf(type, bytes.subarray(at + 8, end));
      if (entry && !out.has(entry[0])) out.set(entry[0], entry[1]);
    }
    at = end + 4;
  }
  return out;
}

/** The pairs of an A1111 settings line (`Steps: 20, Seed: 1, Size: 512x768`); quotes removed. */
function settingsLine(line: string): Record<string, string> | null {
  const pairs: Record<string, string> = {};
  for (const m of line.matchAll(/\s*(\w[\w \-/]*?):\s*("(?:\\.|[^\\"])*"|[^,]*)(?:,|$)/g)) {
    let value = m[2].trim();
    if (value.startsWith('"')) {
      try {
        value = JSON.parse(value);
      } catch { /* kept as written */ }
    }
    pairs[m[1].trim()] = value;
  }
  const known = ["Steps", "Seed", "Size", "Model", "Sampler", "CFG scale"].filter((k) =>
    k in pairs
  );
  return known.length >= 2 ? pairs : null;
}

function int(value: string | undefined): number | undefined {
  return value !== undefined && /^\d{1,15}$/.test(value.trim()) ? Number(value) : undefined;
}

/**
 * AUTOMATIC1111's `parameters` text: the prompt, an optional `Negative prompt:` part, and a last
 * line of settings, mapped to Darkroom's parameter names.
 */
export function parseA1111(text: string): ImageSettings {
  const lines = text.replace(/\r\n?/g, "\n").trimEnd().split("\n");
  const s = (lines.length > 1 && settingsLine(lines[lines.length - 1])) || {};
  if (Object.keys(s).length) lines.pop();
  const neg = lines.findIndex((l) => l.startsWith("Negative prompt:"));
  const negative = neg < 0
    ? ""
    : lines.slice(neg).join("\n").slice("Negative prompt:".length).trim();
  const parameters: Record<string, unknown> = {};
  const put = (k: string, v: unknown) => v !== undefined && (parameters[k] = v);
  put("seed", int(s.Seed));
  put("num_inference_steps", int(s.Steps));
  const cfg = Number(s["CFG scale"]);
  if (s["CFG scale"] && Number.isFinite(cfg)) parameters.guidance_scale = cfg;
  const size = /^(\d+)x(\d+)$/.exec(s.Size ?? "");
  if (size) {
    parameters.width = Number(size[1]);
    parameters.height = Number(size[2]);
  }
  return {
    source: "a1111",
    prompt: (neg < 0 ? lines : lines.slice(0, neg)).join("\n").trim(),
    negative_prompt: negative || null,
    model: s.Model ?? null,
    parameters,
  };
}

type Node = { class_type?: unknown; inputs?: Record<string, unknown> };

/**
 * A ComfyUI API graph (the `prompt` chunk): the first sampler's seed, steps and CFG, the texts its
 * positive and negative inputs lead to, the empty latent's size. Null without a sampler.
 */
export function parseComfyGraph(graph: unknown): ImageSettings | null {
  if (!graph || typeof graph !== "object") return null;
  const nodes = graph as Record<string, Node>;
  const find = (re: RegExp) =>
    Object.values(nodes).find((n) => typeof n?.class_type === "string" && re.test(n.class_type));
  const sampler = find(/KSampler/)?.inputs;
  if (!sampler) return null;
  /** The text a link (`[node id, output]`) leads to, through a few nodes at most. */
  const text = (link: unknown, depth = 0): string | null => {
    const node = Array.isArray(link) && depth < 6 ? nodes[String(link[0])] : undefined;
    if (!node?.inputs) return null;
    if (typeof node.inputs.text === "string") return node.inputs.text;
    for (const k of ["text", "conditioning", "conditioning_1", "positive"]) {
      const found = text(node.inputs[k], depth + 1);
      if (found !== null) return found;
    }
    return null;
  };
  const latent = find(/EmptyLatentImage/)?.inputs ?? {};
  const parameters: Record<string, unknown> = {};
  const put = (k: string, v: unknown) => typeof v === "number" && (parameters[k] = v);
  put("seed", sampler.seed ?? sampler.noise_seed);
  put("num_inference_steps", sampler.steps);
  put("guidance_scale", sampler.cfg);
  put("width", latent.width);
  put("height", latent.height);
  const checkpoint = find(/CheckpointLoader/)?.inputs?.ckpt_name;
  return {
    source: "comfyui",
    prompt: text(sampler.positive) ?? "",
    negative_prompt: text(sampler.negative),
    model: typeof checkpoint === "string" ? checkpoint : null,
    parameters,
  };
}

function json(text: string | undefined): unknown {
  try {
    return text === undefined ? undefined : JSON.parse(text);
  } catch {
    return undefined;
  }
}

/**
 * How a PNG was made: Darkroom's own chunk first, then A1111's, then ComfyUI's graph. Null when
 * the file says nothing (or is not a PNG).
 */
export async function readImageSettings(bytes: Uint8Array): Promise<ImageSettings | null> {
  const text = await readPngText(bytes);
  const own = json(text.get("darkroom")) as Record<string, unknown> | undefined;
  if (own && typeof own.prompt === "string" && typeof own.model === "string") {
    const p = own.parameters;
    return {
      source: "darkroom",
      prompt: own.prompt,
      negative_prompt: typeof own.negative_prompt === "string" ? own.negative_prompt : null,
      model: own.model,
      parameters: p && typeof p === "object" && !Array.isArray(p)
        ? p as Record<string, unknown>
        : {},
    };
  }
  const a1111 = text.get("parameters");
  if (a1111 !== undefined) return parseA1111(a1111);
  return parseComfyGraph(json(text.get("prompt")));
}
