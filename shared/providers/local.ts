/**
 * The built-in offline provider `local`: no network, no GPU. Predictions live in memory and
 * simulate diffusion steps in time (`stepMs` per step), with diffusers-style tqdm logs, and each
 * output is rendered on download by local_render.ts (on a render thread in the services).
 */
import { PredictionNotFoundError, ProviderError } from "../errors.ts";
import { LIMITS } from "../jobs/schemas.ts";
import { imageSketch } from "../media/sketch.ts";
import { decodeDataUri } from "../models/image_refs.ts";
import {
  hashString,
  isLocalModel,
  LOCAL_MAX_STEPS,
  LOCAL_STYLES,
  type RenderOptions,
  renderPng,
} from "./local_render.ts";
import {
  type CallOptions,
  type CreateOptions,
  isFinished,
  type Prediction,
  type PredictionInput,
  type PredictionStatus,
  type Provider,
} from "./provider.ts";

// The registry looks the styles up here, next to the provider that serves them.
export { isLocalModel, LOCAL_STYLES };

export interface LocalProviderOptions {
  /** Simulated time per inference step; 0 makes a prediction succeed on its first `get`. */
  stepMs: number;
  /** Clock in ms (tests inject one). */
  now?: () => number;
  /** Predictions older than this are forgotten (default one hour). */
  maxAgeMs?: number;
  /** At most this many predictions are kept; the oldest go first (default 10 000). */
  maxPredictions?: number;
  /**
   * Renders an output (default: on the calling thread). Services pass a render thread
   * (local_render_thread.ts), so a render does not stop their event loop.
   */
  render?: (options: RenderOptions) => Promise<Uint8Array<ArrayBuffer>>;
}

interface LocalPrediction {
  id: string;
  model: string;
  prompt: string;
  negativePrompt: string | null;
  width: number;
  height: number;
  numOutputs: number;
  seed: number;
  steps: number;
  createdAt: number;
  /** When Cancel-After fires (from `deadlineS`), or null. */
  deadlineAt: number | null;
  /** When `cancel` was called before the prediction finished, or null. */
  canceledAt: number | null;
  /** The `image` input shrunk to 8x8 sRGB pixels (see local_render.ts), or null. */
  image: number[] | null;
}

const DEFAULT_SIDE = 1024;
const DEFAULT_STEPS = 20;
/** The local provider's progress is recorded at most this often (ms). */
const MIN_PROGRESS_POLL_MS = 100;

/** Creates the offline provider; its predictions are kept in memory, bounded in age and count. */
export function createLocalProvider(options: LocalProviderOptions): Provider {
  const stepMs = Math.max(0, options.stepMs);
  const now = options.now ?? Date.now;
  const maxAgeMs = options.maxAgeMs ?? 60 * 60 * 1000;
  const maxPredictions = options.maxPredictions ?? 10_000;
  const render = options.render ?? ((o: RenderOptions) => Promise.resolve(renderPng(o)));
  const predictions = new Map<string, LocalPrediction>();

  function prune(at: number): void {
    // Insertion order is creation order, so the oldest entries come first.
    for (const [id, p] of predictions) {
      if (at - p.createdAt <= maxAgeMs && predictions.size < maxPredictions) break;
      predictions.delete(id);
    }
  }

  function find(id: string): LocalPrediction {
    const p = predictions.get(id);
    if (!p) throw new PredictionNotFoundError(id);
    return p;
  }

  return {
    name: "local",
    // Each simulated step is worth recording; asking costs nothing (the prediction is here).
    progressPollMs: Math.max(MIN_PROGRESS_POLL_MS, stepMs),

    create(input: PredictionInput, callOptions: CreateOptions = {}): Promise<Prediction> {
      return Promise.try(async () => {
        callOptions.signal?.throwIfAborted();
        const settings = readSettings(input);
        const image = await readImage(input.parameters?.image);
        const at = now();
        prune(at);
        const p: LocalPrediction = {
          id: crypto.randomUUID().replaceAll("-", ""),
          ...settings,
          createdAt: at,
          deadlineAt: callOptions.deadlineS !== undefined
            ? at + callOptions.deadlineS * 1000
            : null,
          canceledAt: null,
          image,
        };
        predictions.set(p.id, p);
        return { id: p.id, status: "starting", output: [], logs: "", error: null };
      });
    },

    get(id: string, callOptions: CallOptions = {}): Promise<Prediction> {
      return Promise.try(() => {
        callOptions.signal?.throwIfAborted();
        return snapshot(find(id), now(), stepMs);
      });
    },

    cancel(id: string, callOptions: CallOptions = {}): Promise<void> {
      return Promise.try(() => {
        callOptions.signal?.throwIfAborted();
        const p = find(id);
        const at = now();
        // Like Replicate, canceling a finished prediction changes nothing.
        if (!isFinished(snapshot(p, at, stepMs).status)) p.canceledAt = at;
      });
    },

    openOutput(ref: string, callOptions: CallOptions = {}): Promise<Response> {
      return Promise.try(async () => {
        callOptions.signal?.throwIfAborted();
        const match = /^local:\/\/([0-9a-f]+)\/(\d+)$/.exec(ref);
        if (!match) throw new ProviderError(`Cannot open output ${ref}: not a local:// ref`, false);
        const p = predictions.get(match[1]);
        if (!p) {
          throw new ProviderError(
            `Cannot open output ${ref}: prediction ${match[1]} is gone`,
            false,
          );
        }
        const index = Number(match[2]);
        if (index >= p.numOutputs) {
          throw new ProviderError(
            `Cannot open output ${ref}: prediction ${p.id} has ${p.numOutputs} output(s)`,
            false,
          );
        }
        const { status } = snapshot(p, now(), stepMs);
        if (status !== "succeeded") {
          throw new ProviderError(
            `Cannot open output ${ref}: prediction ${p.id} is ${status}`,
            false,
          );
        }
        const bytes = await render({
          prompt: p.prompt,
          negativePrompt: p.negativePrompt,
          style: p.model,
          seed: p.seed,
          width: p.width,
          height: p.height,
          index,
          ...(p.image ? { image: p.image } : {}),
        });
        return new Response(bytes, {
          headers: { "content-type": "image/png", "content-length": String(bytes.byteLength) },
        });
      });
    },
  };
}

