/** GET /stats: live figures for the Architecture tab and operators. */
import { Hono } from "hono";
import { liveWorkers, recentStats } from "../../shared/jobs/repo.ts";
import { providerHealth } from "../../shared/providers/health.ts";
import type { AppDeps, AppEnv } from "../app.ts";

/** Routes mounted under the API prefix. */
export function statsRoutes(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.get("/stats", async (c) => {
    const { providers } = deps.providers.describe();
    const [queue, workers, recent, health] = await Promise.all([
      deps.queue.stats(),
      liveWorkers(deps.db),
      recentStats(deps.db, 1),
      providerHealth(deps.db, providers),
    ]);
    c.header("Cache-Control", "no-store");
    return c.json({
      queue: { backend: deps.queue.backend, ...queue },
      workers: {
        online: workers.length,
        capacity: workers.reduce((n, w) => n + w.concurrency, 0),
        active: workers.reduce((n, w) => n + w.active, 0),
      },
      jobs_last_hour: {
        total: Object.values(recent.byStatus).reduce((a, b) => a + b, 0),
        by_status: recent.byStatus,
      },
      median_duration_s: recent.medianDurationS === null
        ? null
        : Math.round(recent.medianDurationS * 100) / 100,
      database: deps.db.kind ?? "postgres",
      // Each provider with its circuit (up, down, probing) for the Architecture tab.
      providers: providers.map((p, i) => ({ ...p, ...health[i] })),
      live_clients: deps.events.subscribers(),
    });
  });
  return app;
}
