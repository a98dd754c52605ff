/**
 * The catalogue from configuration: local models always, Replicate's when a token is set, fal's
 * when the registry has the fal provider (its `inputSchema` reads the endpoints' documents).
 */
import type { Config } from "../config.ts";
import type { Db } from "../db/db.ts";
import type { Logger } from "../logger.ts";
import {
  type ProviderRegistry,
  SUGGESTED_FAL_MODELS,
  SUGGESTED_REPLICATE_MODELS,
} from "../providers/registry.ts";
import { createModelCatalogue, type ModelCatalogue } from "./catalogue.ts";
import { createFalModelSource } from "./fal_models.ts";
import { createReplicateModelSource, type ModelSource } from "./replicate_models.ts";

/** Builds the model catalogue one API process uses. */
export function openModelCatalogue(
  config: Pick<
    Config,
    "REPLICATE_API_TOKEN" | "REPLICATE_BASE_URL" | "PROVIDER_TIMEOUT_MS" | "MODEL_SCHEMA_TTL_S"
  >,
  deps: {
    db: Db;
    logger: Logger;
    fetch?: typeof fetch;
    /** The providers: fal's schemas come from the fal provider when it is configured. */
    providers?: Pick<ProviderRegistry, "byName">;
  },
): ModelCatalogue {
  const titles = Object.fromEntries(
    SUGGESTED_REPLICATE_MODELS.flatMap((m) => (m.title ? [[m.id, m.title]] : [])),
  );
  const sources: Record<string, ModelSource> = {};
  if (config.REPLICATE_API_TOKEN) {
    sources.replicate = createReplicateModelSource({
      token: config.REPLICATE_API_TOKEN,
      baseUrl: config.REPLICATE_BASE_URL,
      // A schema is read while a submit or a page waits: never as long as a prediction call.
      timeoutMs: Math.min(config.PROVIDER_TIMEOUT_MS, 10_000),
      fetch: deps.fetch,
      titles,
    });
  }
  const fal = deps.providers?.byName("fal");
  if (fal?.inputSchema) {
    sources.fal = createFalModelSource({
      inputSchema: fal.inputSchema.bind(fal),
      about: Object.fromEntries(
        SUGGESTED_FAL_MODELS.map((m) => [m.id, { title: m.title, description: m.description }]),
      ),
    });
  }
  return createModelCatalogue({
    db: deps.db,
    logger: deps.logger,
    latestTtlMs: config.MODEL_SCHEMA_TTL_S * 1000,
    sources: Object.keys(sources).length > 0 ? sources : undefined,
  });
}