type Settings = Pick<
  LocalPrediction,
  "model" | "prompt" | "negativePrompt" | "width" | "height" | "numOutputs" | "seed" | "steps"
>;

/** Reads the parameters the local provider understands; the API has validated them already. */
function readSettings(input: PredictionInput): Settings {
  if (!isLocalModel(input.model)) {
    throw new ProviderError(
      `Unknown local model ${input.model}; choose one of ${
        LOCAL_STYLES.map((s) => s.id).join(", ")
      }`,
      false,
    );
  }
  const params = input.parameters ?? {};
  const side = (name: string) => {
    const value = intParam(params, name, DEFAULT_SIDE);
    if (value < LIMITS.minSide || value > LIMITS.maxSide) {
      throw new ProviderError(
        `Invalid ${name} ${value}: must be from ${LIMITS.minSide} to ${LIMITS.maxSide}`,
        false,
      );
    }
    return value;
  };
  return {
    model: input.model,
    prompt: input.prompt,
    negativePrompt: input.negative_prompt ?? null,
    width: side("width"),
    height: side("height"),
    numOutputs: inRange(params, "num_outputs", 1, 1, LIMITS.maxOutputs),
    // Without a seed the same prompt gives the same image, as the offline look promises.
    seed: intParam(params, "seed", hashString(input.prompt)),
    steps: inRange(params, "num_inference_steps", DEFAULT_STEPS, 1, LOCAL_MAX_STEPS),
  };
}

/**
 * An integer parameter within its range; out of range is refused (not made to fit: the job
 * would record what did not run).
 */
function inRange(
  params: Record<string, unknown>,
  name: string,
  fallback: number,
  min: number,
  max: number,
): number {
  const value = intParam(params, name, fallback);
  if (value < min || value > max) {
    throw new ProviderError(`Invalid ${name} ${value}: must be from ${min} to ${max}`, false);
  }
  return value;
}

/**
 * The `image` input as the renderer takes it: a `data:` URI (what the worker hands this
 * provider) shrunk to 8x8 pixels; null without one. Any other value is left alone.
 */
async function readImage(value: unknown): Promise<number[] | null> {
  if (typeof value !== "string" || !value.startsWith("data:")) return null;
  const decoded = decodeDataUri(value);
  if (!decoded) {
    throw new ProviderError("Cannot read the image input: not a base64 data: URI", false);
  }
  try {
    return await imageSketch(decoded.bytes);
  } catch (err) {
    throw new ProviderError(`Cannot read the image input: ${(err as Error).message}`, false);
  }
}

