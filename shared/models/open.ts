/** The catalogue from configuration: local models always, Replicate's when a token is set. */
import type { Config } from "../config.ts";
import type { Db } from "../db/db.ts";
import type { Logger } from "../logger.ts";
import { SUGGESTED_REPLICATE_MODELS } from "../providers/registry.ts";
import { createModelCatalogue, type ModelCatalogue } from "./catalogue.ts";
import { createReplicateModelSource } from "./replicate_models.ts";

/** Builds the model catalogue one API process uses. */
export function openModelCatalogue(
  config: Pick<
    Config,
    "REPLICATE_API_TOKEN" | "REPLICATE_BASE_URL" | "PROVIDER_TIMEOUT_MS" | "MODEL_SCHEMA_TTL_S"
  >,
  deps: { db: Db; logger: Logger; fetch?: typeof fetch },
): ModelCatalogue {
  const titles = Object.fromEntries(
    SUGGESTED_REPLICATE_MODELS.flatMap((m) => (m.title ? [[m.id, m.title]] : [])),
  );
  return createModelCatalogue({
    db: deps.db,
    logger: deps.logger,
    latestTtlMs: config.MODEL_SCHEMA_TTL_S * 1000,
    sources: config.REPLICATE_API_TOKEN
      ? {
        replicate: createReplicateModelSource({
          token: config.REPLICATE_API_TOKEN,
          baseUrl: config.REPLICATE_BASE_URL,
          // A schema is read while a submit or a page waits: never as long as a prediction call.
          timeoutMs: Math.min(config.PROVIDER_TIMEOUT_MS, 10_000),
          fetch: deps.fetch,
          titles,
        }),
      }
      : undefined,
  });
}
