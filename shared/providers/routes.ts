/**
 * Model routes: an alias (`flux-schnell`) names an ordered list of targets on different
 * providers (`black-forest-labs/flux-schnell` on Replicate, `fal:fal-ai/flux/schnell` on fal),
 * each with the mapping of the job's parameters into that provider's vocabulary.
 *
 * The failover rule (`neverAccepted`): a job on an alias goes to its first target whose circuit is
 * closed, and moves to the next one ONLY when the current one never accepted the request: the
 * connection was refused, the name did not resolve, the create answered 5xx or 429 without a
 * prediction, or the circuit is open (nothing sent). A timeout or a connection cut after the
 * request was sent may have created a prediction: the job then retries the same target later.
 * Once a provider holds a prediction for the job, the job stays with it: nothing is billed twice.
 *
 * Built-in aliases (BUILTIN_ROUTES) can be replaced, extended or removed with MODEL_ROUTES:
 * `{"alias": ["owner/name", "fal:owner/app/path"], "other": {"description": "…", "targets":
 * [{"model": "fal:…", "rename": {"from": "to"}, "set": {"field": 1}, "drop": ["field"]}]},
 * "flux-pro": null}`.
 */
import { ProviderError } from "../errors.ts";
import { CircuitOpenError } from "./circuit.ts";
import { falEndpoint, type ProviderKind, providerKindOf } from "./model_ref.ts";
import { ProviderUnreachableError } from "./unreachable.ts";

/** Changes made to a target's parameters after the provider's own mapping. */
export interface ParameterRules {
  /** Field renames (`{"guidance_scale": "guidance"}`). */
  rename?: Record<string, string>;
  /** Fields set (overriding the job's). */
  set?: Record<string, unknown>;
  /** Fields removed. */
  drop?: string[];
}

/** One target of a route. */
export interface RouteTarget extends ParameterRules {
  model: string;
  provider: ProviderKind;
}

export interface ModelRoute {
  alias: string;
  description: string;
  targets: RouteTarget[];
}

export type RouteTable = ReadonlyMap<string, ModelRoute>;
export type { ProviderKind };

/** Alias names: no `/` or `:`, so an alias never looks like a model. */
export const ALIAS_PATTERN = /^[a-z0-9][a-z0-9._-]{0,63}$/;
const REPLICATE_MODEL = /^[a-z0-9][a-z0-9._-]{0,99}\/[a-z0-9][a-z0-9._-]{0,99}(:[0-9a-f]{64})?$/;

/** The built-in aliases (popular models served by both Replicate and fal). */
export const BUILTIN_ROUTES: Record<string, RouteSpec> = {
  "flux-schnell": {
    description: "FLUX.1 [schnell]: fast, 1–4 steps (Replicate, then fal)",
    targets: ["black-forest-labs/flux-schnell", "fal:fal-ai/flux/schnell"],
  },
  "flux-dev": {
    description: "FLUX.1 [dev]: high quality, slower (Replicate, then fal)",
    targets: [
      { model: "black-forest-labs/flux-dev", rename: { guidance_scale: "guidance" } },
      "fal:fal-ai/flux/dev",
    ],
  },
  "flux-pro": {
    description: "FLUX1.1 [pro]: best quality (Replicate, then fal)",
    targets: ["black-forest-labs/flux-1.1-pro", "fal:fal-ai/flux-pro/v1.1"],
  },
  "sd3.5-large": {
    description: "Stable Diffusion 3.5 Large (Replicate, then fal)",
    targets: ["stability-ai/stable-diffusion-3.5-large", "fal:fal-ai/stable-diffusion-v35-large"],
  },
};

/** A route as written in MODEL_ROUTES: its targets, or an object with a description. */
export type RouteSpec =
  | (string | ({ model: string } & ParameterRules))[]
  | { description?: string; targets: (string | ({ model: string } & ParameterRules))[] };

/**
 * The route table: the built-in aliases with MODEL_ROUTES (JSON text) laid over them. Throws an
 * Error naming the first problem when the text is not a valid table.
 */
export function parseModelRoutes(text?: string): RouteTable {
  const specs: Record<string, RouteSpec | null> = { ...BUILTIN_ROUTES };
  if (text !== undefined && text.trim() !== "") {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new Error("MODEL_ROUTES is not valid JSON");
    }
    if (!isRecord(parsed)) throw new Error("MODEL_ROUTES must be a JSON object of aliases");
    Object.assign(specs, parsed);
  }
  const table = new Map<string, ModelRoute>();
  for (const [alias, spec] of Object.entries(specs)) {
    if (spec === null) continue; // removes a built-in
    table.set(alias, routeOf(alias, spec));
  }
  return table;
}

