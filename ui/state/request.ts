/**
 * The Generate form's draft → `POST /generate` body (checked against the model's form), the API's
 * 422 details mapped onto the fields, and the draft fitted to a model's form when it changes.
 */
import { type ErrorDetail, type GenerateBody, PRIORITIES } from "../api_client.ts";
import {
  type Draft,
  type ErrorKey,
  type FieldErrors,
  isModelId,
  type ModelForm,
  PROMPT_MAX,
  randomSeed,
  SEED_MAX,
} from "./form.ts";
import {
  carryOver,
  collectInputs,
  type DroppedValue,
  type FieldDesc,
  inputKeyForDetail,
  inputNames,
  leafFields,
} from "./schema_form.ts";

/** The most JSON the extra parameters may hold (the API caps `parameters` at 16 KB). */
export const PARAMETERS_MAX_BYTES = 16 * 1024;

/** The body to send (and the seed it carries), or the errors to show. */
export type BuildResult =
  | { ok: true; body: GenerateBody; seed: number | null }
  | { ok: false; errors: FieldErrors };

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
 * Maps the draft to the `POST /generate` body, or returns an error per field. With the model's
 * form, every input it lists is sent (the value set, or its default) and checked first; the seed
 * is sent when the model takes one (an unlocked seed is drawn afresh with `random`); the negative
 * prompt only when the model takes one. Without it (the schema could not be had), the values set
 * are sent as they are and the server decides.
 */
export function buildRequest(
  draft: Draft,
  form: ModelForm | null,
  random: () => number = Math.random,
): BuildResult {
  const errors: FieldErrors = {};
  const prompt = draft.prompt.trim();
  if (!prompt) errors.prompt = "Describe the image you want";
  else if (draft.prompt.length > PROMPT_MAX) {
    errors.prompt = `At most ${PROMPT_MAX} characters (${draft.prompt.length} now)`;
  }
  const sendNegative = form === null || form.negativePrompt;
  if (sendNegative && draft.negativePrompt.length > PROMPT_MAX) {
    errors.negativePrompt = `At most ${PROMPT_MAX} characters`;
  }
  const model = draft.model.trim();
  if (!model) errors.model = "Choose a model";
  else if (!isModelId(model)) errors.model = "Use owner/name or owner/name:version";

  let parameters: Record<string, unknown>;
  if (form) {
    const collected = collectInputs(form.fields, draft.inputs);
    parameters = collected.parameters;
    Object.assign(errors, collected.errors);
  } else {
    parameters = { ...draft.inputs };
  }
  const takesSeed = form
    ? leafFields(form.fields).some((f) => f.kind === "seed")
    : draft.seedLocked;
  let seed: number | null = null;
  if (takesSeed) {
    seed = draft.seedLocked ? draft.seed : randomSeed(random);
    if (seed === null || !Number.isInteger(seed) || seed < 0 || seed > SEED_MAX) {
      errors["parameters.seed"] = `A whole number from 0 to ${SEED_MAX}`;
    } else {
      parameters.seed = seed;
    }
  }
  const extra = parseExtraJson(draft.extraJson);
  if ("error" in extra) errors.extraJson = extra.error;

  if (Object.keys(errors).length) return { ok: false, errors };
  Object.assign(parameters, (extra as { value: Record<string, unknown> }).value);
  const priority = PRIORITIES.includes(draft.priority) ? draft.priority : "normal";
  const body: GenerateBody = { prompt: draft.prompt, model, parameters, priority };
  if (sendNegative && draft.negativePrompt.trim()) body.negative_prompt = draft.negativePrompt;
  return { ok: true, body, seed };
}

/** Which form field an API error detail (`prompt`, `parameters.width`, ...) belongs to. */
export function fieldForDetail(field: string, inputs: Set<string> = new Set()): ErrorKey {
  switch (field) {
    case "prompt":
      return "prompt";
    case "negative_prompt":
      return "negativePrompt";
    case "model":
      return "model";
    case "priority":
      return "priority";
  }
  return inputKeyForDetail(field, inputs) ??
    (field === "parameters" || field.startsWith("parameters.") ? "extraJson" : "form");
}

/**
 * Turns the API's `details` into per-field messages (several for one field are joined): the
 * model's inputs named in `inputs` next to their control, other parameters on the extra JSON.
 */
export function errorsFromDetails(
  details: ErrorDetail[],
  fallback: string,
  inputs: Set<string> = new Set(),
): FieldErrors {
  const errors: FieldErrors = {};
  for (const d of details) {
    const key = fieldForDetail(d.field, inputs);
    const msg = key === "extraJson" || key === "form" ? `${d.field}: ${d.message}` : d.message;
    errors[key] = errors[key] ? `${errors[key]}; ${msg}` : msg;
  }
  if (!Object.keys(errors).length) errors.form = fallback;
  return errors;
}

/**
 * The draft fitted to the fields of `model` once its schema is known, or null when it fits
 * already. Inputs made for another model carry over where the field exists in both and takes the
 * value (the rest is returned as dropped); inputs of this very model that it does not list (a
 * reused job) move to the extra JSON.
 */
export function fitDraft(
  draft: Draft,
  model: string,
  fields: FieldDesc[],
  previous: FieldDesc[] = [],
): { draft: Draft; dropped: DroppedValue[] } | null {
  const names = inputNames(fields);
  const unknown = Object.keys(draft.inputs).filter((k) => !names.has(k));
  if (draft.inputsModel === model && unknown.length === 0) return null;
  if (draft.inputsModel === model || draft.inputsModel === "") {
    const extra = parseExtraJson(draft.extraJson);
    const inputs = { ...draft.inputs };
    if ("value" in extra) {
      for (const k of unknown) {
        if (!(k in extra.value)) extra.value[k] = inputs[k];
        delete inputs[k];
      }
      return {
        draft: {
          ...draft,
          inputs,
          inputsModel: model,
          extraJson: Object.keys(extra.value).length ? JSON.stringify(extra.value, null, 2) : "",
          advancedOpen: draft.advancedOpen || unknown.length > 0,
        },
        dropped: [],
      };
    }
  }
  const { inputs, dropped } = carryOver(draft.inputs, fields, previous);
  return { draft: { ...draft, inputs, inputsModel: model }, dropped };
}
