/** The Generate form: its draft (persisted), the draft → request mapping and field errors. */
import { effect, signal } from "@preact/signals";
import type { PriorityName } from "../../shared/queue/queue.ts";
import {
  type ApiError,
  type ErrorDetail,
  type GenerateBody,
  type JobJson,
  PRIORITIES,
} from "../api_client.ts";

export const PROMPT_MAX = 2000;
export const SEED_MAX = 4294967295;
export const PARAMETERS_MAX_BYTES = 16 * 1024;

export const ASPECTS = {
  "1:1": { width: 1024, height: 1024 },
  "3:2": { width: 1216, height: 832 },
  "2:3": { width: 832, height: 1216 },
  "16:9": { width: 1344, height: 768 },
  "9:16": { width: 768, height: 1344 },
} as const;

export type Aspect = keyof typeof ASPECTS;

export const ASPECT_KEYS = Object.keys(ASPECTS) as Aspect[];

export interface Draft {
  prompt: string;
  negativePrompt: string;
  model: string;
  aspect: Aspect;
  numOutputs: number;
  /** The seed shown in the field; with `seedLocked` it is sent as is, otherwise a new one is drawn. */
  seed: number | null;
  seedLocked: boolean;
  /** Text of the number inputs ("" = the model's default). */
  steps: string;
  guidance: string;
  /** A JSON object merged into `parameters` last (it wins over the fields above). */
  extraJson: string;
  /** Queue priority, sent as the body's top-level `priority`. */
  priority: PriorityName;
  advancedOpen: boolean;
}

export const DEFAULT_DRAFT: Draft = {
  prompt: "",
  negativePrompt: "",
  model: "",
  aspect: "1:1",
  numOutputs: 1,
  seed: null,
  seedLocked: false,
  steps: "",
  guidance: "",
  extraJson: "",
  priority: "normal",
  advancedOpen: false,
};

/** Form fields that can carry an error message. */
export type FieldName =
  | "prompt"
  | "negativePrompt"
  | "model"
  | "aspect"
  | "numOutputs"
  | "seed"
  | "steps"
  | "guidance"
  | "extraJson"
  | "priority"
  | "form";

export type FieldErrors = Partial<Record<FieldName, string>>;

export type BuildResult =
  | { ok: true; body: GenerateBody; seed: number }
  | { ok: false; errors: FieldErrors };

/** A random seed in 0..2^32-1. */
export function randomSeed(random: () => number = Math.random): number {
  return Math.floor(random() * (SEED_MAX + 1));
}

function numberField(
  text: string,
  opts: { min: number; max: number; integer: boolean; label: string },
): { value?: number; error?: string } {
  const t = text.trim();
  if (!t) return {};
  const n = Number(t);
  if (!Number.isFinite(n)) return { error: `${opts.label} must be a number` };
  if (opts.integer && !Number.isInteger(n)) {
    return { error: `${opts.label} must be a whole number` };
  }
  if (n < opts.min || n > opts.max) {
    return { error: `${opts.label} must be between ${opts.min} and ${opts.max}` };
  }
  return { value: n };
}

/** Parses the extra-parameters text: a JSON object of finite numbers, at most 16 KB. */
export function parseExtraJson(text: string): { value: Record<string, unknown> } | {
  error: string;
} {
  if (!text.trim()) return { value: {} };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return { error: `Not valid JSON: ${(err as Error).message}` };
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    return { error: 'Must be a JSON object, like {"scheduler": "K_EULER"}' };
  }
  if (hasNonFinite(value)) return { error: "Numbers must be finite (1e400 is too large)" };
  if (new TextEncoder().encode(JSON.stringify(value)).length > PARAMETERS_MAX_BYTES) {
    return { error: "Must be at most 16 KB of JSON" };
  }
  return { value: value as Record<string, unknown> };
}

function hasNonFinite(value: unknown): boolean {
  if (typeof value === "number") return !Number.isFinite(value);
  if (value && typeof value === "object") return Object.values(value).some(hasNonFinite);
  return false;
}

/**
 * Maps the draft to the `POST /generate` body, or returns an error per field. Aspect ratio gives
 * width, height and `aspect_ratio`; an unlocked seed is drawn afresh with `random`.
 */
