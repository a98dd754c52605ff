/**
 * GET /stats: live figures for the Architecture tab and operators. Instance-wide figures (queue,
 * workers, every tenant's jobs, every live stream) are for admin keys (and the open API); any
 * other key gets the same document with `scope: "key"`: its own jobs of the last hour and its own
 * live streams, without the queue's counts and the workers.
 */
import { Hono } from "hono";
import { liveWorkers, recentStats } from "../../shared/jobs/repo.ts";
import { providerHealth } from "../../shared/providers/health.ts";
import type { AppDeps, AppEnv } from "../app.ts";
import { principalOf } from "../auth.ts";
import { AppError } from "../../shared/errors.ts";

function round2(n: number | null): number | null {
  return n === null ? null : Math.round(n * 100) / 100;
}

/** Routes mounted under the API prefix. */
export function statsRoutes(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.get("/stats", async (c) => {
    const principal = principalOf(c);
    const { providers } = deps.providers.describe();
    const database = deps.db.kind ?? "postgres";
    c.header("Cache-Control", "no-store");
    if (!principal.admin) {
      if (!principal.key) throw new AppError(403, "forbidden", "Figures need an API key");
      const keyId = principal.key.id;
      const recent = await recentStats(deps.db, 1, { owner: keyId });
      return c.json({
        scope: "key" as const,
        queue: { backend: deps.queue.backend },
        jobs_last_hour: {
          total: Object.values(recent.byStatus).reduce((a, b) => a + b, 0),
          by_status: recent.byStatus,
        },
        median_duration_s: round2(recent.medianDurationS),
        database,
        providers,
        live_clients: deps.events.subscribers(keyId),
      });
    }
    const [queue, workers, recent, health] = await Promise.all([
      // The queue away (Redis down) leaves its counts out; the rest still answers.
      deps.queue.stats().catch(() => ({})),
      liveWorkers(deps.db),
      recentStats(deps.db, 1),
      providerHealth(deps.db, providers),
    ]);
    return c.json({
      scope: "instance" as const,
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
      median_duration_s: round2(recent.medianDurationS),
      database,
      // Each provider with its circuit (up, down, probing) for the Architecture tab.
      providers: providers.map((p, i) => ({ ...p, ...health[i] })),
      live_clients: deps.events.subscribers(),
    });
  });
  return app;
}