function routeOf(alias: string, spec: unknown): ModelRoute {
  if (!ALIAS_PATTERN.test(alias)) {
    throw new Error(
      `MODEL_ROUTES alias ${JSON.stringify(alias.slice(0, 80))} must be lower-case letters, ` +
        "digits, . _ - (no / or :)",
    );
  }
  const list = Array.isArray(spec) ? spec : isRecord(spec) ? spec.targets : undefined;
  if (!Array.isArray(list) || list.length === 0 || list.length > 8) {
    throw new Error(`MODEL_ROUTES ${alias}: give 1 to 8 targets`);
  }
  const description = isRecord(spec) && typeof spec.description === "string"
    ? spec.description.slice(0, 200)
    : "";
  const targets = list.map((t) => targetOf(alias, t));
  return {
    alias,
    description: description ||
      `Routed: ${targets.map((t) => `${t.model} (${t.provider})`).join(", then ")}`,
    targets,
  };
}

function targetOf(alias: string, value: unknown): RouteTarget {
  const spec = typeof value === "string" ? { model: value } : value;
  if (!isRecord(spec) || typeof spec.model !== "string") {
    throw new Error(`MODEL_ROUTES ${alias}: a target is a model or {"model": …}`);
  }
  const model = spec.model.trim();
  const provider = providerKindOf(model);
  const valid = provider === "fal"
    ? falEndpoint(model) !== null
    : provider === "local"
    ? /^local\/[a-z0-9-]{1,50}$/.test(model)
    : REPLICATE_MODEL.test(model);
  if (!valid) {
    throw new Error(
      `MODEL_ROUTES ${alias}: ${JSON.stringify(model.slice(0, 120))} is not a model ` +
        "(owner/name[:version], fal:owner/app[/path] or local/<style>)",
    );
  }
  const target: RouteTarget = { model, provider };
  if (spec.rename !== undefined) {
    if (!isRecord(spec.rename) || !Object.values(spec.rename).every((v) => typeof v === "string")) {
      throw new Error(`MODEL_ROUTES ${alias}: rename maps field names to field names`);
    }
    target.rename = spec.rename as Record<string, string>;
  }
  if (spec.set !== undefined) {
    if (!isRecord(spec.set)) throw new Error(`MODEL_ROUTES ${alias}: set is an object of fields`);
    target.set = spec.set;
  }
  if (spec.drop !== undefined) {
    if (!Array.isArray(spec.drop) || !spec.drop.every((v) => typeof v === "string")) {
      throw new Error(`MODEL_ROUTES ${alias}: drop is a list of field names`);
    }
    target.drop = spec.drop;
  }
  return target;
}

// ---- Parameter mapping ----

/** fal's `image_size` presets and the aspect ratios they are. */
const FAL_PRESETS: Record<string, string> = {
  "1:1": "square_hd",
  "4:3": "landscape_4_3",
  "3:4": "portrait_4_3",
  "16:9": "landscape_16_9",
  "9:16": "portrait_16_9",
};
const PRESET_RATIOS: Record<string, string> = {
  ...Object.fromEntries(Object.entries(FAL_PRESETS).map(([ratio, preset]) => [preset, ratio])),
  square: "1:1",
};
/** Replicate's output formats and fal's. */
const TO_FAL_FORMAT: Record<string, string> = { jpg: "jpeg", webp: "jpeg", png: "png" };
const TO_REPLICATE_FORMAT: Record<string, string> = { jpeg: "jpg", png: "png" };

/**
 * The job's parameters (in Replicate's vocabulary, which the form and the API document speak; fal
 * names are understood too) for a target: its provider's mapping, then the target's own rules.
 */
export function mapParameters(
  parameters: Record<string, unknown>,
  target: Pick<RouteTarget, "provider"> & ParameterRules,
): Record<string, unknown> {
  const mapped = target.provider === "fal"
    ? toFal(parameters)
    : target.provider === "replicate"
    ? toReplicate(parameters)
    : { ...parameters };
  for (const [from, to] of Object.entries(target.rename ?? {})) {
    if (from in mapped) {
      mapped[to] = mapped[from];
      delete mapped[from];
    }
  }
  Object.assign(mapped, target.set ?? {});
  for (const field of target.drop ?? []) delete mapped[field];
  return mapped;
}