export function buildRequest(draft: Draft, random: () => number = Math.random): BuildResult {
  const errors: FieldErrors = {};
  const prompt = draft.prompt.trim();
  if (!prompt) errors.prompt = "Describe the image you want";
  else if (draft.prompt.length > PROMPT_MAX) {
    errors.prompt = `At most ${PROMPT_MAX} characters (${draft.prompt.length} now)`;
  }
  if (draft.negativePrompt.length > PROMPT_MAX) {
    errors.negativePrompt = `At most ${PROMPT_MAX} characters`;
  }
  const model = draft.model.trim();
  if (!model) errors.model = "Choose a model";
  else if (!/^[a-z0-9][a-z0-9._-]*\/[a-z0-9][a-z0-9._-]*(:[0-9a-f]{64})?$/.test(model)) {
    errors.model = "Use owner/name or owner/name:version";
  }
  if (!Number.isInteger(draft.numOutputs) || draft.numOutputs < 1 || draft.numOutputs > 4) {
    errors.numOutputs = "Choose 1 to 4 images";
  }
  let seed = draft.seed;
  if (!draft.seedLocked || seed === null) seed = draft.seedLocked ? null : randomSeed(random);
  if (seed === null || !Number.isInteger(seed) || seed < 0 || seed > SEED_MAX) {
    errors.seed = `A whole number from 0 to ${SEED_MAX}`;
  }
  const steps = numberField(draft.steps, { min: 1, max: 500, integer: true, label: "Steps" });
  if (steps.error) errors.steps = steps.error;
  const guidance = numberField(draft.guidance, {
    min: 0,
    max: 50,
    integer: false,
    label: "Guidance",
  });
  if (guidance.error) errors.guidance = guidance.error;
  const extra = parseExtraJson(draft.extraJson);
  if ("error" in extra) errors.extraJson = extra.error;

  if (Object.keys(errors).length) return { ok: false, errors };
  const size = ASPECTS[draft.aspect] ?? ASPECTS["1:1"];
  const parameters: Record<string, unknown> = {
    width: size.width,
    height: size.height,
    aspect_ratio: draft.aspect,
    num_outputs: draft.numOutputs,
    seed,
  };
  if (steps.value !== undefined) parameters.num_inference_steps = steps.value;
  if (guidance.value !== undefined) parameters.guidance_scale = guidance.value;
  Object.assign(parameters, (extra as { value: Record<string, unknown> }).value);
  const priority = PRIORITIES.includes(draft.priority) ? draft.priority : "normal";
  const body: GenerateBody = { prompt: draft.prompt, model, parameters, priority };
  if (draft.negativePrompt.trim()) body.negative_prompt = draft.negativePrompt;
  return { ok: true, body, seed: seed as number };
}

/** Which form field an API error detail (`prompt`, `parameters.width`, ...) belongs to. */
export function fieldForDetail(field: string): FieldName {
  switch (field) {
    case "prompt":
      return "prompt";
    case "negative_prompt":
      return "negativePrompt";
    case "model":
      return "model";
    case "parameters.width":
    case "parameters.height":
    case "parameters.aspect_ratio":
      return "aspect";
    case "parameters.num_outputs":
      return "numOutputs";
    case "parameters.seed":
      return "seed";
    case "parameters.num_inference_steps":
      return "steps";
    case "parameters.guidance_scale":
      return "guidance";
    case "priority":
      return "priority";
  }
  return field.startsWith("parameters") ? "extraJson" : "form";
}

/** Turns the API's `details` into per-field messages (several for one field are joined). */
export function errorsFromDetails(details: ErrorDetail[], fallback: string): FieldErrors {
  const errors: FieldErrors = {};
  for (const d of details) {
    const name = fieldForDetail(d.field);
    const msg = name === "extraJson" || name === "aspect" || name === "form"
      ? `${d.field}: ${d.message}`
      : d.message;
    errors[name] = errors[name] ? `${errors[name]}; ${msg}` : msg;
  }
  if (!Object.keys(errors).length) errors.form = fallback;
  return errors;
}

const KNOWN = new Set(["width", "height", "aspect_ratio", "num_outputs", "seed"]);

/** A draft that reproduces a job: known fields into the form, everything else into extra JSON. */
export function draftFromJob(job: JobJson, current: Draft): Draft {
  const p = job.parameters ?? {};
  const extra: Record<string, unknown> = {};
  const aspect =
    ASPECT_KEYS.find((k) => ASPECTS[k].width === p.width && ASPECTS[k].height === p.height) ??
      (typeof p.aspect_ratio === "string" && p.aspect_ratio in ASPECTS
        ? p.aspect_ratio as Aspect
        : undefined);
  for (const [k, v] of Object.entries(p)) {
    if (k === "num_inference_steps" || k === "guidance_scale") continue;
    if (KNOWN.has(k)) continue;
    extra[k] = v;
  }
  if (!aspect || ASPECTS[aspect].width !== p.width || ASPECTS[aspect].height !== p.height) {
    if (p.width !== undefined) extra.width = p.width;
    if (p.height !== undefined) extra.height = p.height;
  }
  const n = Number(p.num_outputs);
  const seed = typeof p.seed === "number" && Number.isInteger(p.seed) ? p.seed : null;
  return {
    ...current,
    prompt: job.prompt,
    negativePrompt: job.negative_prompt ?? "",
    model: job.model,
    aspect: aspect ?? current.aspect,
    numOutputs: Number.isInteger(n) && n >= 1 && n <= 4 ? n : 1,
    seed,
    seedLocked: seed !== null,
    steps: p.num_inference_steps === undefined ? "" : String(p.num_inference_steps),
    guidance: p.guidance_scale === undefined ? "" : String(p.guidance_scale),
    extraJson: Object.keys(extra).length ? JSON.stringify(extra, null, 2) : "",
    priority: job.priority && PRIORITIES.includes(job.priority) ? job.priority : "normal",
    advancedOpen: current.advancedOpen || Object.keys(extra).length > 0 ||
      p.num_inference_steps !== undefined || p.guidance_scale !== undefined ||
      (job.priority !== undefined && job.priority !== "normal"),
  };
}

