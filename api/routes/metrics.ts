/** GET /metrics: Prometheus text exposition of this process's metrics. */
import { Hono } from "hono";
import type { AppDeps, AppEnv } from "../app.ts";

/** Routes mounted at the root. */
export function metricsRoutes(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.get("/metrics", async (c) => {
    if (!deps.metrics) {
      return c.json({ error: { code: "not_found", message: "Metrics are off" } }, 404);
    }
    c.header("Content-Type", deps.metrics.contentType);
    c.header("Cache-Control", "no-store");
    return c.body(await deps.metrics.render());
  });
  return app;
}