/**
 * Replicate → fal: `width`+`height` or `aspect_ratio` → `image_size` (a preset when fal has one,
 * else a size of about a megapixel), `num_outputs` → `num_images`, `output_format` jpg/webp →
 * jpeg, `disable_safety_checker` → `enable_safety_checker`; seed, steps and guidance_scale keep
 * their names; other fields pass through.
 */
function toFal(p: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...p };
  const { width, height, aspect_ratio, num_outputs, output_format, disable_safety_checker } = p;
  delete out.width;
  delete out.height;
  delete out.aspect_ratio;
  if (Number.isInteger(width) && Number.isInteger(height)) {
    out.image_size ??= { width, height };
  } else if (typeof aspect_ratio === "string") {
    out.image_size ??= FAL_PRESETS[aspect_ratio] ?? sizeOfRatio(aspect_ratio);
    if (out.image_size === null) delete out.image_size;
  }
  if (num_outputs !== undefined) {
    delete out.num_outputs;
    out.num_images ??= num_outputs;
  }
  if (typeof output_format === "string") {
    out.output_format = TO_FAL_FORMAT[output_format] ?? output_format;
  }
  if (typeof disable_safety_checker === "boolean") {
    delete out.disable_safety_checker;
    out.enable_safety_checker ??= !disable_safety_checker;
  }
  delete out.output_quality; // Replicate-only
  return out;
}

/** fal → Replicate, for jobs written in fal's vocabulary: the reverse of `toFal`. */
function toReplicate(p: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...p };
  const { image_size, num_images, output_format, enable_safety_checker } = p;
  if (image_size !== undefined) {
    delete out.image_size;
    if (typeof image_size === "string" && PRESET_RATIOS[image_size]) {
      out.aspect_ratio ??= PRESET_RATIOS[image_size];
    } else if (isRecord(image_size) && Number.isInteger(image_size.width)) {
      out.width ??= image_size.width;
      out.height ??= image_size.height;
    }
  }
  if (num_images !== undefined) {
    delete out.num_images;
    out.num_outputs ??= num_images;
  }
  if (typeof output_format === "string") {
    out.output_format = TO_REPLICATE_FORMAT[output_format] ?? output_format;
  }
  if (typeof enable_safety_checker === "boolean") {
    delete out.enable_safety_checker;
    out.disable_safety_checker ??= !enable_safety_checker;
  }
  return out;
}

/** `3:2` → a size of about a megapixel in that ratio, sides multiples of 16; null if not a ratio. */
function sizeOfRatio(ratio: string): { width: number; height: number } | null {
  const m = ratio.match(/^(\d{1,2}):(\d{1,2})$/);
  if (!m || Number(m[1]) === 0 || Number(m[2]) === 0) return null;
  const r = Number(m[1]) / Number(m[2]);
  const width = Math.round(Math.sqrt(1024 * 1024 * r) / 16) * 16;
  const height = Math.round(width / r / 16) * 16;
  return { width, height };
}

// ---- Failover ----

/**
 * True when the target never accepted the request, so the next one may take it without a second
 * bill: unreachable (refused, DNS), its circuit open, or a create answered 5xx or 429.
 */
export function neverAccepted(err: unknown): boolean {
  if (err instanceof ProviderUnreachableError || err instanceof CircuitOpenError) return true;
  return err instanceof ProviderError && err.status !== undefined &&
    (err.status === 429 || err.status >= 500);
}

/** A target ready to be sent: its provider and mapped parameters. */
export interface Placement<P> {
  provider: P;
  model: string;
  parameters: Record<string, unknown>;
}

/**
 * Sends the job to the first target that accepts it: tries each in order, moving on only when
 * `neverAccepted` says so (and telling `onSkip`); any other failure, or the last target's, is
 * thrown. Resolves with the prediction and the target that holds it.
 */
export async function createOnFirst<P, R>(
  targets: Placement<P>[],
  create: (target: Placement<P>) => Promise<R>,
  onSkip: (target: Placement<P>, err: unknown) => void = () => {},
): Promise<{ result: R; target: Placement<P> }> {
  if (targets.length === 0) {
    throw new ProviderError("No configured provider serves this model", false);
  }
  for (let i = 0;; i++) {
    const target = targets[i];
    try {
      return { result: await create(target), target };
    } catch (err) {
      if (i === targets.length - 1 || !neverAccepted(err)) throw err;
      onSkip(target, err);
    }
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
