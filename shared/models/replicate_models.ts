/**
 * Model cards from Replicate's API: `GET /v1/models/{owner}/{name}` (the model, its latest
 * version and that version's `openapi_schema`) and `GET /v1/models/{owner}/{name}/versions/{id}`.
 * One plain GET per call, with a timeout; the catalogue decides about caching and fallbacks.
 */
import type { ModelCard } from "./card.ts";
import { ModelNotFoundError, ModelUnavailableError, openInputSchema } from "./card.ts";
import { type InputSchema, inputSchemaOf, isObject, SchemaError } from "./schema.ts";

/** Where a provider's model cards come from. */
export interface ModelSource {
  readonly provider: string;
  /** The card of `owner/name` (its latest version) or of one version; throws the card errors. */
  fetchCard(model: string, version: string | null, signal?: AbortSignal): Promise<ModelCard>;
}

/** Settings of the Replicate model source. */
export interface ReplicateModelSourceOptions {
  token: string;
  /** e.g. `https://api.replicate.com/v1`. */
  baseUrl: string;
  timeoutMs: number;
  fetch?: typeof fetch;
  /** Titles of well-known models (the curated list); others are titled by their name. */
  titles?: Record<string, string>;
}

const OWNER_NAME = /^([a-z0-9][a-z0-9._-]{0,99})\/([a-z0-9][a-z0-9._-]{0,99})$/;

/** The Replicate model source. */
export function createReplicateModelSource(options: ReplicateModelSourceOptions): ModelSource {
  const base = options.baseUrl.replace(/\/+$/, "");
  const doFetch = options.fetch ?? globalThis.fetch;

  async function getJson(path: string, model: string, signal?: AbortSignal): Promise<unknown> {
    const action = `Cannot read model ${model} from Replicate`;
    const timeout = AbortSignal.timeout(options.timeoutMs);
    let response: Response;
    try {
      response = await doFetch(`${base}${path}`, {
        headers: { Authorization: `Bearer ${options.token}`, "User-Agent": "darkroom" },
        signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
      });
    } catch (err) {
      const reason = timeout.aborted
        ? `no answer within ${options.timeoutMs} ms`
        : `network error: ${(err as Error).message}`;
      throw new ModelUnavailableError(`${action}: ${reason}`, { cause: err });
    }
    if (response.status === 404) {
      await response.body?.cancel();
      throw new ModelNotFoundError(model, `Model ${model} was not found at Replicate`);
    }
    if (response.status === 401 || response.status === 403) {
      await response.body?.cancel();
      throw new ModelUnavailableError(
        `${action}: status ${response.status}: Replicate refused the API token; check REPLICATE_API_TOKEN`,
      );
    }
    if (!response.ok) {
      await response.body?.cancel();
      throw new ModelUnavailableError(`${action}: status ${response.status}`);
    }
    try {
      return await response.json();
    } catch (err) {
      throw new ModelUnavailableError(`${action}: the answer is not JSON`, { cause: err });
    }
  }

  return {
    provider: "replicate",
    async fetchCard(model, version, signal) {
      const m = OWNER_NAME.exec(model);
      if (!m) throw new ModelNotFoundError(model);
      const path = `/models/${m[1]}/${m[2]}`;
      const label = version ? `${model}:${version}` : model;
      const [info, versionJson] = await Promise.all([
        getJson(path, model, signal),
        version ? getJson(`${path}/versions/${version}`, label, signal) : null,
      ]);
      const about = isObject(info) ? info : {};
      const chosen = versionJson ?? about.latest_version;
      const versionId = isObject(chosen) && typeof chosen.id === "string" ? chosen.id : null;
      if (!versionId) {
        throw new ModelUnavailableError(`Model ${model} has no version with a published schema`);
      }
      return {
        id: model,
        provider: "replicate",
        version: versionId,
        title: options.titles?.[model] ?? (typeof about.name === "string" ? about.name : m[2]),
        description: typeof about.description === "string" ? about.description : null,
        cover_image_url: typeof about.cover_image_url === "string" &&
            /^https:\/\//.test(about.cover_image_url)
          ? about.cover_image_url
          : null,
        input_schema: schemaOf(chosen),
      };
    },
  };
}

/**
 * The version's input schema. A version without one (or with one this cannot read) accepts any
 * input: Replicate still checks it when the prediction is created.
 */
function schemaOf(version: unknown): InputSchema {
  if (isObject(version) && isObject(version.openapi_schema)) {
    try {
      return inputSchemaOf(version.openapi_schema);
    } catch (err) {
      if (!(err instanceof SchemaError)) throw err;
    }
  }
  return openInputSchema();
}
