/**
 * GET /health: database and queue reachability and worker heartbeats; GET /ready: can this
 * instance take traffic. The database is what both need: with the queue away, submits are still
 * accepted (kept in the outbox until it returns), so that is `degraded`, not down.
 */
import { Hono } from "hono";
import { sql } from "../../shared/db/db.ts";
import { liveWorkers } from "../../shared/jobs/repo.ts";
import { migrationsCurrent } from "../../shared/db/migrations.ts";
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

/** Routes mounted under the API prefix. */
export function healthRoutes(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.get("/health", async (c) => {
    let workers: Awaited<ReturnType<typeof liveWorkers>> = [];
    const [database, queue] = await Promise.all([
      timed(async () => {
        await deps.db.query(sql`SELECT 1`);
        workers = await liveWorkers(deps.db);
      }),
      timed(() => deps.queue.ping()),
    ]);
    const up = database.ok;
    const status = !up ? "unavailable" : !queue.ok || workers.length === 0 ? "degraded" : "ok";
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
      },
      time: new Date().toISOString(),
    }, up ? 200 : 503);
  });
  // Readiness: can this instance serve traffic now (schema current, storage writable)?
  app.get("/ready", async (c) => {
    let migrationsOk = false;
    const [database, queue, migrations, storage] = await Promise.all([
      timed(() => deps.db.query(sql`SELECT 1`)),
      timed(() => deps.queue.ping()),
      timed(async () => {
        migrationsOk = await migrationsCurrent(deps.db);
        if (!migrationsOk) throw new Error("pending migrations: run deno task migrate");
      }),
      timed(() => deps.storage.checkWritable()),
    ]);
    // The queue is reported, not required: jobs wait in the outbox while it is away.
    const ready = database.ok && migrations.ok && storage.ok && migrationsOk;
    c.header("Cache-Control", "no-store");
    return c.json({
      status: ready ? (queue.ok ? "ready" : "degraded") : "not_ready",
      checks: {
        database,
        queue,
        migrations,
        storage: { ...storage, backend: deps.storage.backend },
      },
    }, ready ? 200 : 503);
  });
  return app;
}