/** Checks a stored draft field by field, keeping what is valid. */
export function restoreDraft(raw: unknown): Draft {
  const d = { ...DEFAULT_DRAFT };
  if (!raw || typeof raw !== "object") return d;
  const r = raw as Record<string, unknown>;
  const str = (k: keyof Draft) => typeof r[k] === "string" ? r[k] as string : undefined;
  d.prompt = str("prompt") ?? d.prompt;
  d.negativePrompt = str("negativePrompt") ?? d.negativePrompt;
  d.model = str("model") ?? d.model;
  d.steps = str("steps") ?? d.steps;
  d.guidance = str("guidance") ?? d.guidance;
  d.extraJson = str("extraJson") ?? d.extraJson;
  if (typeof r.aspect === "string" && r.aspect in ASPECTS) d.aspect = r.aspect as Aspect;
  if (typeof r.numOutputs === "number" && r.numOutputs >= 1 && r.numOutputs <= 4) {
    d.numOutputs = Math.floor(r.numOutputs);
  }
  if (typeof r.seed === "number" && Number.isInteger(r.seed) && r.seed >= 0 && r.seed <= SEED_MAX) {
    d.seed = r.seed;
  }
  d.seedLocked = r.seedLocked === true && d.seed !== null;
  if (PRIORITIES.includes(r.priority as PriorityName)) d.priority = r.priority as PriorityName;
  d.advancedOpen = r.advancedOpen === true;
  return d;
}

/** Where the draft is kept between visits (localStorage in the page, a Map in tests). */
export interface DraftStorage {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
}

export const DRAFT_KEY = "darkroom.draft.v1";

/** Loads the stored draft and saves every change (debounced by the caller's event loop). */
export function persistDraft(
  target: { value: Draft },
  storage: DraftStorage | undefined,
  subscribe: (fn: () => void) => () => void = effect,
): () => void {
  if (!storage) return () => {};
  try {
    const saved = storage.getItem(DRAFT_KEY);
    if (saved) target.value = restoreDraft(JSON.parse(saved));
  } catch { /* a broken entry is replaced on the next save */ }
  return subscribe(() => {
    const json = JSON.stringify(target.value);
    try {
      storage.setItem(DRAFT_KEY, json);
    } catch { /* storage full or disabled: the draft lives for this visit only */ }
  });
}

function browserStorage(): DraftStorage | undefined {
  try {
    return globalThis.localStorage ?? undefined;
  } catch {
    return undefined;
  }
}

/** The page's draft, restored from localStorage when the module loads in a browser. */
export const draft = signal<Draft>({ ...DEFAULT_DRAFT });
/** Per-field errors of the last submission (client-side or from the API). */
export const fieldErrors = signal<FieldErrors>({});
/** An image dropped on the Generate form (boot.ts catches it), until its settings are read. */
export const droppedImage = signal<File | null>(null);
/** Set to focus the prompt (e.g. after "reuse settings"); the form bumps it back. */
export const focusPromptRequest = signal(0);

/** A refused submission that says when to try again (429 with `Retry-After`). */
export interface RateLimit {
  message: string;
  /** When submitting should work again (ms since the epoch); null when the server did not say. */
  until: number | null;
}

/** The last 429 of `POST /generate`, shown by the Generate button until it expires. */
export const rateLimit = signal<RateLimit | null>(null);

/**
 * What to show for a 429: the server's message (without its own "try again in N s", which the
 * countdown replaces) and when it ends (from `Retry-After`).
 */
export function rateLimitFrom(err: ApiError, now = Date.now()): RateLimit {
  const message = err.message.replace(/[;,.]?\s*try again in \d+\s*s\.?$/i, "")
    .replace(/\.$/, "").trim() || "Too many submits";
  return { message, until: err.retryAfterS === null ? null : now + err.retryAfterS * 1000 };
}

/** Whole seconds left until `until` (0 once passed). */
export function secondsLeft(until: number, now = Date.now()): number {
  return Math.max(0, Math.ceil((until - now) / 1000));
}

/** Starts persisting the page draft (called once by the form island). */
export function startDraftPersistence(): void {
  if (started) return;
  started = true;
  persistDraft(draft, "document" in globalThis ? browserStorage() : undefined);
}
let started = false;

/** Updates some fields of the page draft. */
export function updateDraft(patch: Partial<Draft>): void {
  draft.value = { ...draft.value, ...patch };
}