function intParam(params: Record<string, unknown>, name: string, fallback: number): number {
  const value = params[name];
  if (value === undefined || value === null) return fallback;
  if (typeof value !== "number" || !Number.isSafeInteger(value)) {
    throw new ProviderError(`Invalid ${name} ${JSON.stringify(value)}: must be an integer`, false);
  }
  return value;
}

/** The prediction as seen at time `at`. */
function snapshot(p: LocalPrediction, at: number, stepMs: number): Prediction {
  const doneAt = p.createdAt + p.steps * stepMs;
  let status: PredictionStatus;
  let until = at;
  if (p.canceledAt !== null) {
    status = "canceled";
    until = p.canceledAt;
  } else if (p.deadlineAt !== null && p.deadlineAt < doneAt && at >= p.deadlineAt) {
    status = "aborted";
    until = p.deadlineAt;
  } else if (at >= doneAt) {
    status = "succeeded";
  } else {
    status = at > p.createdAt ? "processing" : "starting";
  }
  const started = until > p.createdAt || status === "succeeded";
  const stepsDone = status === "succeeded"
    ? p.steps
    : clamp(Math.floor((until - p.createdAt) / Math.max(stepMs, 1)), 0, p.steps);
  return {
    id: p.id,
    status,
    output: status === "succeeded"
      ? Array.from({ length: p.numOutputs }, (_, i) => `local://${p.id}/${i}`)
      : [],
    logs: started ? progressLogs(p.seed, stepsDone, p.steps, stepMs) : "",
    error: null,
    ...(status === "succeeded" ? { runMs: doneAt - p.createdAt } : {}),
  };
}

/** The seed line, then tqdm's opening line and one line per completed step. */
function progressLogs(seed: number, done: number, total: number, stepMs: number): string {
  let logs = `Using seed: ${seed}\n`;
  for (let k = 0; k <= done; k++) logs += tqdmLine(k, total, stepMs) + "\n";
  return logs;
}

const BAR_CHARS = " ▏▎▍▌▋▊▉█";

/**
 * One line as tqdm prints it for diffusers (no terminal: ten-cell bar), e.g.
 * ` 40%|████      | 8/20 [00:00<00:00, 16.00it/s]`, or `1.50s/it` below one step a second.
 */
function tqdmLine(done: number, total: number, stepMs: number): string {
  const cells = Math.floor((done / total) * 10 * 8);
  const full = Math.floor(cells / 8);
  let bar = "█".repeat(full);
  if (full < 10) bar += BAR_CHARS[cells % 8] + " ".repeat(10 - full - 1);
  const elapsedS = (done * stepMs) / 1000;
  let timing: string;
  if (done === 0 || elapsedS === 0) {
    timing = `${formatInterval(elapsedS)}<?, ?it/s`;
  } else {
    const rate = done / elapsedS;
    const remaining = formatInterval((total - done) / rate);
    const rateText = 1 / rate > 1
      ? `${pyFixed(1 / rate, 2).padStart(5)}s/it`
      : `${pyFixed(rate, 2).padStart(5)}it/s`;
    timing = `${formatInterval(elapsedS)}<${remaining}, ${rateText}`;
  }
  const percent = pyFixed((done / total) * 100, 0).padStart(3);
  return `${percent}%|${bar}| ${done}/${total} [${timing}]`;
}

/** tqdm's format_interval: `mm:ss`, or `h:mm:ss` from one hour. */
function formatInterval(seconds: number): string {
  const total = Math.trunc(seconds);
  const s = total % 60;
  const m = Math.floor(total / 60) % 60;
  const h = Math.floor(total / 3600);
  const two = (n: number) => String(n).padStart(2, "0");
  return h ? `${h}:${two(m)}:${two(s)}` : `${two(m)}:${two(s)}`;
}

/** Python's `format(x, ".Nf")`: like toFixed, but exact ties round to even. */
function pyFixed(x: number, digits: number): string {
  const scale = 10 ** digits;
  const scaled = x * scale;
  const floor = Math.floor(scaled);
  if (scaled - floor === 0.5 && floor % 2 === 0) return (floor / scale).toFixed(digits);
  return x.toFixed(digits);
}

function clamp(v: number, lo: number, hi: number): number {
  return v < lo ? lo : v > hi ? hi : v;
}
