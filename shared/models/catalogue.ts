/**
 * The model catalogue: one model card per version, whatever the provider. Local models describe
 * themselves (card.ts); other providers' cards are fetched once per version and kept in the
 * database, with a TTL on what `owner/name` (the latest version) means. In front of the database
 * sits a memory cache, so a submit of a known model does no I/O for its schema: a stale `latest`
 * is served while it is refreshed in the background, and a provider outage falls back to the
 * stored copy.
 */
import type { Db } from "../db/db.ts";
import { type Logger, silentLogger } from "../logger.ts";
import { falEndpoint, providerKindOf } from "../providers/model_ref.ts";
import {
  localModelCard,
  type ModelCard,
  ModelNotFoundError,
  ModelUnavailableError,
} from "./card.ts";
import type { ModelSource } from "./replicate_models.ts";
import { latestSummaries, readLatest, readVersion, saveCard } from "./repo.ts";
import { createInputValidators, type InputValidators } from "./validate.ts";

/** Settings of the catalogue. */
export interface CatalogueOptions {
  db: Db;
  /** Where non-local cards come from, by provider name (Replicate when a token is set). */
  sources?: Record<string, ModelSource | undefined>;
  /** How long `owner/name` keeps meaning the version last seen (ms; default one hour). */
  latestTtlMs?: number;
  /** After a failed refresh, how long the stale card is used before trying again (ms). */
  retryAfterFailureMs?: number;
  /** Cards kept in memory (default 1000). */
  maxEntries?: number;
  logger?: Logger;
  now?: () => number;
}

/** The catalogue the API uses (one per process). */
export interface ModelCatalogue {
  /** The card when it is in memory (no I/O); a stale `latest` is returned and refreshed. */
  peek(model: string): ModelCard | undefined;
  /** True when cards of this provider's models can be had (local, or a configured source). */
  describes(provider: string): boolean;
  /**
   * The card: memory, then the database, then the provider (the stored copy if it is down).
   * `provider` is the one the registry resolved the model to (by default the one its reference
   * names: `fal:` models fal's, others Replicate's).
   */
  get(model: string, options?: { signal?: AbortSignal; provider?: string }): Promise<ModelCard>;
  /** Title, description and cover of models already known (memory or database; no provider). */
  summaries(
    models: string[],
  ): Promise<Map<string, Pick<ModelCard, "title" | "description" | "cover_image_url">>>;
  /** Fetches cards of models not known yet, in the background (for covers in the list). */
  warm(models: { id: string; provider: string }[]): void;
  /** Compiled validators per version. */
  readonly validators: InputValidators;
}

interface Entry {
  card: ModelCard;
  /** Until when a `latest` entry is used without asking again (Infinity for a version). */
  freshUntil: number;
}

const MODEL_REF = /^([a-z0-9][a-z0-9._-]{0,99}\/[a-z0-9][a-z0-9._-]{0,99})(?::([0-9a-f]{64}))?$/;

