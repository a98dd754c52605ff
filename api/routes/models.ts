/**
 * Models: GET /models lists what this deployment offers (local models, a curated list of
 * Replicate and fal models when configured, and models used recently); GET /models/{owner}/{name}
 * (or `{name}:{version}`, `fal:<endpoint id>`, an alias) describes one model version and its
 * inputs as JSON Schema.
 */
import { type Context, Hono } from "hono";
import { NotFoundError, UnavailableError, ValidationError } from "../../shared/errors.ts";
import { MODEL_PATTERN } from "../../shared/jobs/schemas.ts";
import {
  InputSchemaMissingError,
  type ModelCard,
  ModelNotFoundError,
  ModelUnavailableError,
  openInputSchema,
} from "../../shared/models/card.ts";
import type { InputSchema } from "../../shared/models/schema.ts";
import type { ModelCatalogue } from "../../shared/models/catalogue.ts";
import { recentModels } from "../../shared/models/repo.ts";
import type { AppDeps, AppEnv } from "../app.ts";
import { principalOf } from "../auth.ts";

/** One model of the list. */
export interface ModelListEntry {
  id: string;
  provider: string;
  title: string;
  description: string;
  cover_image_url: string | null;
  /**
   * `local` (offline), `curated` (suggested), `recent` (used by recent jobs) or `route` (an
   * alias, tried on its `targets` in order).
   */
  source: "local" | "curated" | "recent" | "route";
  /** An alias's targets in order, with whether their provider is configured here. */
  targets?: { model: string; provider: string; configured: boolean }[];
}

/** The card of an alias: a model card with the targets it is tried on, in order. */
export interface RouteCard extends ModelCard {
  targets: { model: string; provider: string; configured: boolean }[];
}

/** Routes mounted under the API prefix. */
export function modelRoutes(deps: AppDeps & { models: ModelCatalogue }): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const catalogue = deps.models;

  app.get("/models", async (c) => {
    const { providers, models } = deps.providers.describe();
    const entries: ModelListEntry[] = models.map((m) => ({
      id: m.id,
      provider: m.provider,
      title: m.title ?? m.id.split("/")[1] ?? m.id,
      description: m.description,
      cover_image_url: null,
      source: m.provider === "local" ? "local" : m.provider === "route" ? "route" : "curated",
      ...(m.targets ? { targets: m.targets } : {}),
    }));
    const listed = new Set(entries.map((e) => e.id));
    // Models of the caller's recent jobs (everyone's for an admin or an open API).
    const principal = principalOf(c);
    const owner = principal.admin ? undefined : principal.key?.id;
    const recent = principal.admin || owner
      ? await recentModels(deps.db, { owner }).catch((err) => {
        c.get("logger").warn("cannot list recently used models", { err });
        return [] as string[];
      })
      : [];
    for (const id of recent) {
      const resolved = deps.providers.resolve(id);
      if (listed.has(id) || "error" in resolved) continue;
      listed.add(id);
      entries.push({
        id,
        provider: resolved.provider.name,
        title: id.split("/")[1],
        description: "",
        cover_image_url: null,
        source: "recent",
      });
    }
    const known = await catalogue.summaries(entries.map((e) => e.id));
    for (const entry of entries) {
      const summary = known.get(entry.id);
      if (!summary || entry.provider === "local" || entry.provider === "route") continue;
      entry.title = entry.source === "curated" ? entry.title : summary.title;
      entry.description ||= summary.description ?? "";
      entry.cover_image_url = summary.cover_image_url;
    }
    // Covers of the suggested models are fetched in the background for the next listing.
    catalogue.warm(entries.filter((e) => !known.has(e.id) && e.provider !== "route"));
    return c.json({
      providers,
      models: entries,
      default_model: entries[0]?.id ?? null,
      custom_models: providers.some((p) => p.name === "replicate" && p.configured),
    });
  });

  // `owner/name[:version]` and `local/<style>` (and `fal:owner/app`); then any other model
  // reference: a `fal:<endpoint id>` with a path, an alias.
  app.get(
    "/models/:owner/:name",
    (c) => oneModel(`${c.req.param("owner")}/${c.req.param("name")}`, c),
  );
  app.get("/models/:model{.+}", (c) => oneModel(c.req.param("model"), c));

  /** The card of one model, fal endpoint or alias. */
  async function oneModel(model: string, c: Context<AppEnv>): Promise<Response> {
    if (!MODEL_PATTERN.test(model)) {
      throw new NotFoundError(
        `Unknown model ${
          model.slice(0, 300)
        }: use owner/name, owner/name:<64-hex version>, fal:<endpoint>, local/<style> or an alias`,
      );
    }
    const resolved = deps.providers.resolve(model);
    if ("error" in resolved) {
      // An unknown local model or alias is not found; a provider not configured is a 422.
      if (resolved.error.startsWith("Unknown ")) throw new NotFoundError(resolved.error);
      throw new ValidationError(resolved.error, [{ field: "model", message: resolved.error }]);
    }
    if (resolved.route !== undefined) return c.json(await routeCard(resolved.route, c));
    try {
      const provider = resolved.provider.name;
      return c.json(await catalogue.get(model, { signal: c.req.raw.signal, provider }));
    } catch (err) {
      // A model whose provider publishes no schema: described, with an open schema.
      if (err instanceof InputSchemaMissingError) return c.json(err.card);
      if (err instanceof ModelNotFoundError) throw new NotFoundError(err.message);
      if (err instanceof ModelUnavailableError) throw new UnavailableError(err.message);
      throw err;
    }
  }

  /**
   * An alias's card: its targets in order, and the input schema of its first configured target
   * (its inputs are mapped for each target when the job is placed), open when that one has none.
   */
  async function routeCard(alias: string, c: Context<AppEnv>): Promise<RouteCard> {
    const info = deps.providers.describe().models.find((m) =>
      m.id === alias && m.provider === "route"
    );
    const targets = info?.targets ?? [];
    const first = targets.find((t) => t.configured);
    let schema: InputSchema = openInputSchema();
    if (first) {
      try {
        const card = await catalogue.get(first.model, {
          signal: c.req.raw.signal,
          provider: first.provider,
        });
        schema = card.input_schema;
      } catch (err) {
        c.get("logger").debug("no input schema for a route's first target", {
          model: first.model,
          err,
        });
      }
    }
    return {
      id: alias,
      provider: "route",
      version: null,
      title: info?.title ?? alias,
      description: info?.description ?? null,
      cover_image_url: null,
      input_schema: schema,
      targets,
    };
  }

  return app;
}
