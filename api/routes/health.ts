/**
 * GET /health: database and queue reachability, worker heartbeats and provider circuits.
 * GET /ready: whether this instance can serve traffic. The database is what both need: with the
 * queue away, submits are still accepted (kept in the outbox until it returns), so that is
 * `degraded`, not down; so is a provider's open circuit while another provider works.
 */
import { Hono } from "hono";
import { sql } from "../../shared/db/db.ts";
import { liveWorkers } from "../../shared/jobs/repo.ts";
import { migrationsCurrent } from "../../shared/db/migrations.ts";
import {
  overallProviderStatus,
  type ProviderHealth,
  providerHealth,
} from "../../shared/providers/health.ts";
import { withTimeout } from "../../shared/timeout.ts";
import type { AppDeps, AppEnv } from "../app.ts";

interface Check {
  ok: boolean;
  latency_ms: number;
  error?: string;
}

async function timed(fn: () => Promise<unknown>, timeoutMs = 2000): Promise<Check> {
  const started = performance.now();
  try {
    await withTimeout(fn(), timeoutMs, `no answer within ${timeoutMs} ms`);
    return { ok: true, latency_ms: Math.round(performance.now() - started) };
  } catch (err) {
    return {
      ok: false,
      latency_ms: Math.round(performance.now() - started),
      error: (err as Error).message.slice(0, 200),
    };
  }
}

/** The providers check: each provider's circuit, and the overall word. */
function providersCheck(health: ProviderHealth[]) {
  const overall = overallProviderStatus(health);
  return {
    ok: overall === "ok",
    status: overall,
    down: health.filter((h) => h.status === "down").map((h) => h.name),
    providers: health,
  };
}

/** Routes mounted under the API prefix. */
export function healthRoutes(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const readProviders = async () => {
    try {
      return await providerHealth(deps.db, deps.providers.describe().providers);
    } catch {
      return null; // the database check says why
    }
  };
  app.get("/health", async (c) => {
    let workers: Awaited<ReturnType<typeof liveWorkers>> = [];
    let health: ProviderHealth[] | null = null;
    const [database, queue] = await Promise.all([
      timed(async () => {
        await deps.db.query(sql`SELECT 1`);
        [workers, health] = await Promise.all([liveWorkers(deps.db), readProviders()]);
      }),
      timed(() => deps.queue.ping()),
    ]);
    const up = database.ok;
    const providers = health ? providersCheck(health) : undefined;
    const status = !up
      ? "unavailable"
      : !queue.ok || workers.length === 0 || (providers && !providers.ok)
      ? "degraded"
      : "ok";
    c.header("Cache-Control", "no-store");
    return c.json({
      status,
      checks: {
        database,
        queue: { ...queue, backend: deps.queue.backend },
        workers: {
          ok: workers.length > 0,
          online: workers.length,
          capacity: workers.reduce((n, w) => n + w.concurrency, 0),
          active: workers.reduce((n, w) => n + w.active, 0),
        },
        ...(providers ? { providers } : {}),
      },
      time: new Date().toISOString(),
    }, up ? 200 : 503);
  });
  // Readiness: can this instance serve traffic now (schema current, storage writable)?
  app.get("/ready", async (c) => {
    let migrationsOk = false;
    const [database, queue, migrations, storage, health] = await Promise.all([
      timed(() => deps.db.query(sql`SELECT 1`)),
      timed(() => deps.queue.ping()),
      timed(async () => {
        migrationsOk = await migrationsCurrent(deps.db);
        if (!migrationsOk) throw new Error("pending migrations: run deno task migrate");
      }),
      timed(() => deps.storage.checkWritable()),
      readProviders(),
    ]);
    const providers = health ? providersCheck(health) : undefined;
    // The queue is reported, not required: jobs wait in the outbox while it is away. No provider
    // works: nothing can be generated. One down while another works: degraded.
    const ready = database.ok && migrations.ok && storage.ok && migrationsOk &&
      providers?.status !== "down";
    c.header("Cache-Control", "no-store");
    return c.json({
      status: !ready
        ? "not_ready"
        : !queue.ok || providers?.status === "degraded"
        ? "degraded"
        : "ready",
      checks: {
        database,
        queue,
        migrations,
        storage: { ...storage, backend: deps.storage.backend },
        ...(providers ? { providers } : {}),
      },
    }, ready ? 200 : 503);
  });
  return app;
}