/** Creates the catalogue. */
export function createModelCatalogue(options: CatalogueOptions): ModelCatalogue {
  const ttl = options.latestTtlMs ?? 3600_000;
  const retryAfter = Math.min(ttl, options.retryAfterFailureMs ?? 60_000);
  const max = options.maxEntries ?? 1000;
  const now = options.now ?? Date.now;
  const log = options.logger ?? silentLogger;
  const memory = new Map<string, Entry>();
  const loading = new Map<string, Promise<ModelCard>>();
  const locals = new Map<string, ModelCard>();
  /** Models whose fetch failed with nothing stored: not asked again before this time. */
  const failed = new Map<string, { until: number; error: Error }>();
  /** When each model was last warmed (a failing one is not asked again at every list). */
  const warmed = new Map<string, number>();
  const validators = createInputValidators();

  function remember(key: string, card: ModelCard, freshUntil: number): void {
    memory.delete(key);
    memory.set(key, { card, freshUntil });
    if (memory.size > max) memory.delete(memory.keys().next().value!);
  }

  function local(model: string): ModelCard | undefined {
    let card = locals.get(model);
    if (!card) {
      card = localModelCard(model) ?? undefined;
      if (card) locals.set(model, card);
    }
    return card;
  }

  function parse(model: string): { name: string; version: string | null } {
    // fal endpoints have no versions: `fal:<endpoint>` is always the latest.
    if (falEndpoint(model)) return { name: model, version: null };
    const m = MODEL_REF.exec(model);
    if (!m) throw new ModelNotFoundError(model, `Unknown model ${model.slice(0, 300)}`);
    return { name: m[1], version: m[2] ?? null };
  }

  function sourceFor(model: string, provider: string): ModelSource {
    const source = options.sources?.[provider];
    if (!source) {
      throw new ModelUnavailableError(
        `Cannot describe ${model}: no model schemas from the ${provider} provider`,
      );
    }
    return source;
  }

  /** Loads one card (shared by concurrent callers), storing what the provider answered. */
  function load(
    model: string,
    signal?: AbortSignal,
    provider: string = providerKindOf(model),
  ): Promise<ModelCard> {
    // During an outage a model never stored is not asked for at every request.
    const recent = failed.get(model);
    if (recent && recent.until > now()) return Promise.reject(recent.error);
    let pending = loading.get(model);
    if (!pending) {
      pending = fetchAndKeep(model, provider, signal).finally(() => loading.delete(model));
      loading.set(model, pending);
    }
    return pending;
  }

  async function fetchAndKeep(
    model: string,
    provider: string,
    signal?: AbortSignal,
  ): Promise<ModelCard> {
    const { name, version } = parse(model);
    const source = sourceFor(model, provider);
    if (version) {
      const stored = await readVersion(options.db, name, version).catch((err) => {
        log.warn("cannot read a stored model schema", { model, err });
        return null;
      });
      if (stored) {
        remember(model, stored, Infinity);
        return stored;
      }
      const card = await source.fetchCard(name, version, signal);
      await saveCard(options.db, card, false).catch((err) =>
        log.warn("cannot store a model schema", { model, err })
      );
      remember(model, card, Infinity);
      return card;
    }
    const stored = await readLatest(options.db, name).catch((err) => {
      log.warn("cannot read a stored model schema", { model, err });
      return null;
    });
    if (stored?.checkedAt && stored.checkedAt.getTime() + ttl > now()) {
      remember(model, stored.card, stored.checkedAt.getTime() + ttl);
      return stored.card;
    }
    try {
      const card = await source.fetchCard(name, null, signal);
      failed.delete(model);
      await saveCard(options.db, card, true).catch((err) =>
        log.warn("cannot store a model schema", { model, err })
      );
      remember(model, card, now() + ttl);
      return card;
    } catch (err) {
      if (err instanceof ModelNotFoundError) {
        memory.delete(model);
        throw err;
      }
      const stale = memory.get(model)?.card ?? stored?.card;
      if (!stale) {
        if (err instanceof ModelUnavailableError) {
          failed.set(model, { until: now() + retryAfter, error: err });
          if (failed.size > max) failed.delete(failed.keys().next().value!);
        }
        throw err;
      }
      log.warn("provider unavailable; using the stored model schema", {
        model,
        version: stale.version,
        err,
      });
      remember(model, stale, now() + retryAfter);
      return stale;
    }
  }

  return {
    validators,

    describes(provider) {
      return provider === "local" || options.sources?.[provider] !== undefined;
    },

    peek(model) {
      if (model.startsWith("local/")) return local(model);
      const entry = memory.get(model);
      if (!entry) return undefined;
      if (entry.freshUntil <= now() && !loading.has(model)) {
        // Served stale while one refresh runs; a failed refresh is tried again after a while.
        entry.freshUntil = now() + retryAfter;
        load(model).catch((err) => log.warn("cannot refresh a model schema", { model, err }));
      }
      return entry.card;
    },

    async get(model, getOptions = {}) {
      if (model.startsWith("local/")) {
        const card = local(model);
        if (!card) throw new ModelNotFoundError(model, `Unknown local model ${model}`);
        return card;
      }
      const entry = memory.get(model);
      if (entry && entry.freshUntil > now()) return entry.card;
      return await load(model, getOptions.signal, getOptions.provider);
    },

    async summaries(models) {
      const out = new Map<string, Pick<ModelCard, "title" | "description" | "cover_image_url">>();
      const missing: string[] = [];
      for (const model of models) {
        const card = model.startsWith("local/") ? local(model) : memory.get(model)?.card;
        if (card) out.set(model, card);
        else if (MODEL_REF.test(model) && !model.includes(":")) missing.push(model);
      }
      if (missing.length > 0) {
        const stored = await latestSummaries(options.db, missing).catch((err) => {
          log.warn("cannot read stored model summaries", { err });
          return new Map();
        });
        for (const [model, summary] of stored) out.set(model, summary);
      }
      return out;
    },

    warm(models) {
      for (const { id: model, provider } of models) {
        if (!options.sources?.[provider] || memory.has(model) || loading.has(model)) continue;
        if ((warmed.get(model) ?? -Infinity) + retryAfter > now()) continue;
        warmed.set(model, now());
        if (warmed.size > max) warmed.delete(warmed.keys().next().value!);
        load(model, undefined, provider).catch((err) =>
          log.debug("cannot warm a model schema", { model, err })
        );
      }
    },
  };
}
