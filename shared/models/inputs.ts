/**
 * The submit-time check of a job's inputs: the request's `prompt` and `negative_prompt` mapped
 * onto the model's inputs beside `parameters`, checked against the model's schema, and the
 * uploads its image inputs name checked and kept for the job. All of it before anything is
 * stored; a known model's check does no I/O.
 */
import type { Db } from "../db/db.ts";
import { ValidationError } from "../errors.ts";
import type { Logger } from "../logger.ts";
import { claimUploads, linkUploads, type UploadViewer } from "../uploads/repo.ts";
import {
  InputSchemaMissingError,
  type ModelCard,
  ModelNotFoundError,
  ModelUnavailableError,
} from "./card.ts";
import type { ModelCatalogue } from "./catalogue.ts";
import { parseImageRef, uploadIdsIn } from "./image_refs.ts";
import type { CompiledInputs } from "./validate.ts";

/** The parts of a submit the check looks at. */
export interface SubmitInputs {
  model: string;
  prompt: string;
  negative_prompt?: string | null;
  parameters: Record<string, unknown>;
  /** false: inputs the schema does not list are passed on instead of refused. */
  strict_inputs?: boolean;
}

/** Who serves the model (the registry's answer); the catalogue asks that provider's source. */
export interface CheckOptions {
  provider?: string;
  /**
   * The alias when the model is a route: its targets take differently named parameters (mapped
   * per target when the job is placed), so no one schema applies and the inputs pass on.
   */
  route?: string;
  /**
   * The parameters as the provider will receive them, when they differ from the request's (fal's
   * jobs are written in Replicate's words and mapped to fal's): these are checked.
   */
  sent?: Record<string, unknown>;
  log: Logger;
}

/** What the check found: the uploads the job uses (to link once the job is stored). */
export interface CheckedInputs {
  uploads: string[];
  /**
   * False when the inputs passed unchecked: a route (no one schema applies), a provider without
   * schemas, a model whose provider publishes none, or a schema that could not be had.
   */
  validated: boolean;
  /** The model's card the inputs were checked against; null when it could not be had. */
  card: ModelCard | null;
}

/**
 * The model's input object for a submit: `prompt` (when the model has one), `negative_prompt`
 * (when sent) and the parameters, which win on a clash (as the provider sends them).
 */
export function modelInput(compiled: CompiledInputs, req: SubmitInputs): Record<string, unknown> {
  const input: Record<string, unknown> = {};
  if (compiled.hasPrompt) input.prompt = req.prompt;
  if (req.negative_prompt) input.negative_prompt = req.negative_prompt;
  return Object.assign(input, req.parameters);
}

/**
 * Checks a submit against its model's schema: 422 (ValidationError) with `details` naming each
 * field, or the uploads it uses. An unknown model is a 422 on `model`. When the schema cannot be
 * had (the provider is down and nothing is stored) the inputs pass unchecked, as before schemas
 * existed, and the provider checks them when the prediction is made.
 */
export async function checkInputs(
  catalogue: ModelCatalogue,
  req: SubmitInputs,
  options: CheckOptions,
): Promise<CheckedInputs> {
  const log = options.log;
  // A route's inputs are mapped per target; a provider with no schema source passes them on.
  if (options.route !== undefined || !catalogue.describes(options.provider ?? "replicate")) {
    return { uploads: uploadIdsIn(req.parameters), validated: false, card: null };
  }
  let card: ModelCard | undefined = catalogue.peek(req.model);
  if (!card) {
    try {
      card = await catalogue.get(req.model, { provider: options.provider });
    } catch (err) {
      if (err instanceof ModelNotFoundError) {
        throw new ValidationError(err.message, [{ field: "model", message: err.message }]);
      }
      if (!(err instanceof ModelUnavailableError)) throw err;
      if (err instanceof InputSchemaMissingError) {
        log.debug("no published input schema; inputs passed unchecked", { model: req.model });
        return { uploads: uploadIdsIn(req.parameters), validated: false, card: null };
      }
      log.warn("model schema unavailable; inputs passed unchecked", { model: req.model, err });
      return { uploads: uploadIdsIn(req.parameters), validated: false, card: null };
    }
  }
  const compiled = catalogue.validators.forCard(card);
  const params = options.sent ?? req.parameters;
  const problems = compiled.check(
    modelInput(compiled, options.sent ? { ...req, parameters: params } : req),
    {
      strict: req.strict_inputs !== false,
      fieldOf: (name) =>
        (name === "prompt" || name === "negative_prompt") && !(name in params)
          ? name
          : `parameters.${name}`,
    },
  );
  if (problems.length > 0) {
    const first = problems[0];
    const more = problems.length > 1 ? ` (and ${problems.length - 1} more)` : "";
    throw new ValidationError(
      `The inputs do not fit ${card.id}: ${first.field} ${first.message}${more}`,
      problems,
    );
  }
  // Image inputs are the fields named like an image (the same rule the schema's are found by).
  return { uploads: uploadIdsIn(req.parameters), validated: true, card };
}

/**
 * Checks that the caller may use the uploads a submit names (theirs, not expired) and keeps them
 * alive until the job links them: 422 naming the first one that is not usable.
 */
export async function claimInputUploads(
  db: Db,
  params: Record<string, unknown>,
  uploads: string[],
  viewer: UploadViewer,
): Promise<void> {
  if (uploads.length === 0) return;
  const usable = await claimUploads(db, uploads, viewer);
  const missing = uploads.filter((id) => !usable.has(id));
  if (missing.length === 0) return;
  const details = missing.map((id) => ({
    field: `parameters.${fieldNaming(params, id)}`,
    message: `upload ${id} was not found (it may have expired; uploads last UPLOAD_TTL_S)`,
  }));
  throw new ValidationError(`Upload ${missing[0]} was not found`, details);
}

/** Records that a stored job uses its uploads (logged, not thrown: the job is queued already). */
export async function linkInputUploads(
  db: Db,
  jobId: string,
  uploads: string[],
  log: Logger,
): Promise<void> {
  if (uploads.length === 0) return;
  await linkUploads(db, jobId, uploads).catch((err) =>
    log.error("cannot link the job's uploads; they may expire before it runs", { jobId, err })
  );
}

function fieldNaming(params: Record<string, unknown>, uploadId: string): string {
  for (const [name, value] of Object.entries(params)) {
    const values = Array.isArray(value) ? value : [value];
    for (const [i, v] of values.entries()) {
      if (typeof v !== "string") continue;
      const ref = parseImageRef(v);
      if (ref?.kind === "upload" && ref.uploadId === uploadId) {
        return Array.isArray(value) ? `${name}.${i}` : name;
      }
    }
  }
  return "image";
}
