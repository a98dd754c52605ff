/**
 * The Generate form's draft (persisted), its field errors and the small helpers the first paint
 * needs. The draft → request mapping, which needs the model's schema, is in request.ts (loaded
 * with the model settings).
 */
import { effect, signal } from "@preact/signals";
import type { PriorityName } from "../../shared/queue/queue.ts";
import { type ApiError, type JobJson, PRIORITIES } from "../api_client.ts";
import type { FieldDesc, InputErrorKey, Inputs, InputValue } from "./schema_form.ts";

export const PROMPT_MAX = 2000;
export const SEED_MAX = 4294967295;

export interface Draft {
  prompt: string;
  negativePrompt: string;
  model: string;
  /** Values of the model's inputs the user set; the others take the schema's defaults. */
  inputs: Inputs;
  /** The model `inputs` were fitted to; when another one is picked they are carried over. */
  inputsModel: string;
  /** The seed shown in the field; with `seedLocked` it is sent as is, otherwise a new one is drawn. */
  seed: number | null;
  seedLocked: boolean;
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
  inputs: {},
  inputsModel: "",
  seed: null,
  seedLocked: false,
  extraJson: "",
  priority: "normal",
  advancedOpen: false,
};

/** Form fields outside the model's inputs that can carry an error message. */
export type FieldName =
  | "prompt"
  | "negativePrompt"
  | "model"
  | "extraJson"
  | "priority"
  | "form";

/** Where an error is shown: a form field, or a model input (`parameters.<name>`). */
export type ErrorKey = FieldName | InputErrorKey;

/** The message of each field with an error. */
export type FieldErrors = Partial<Record<ErrorKey, string>>;

/** What the form knows of the model: its fields, and whether it takes a negative prompt. */
export interface ModelForm {
  fields: FieldDesc[];
  negativePrompt: boolean;
}

/** A random seed in 0..2^32-1. */
export function randomSeed(random: () => number = Math.random): number {
  return Math.floor(random() * (SEED_MAX + 1));
}

const MODEL_RE = /^[a-z0-9][a-z0-9._-]*\/[a-z0-9][a-z0-9._-]*(:[0-9a-f]{64})?$/;

/** True when `text` is a model id the API takes (`owner/name` or `owner/name:<version>`). */
export function isModelId(text: string): boolean {
  return MODEL_RE.test(text);
}

/** True for a value the form can hold for an input. */
export function isInputValue(v: unknown): v is InputValue {
  return typeof v === "string" || typeof v === "boolean" ||
    (typeof v === "number" && Number.isFinite(v)) ||
    (Array.isArray(v) && v.every((x) => typeof x === "string"));
}

/**
 * A draft that reproduces a job: its parameters become the model's inputs (fitted to the model's
 * fields once its schema is known; what it lacks goes to the extra JSON), its seed is locked.
 */
export function draftFromJob(job: JobJson, current: Draft): Draft {
  const { seed: s, ...params } = job.parameters ?? {};
  const inputs: Inputs = {};
  const extra: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(params)) {
    if (isInputValue(v)) inputs[k] = v;
    else extra[k] = v;
  }
  const seed = typeof s === "number" && Number.isInteger(s) && s >= 0 && s <= SEED_MAX ? s : null;
  return {
    ...current,
    prompt: job.prompt,
    negativePrompt: job.negative_prompt ?? "",
    model: job.model,
    inputs,
    inputsModel: job.model,
    seed,
    seedLocked: seed !== null,
    extraJson: Object.keys(extra).length ? JSON.stringify(extra, null, 2) : "",
    priority: job.priority && PRIORITIES.includes(job.priority) ? job.priority : "normal",
    advancedOpen: current.advancedOpen || Object.keys(extra).length > 0 ||
      (job.priority !== undefined && job.priority !== "normal"),
  };
}

/** Checks a stored draft field by field, keeping what is valid. */
export function restoreDraft(raw: unknown): Draft {
  const d: Draft = { ...DEFAULT_DRAFT, inputs: {} };
  if (!raw || typeof raw !== "object") return d;
  const r = raw as Record<string, unknown>;
  const str = (k: keyof Draft) => typeof r[k] === "string" ? r[k] as string : undefined;
  d.prompt = str("prompt") ?? d.prompt;
  d.negativePrompt = str("negativePrompt") ?? d.negativePrompt;
  d.model = str("model") ?? d.model;
  d.inputsModel = str("inputsModel") ?? d.inputsModel;
  d.extraJson = str("extraJson") ?? d.extraJson;
  if (r.inputs && typeof r.inputs === "object" && !Array.isArray(r.inputs)) {
    for (const [k, v] of Object.entries(r.inputs as Record<string, unknown>).slice(0, 200)) {
      if (isInputValue(v)) d.inputs[k] = v;
    }
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
/** False while the model's schema says it takes no negative prompt (the box is then hidden). */
export const negativeOffered = signal(true);
/**
 * True while the form's error says the server could not take the submission (unreachable, or a
 * 503), rather than anything about the input: it no longer holds once the live feed is back.
 */
export const connectionError = signal(false);

/** Clears the form's error if it was about the connection (called when the server is back). */
export function clearConnectionError(): void {
  if (!connectionError.value) return;
  connectionError.value = false;
  if (!fieldErrors.value.form) return;
  const { form: _, ...rest } = fieldErrors.value;
  fieldErrors.value = rest;
}

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

/** Sets model inputs of the page draft; `undefined` clears one (its default applies again). */
export function setInputs(patch: Record<string, InputValue | undefined>): void {
  const inputs = { ...draft.value.inputs };
  for (const [name, value] of Object.entries(patch)) {
    if (value === undefined) delete inputs[name];
    else inputs[name] = value;
  }
  updateDraft({ inputs });
}
