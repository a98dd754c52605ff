/** GET /models: configured providers and suggested models, so the UI offers only what works. */
import { Hono } from "hono";
import type { AppDeps, AppEnv } from "../app.ts";

/** Routes mounted under the API prefix. */
export function modelRoutes(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.get("/models", (c) => {
    const { providers, models } = deps.providers.describe();
    return c.json({
      providers,
      models,
      default_model: models[0]?.id ?? null,
      custom_models: providers.some((p) => p.name === "replicate" && p.configured),
    });
  });
  return app;
}
