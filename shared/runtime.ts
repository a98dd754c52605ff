/**
 * Opens the long-lived dependencies from configuration, for every entry point: `deno task api`,
 * `deno task worker` and `deno task start` (start.ts, the composition root). The API's own pieces
 * (rate limiter, live job feed, queue dashboard) are built in api/deps.ts, not here.
 */
import { join } from "node:path";
import { authMode, type Config, isLoopback } from "./config.ts";
import { acquireDataLock } from "./db/data_lock.ts";
import { connectPostgres, type Db } from "./db/db.ts";
import { openPglite } from "./db/pglite.ts";
import { createLogger, type Logger } from "./logger.ts";
import { createMetrics, type Metrics } from "./metrics.ts";
import { registerProviderGauge } from "./providers/health.ts";
import { instrumentRegistry } from "./providers/instrumented.ts";
import { createProviderRegistry, type ProviderRegistry } from "./providers/registry.ts";
import { createRenderThread, type RenderThread } from "./providers/local_render_thread.ts";
import { createBullmqQueue } from "./queue/bullmq.ts";
import { openKvQueue } from "./queue/kv.ts";
import type { JobQueue } from "./queue/queue.ts";
import { loadPricing, type Pricing } from "./spend/pricing.ts";
import { openStorage } from "./storage/open.ts";
import type { Storage } from "./storage/storage.ts";

/**
 * Which process opens the runtime: `api` and `worker` are the scaled-out roles (Postgres and
 * Redis required); `start` is the whole product in one process (embedded stores allowed).
 */
export type Role = "api" | "worker" | "start";

export interface Runtime {
  config: Config;
  logger: Logger;
  db: Db;
  queue: JobQueue;
  providers: ProviderRegistry;
  storage: Storage;
  metrics: Metrics;
  /** Prices for cost estimates (built-in, with PRICING over them). */
  pricing: Pricing;
  /** Where the local provider renders (started on first use; see worker/main.ts). */
  renderThread: RenderThread;
  /** Where jobs live and queue, for the start-up line: `postgres` or `pglite (<dir>)`, ... */
  where: { database: string; queue: string };
  /** Closes the render thread, the queue and the database, then releases the data lock. */
  close(): Promise<void>;
}

/** Fails with a clear message unless the scaled-out shape's services are configured. */
export function requireServices(config: Config, role: string): void {
  const missing = [
    config.DATABASE_URL ? null : "DATABASE_URL",
    config.REDIS_URL ? null : "REDIS_URL",
  ].filter(Boolean);
  if (missing.length > 0) {
    throw new Error(
      `deno task ${role} needs ${missing.join(" and ")} (Postgres and Redis); ` +
        `set them in the environment or .env`,
    );
  }
}

/**
 * Opens the database (Postgres, or PGlite under DATA_DIR/pg without DATABASE_URL), the queue
 * (BullMQ, or Deno KV under DATA_DIR without REDIS_URL), providers, storage and metrics for one
 * process. The embedded stores are for `start` only, under the data folder's lock; `api` and
 * `worker` throw a clear error without DATABASE_URL and REDIS_URL.
 */
export async function openRuntime(config: Config, role: Role): Promise<Runtime> {
  if (role !== "start") requireServices(config, role);
  // A PRICING file is read now: a bad one stops the start with its reason.
  const pricing = await loadPricing(config.PRICING);
  const logger = createLogger({
    level: config.LOG_LEVEL,
    fields: { service: role === "start" ? "darkroom" : role },
  });
  // PGlite and KV files must never be opened by two processes: take the folder first.
  const lock = config.DATABASE_URL && config.REDIS_URL
    ? undefined
    : await acquireDataLock(config.DATA_DIR);
  // When opening fails half-way, what was opened is closed again and the folder released.
  const undo = async (db?: Db) => {
    await db?.close(1).catch(() => {});
    await lock?.release();
  };
  const db = await openDb(config, role, logger).catch(async (err) => {
    await undo();
    throw err;
  });
  const queue = await openQueue(config, logger).catch(async (err) => {
    await undo(db);
    throw err;
  });
  const metrics = createMetrics({ db, queue, role });
  const { providers, renderThread } = openProviders(config, metrics);
  registerProviderGauge(metrics, { db, providers: () => providers.describe().providers });
  warnIfOpen(config, logger);
  return {
    config,
    logger,
    db,
    queue,
    providers,
    storage: openStorage(config, { logger }),
    metrics,
    pricing,
    renderThread,
    where: {
      database: config.DATABASE_URL ? "postgres" : `pglite (${join(config.DATA_DIR, "pg")})`,
      queue: config.REDIS_URL ? "bullmq (redis)" : `deno kv (${join(config.DATA_DIR, "queue.kv")})`,
    },
    async close() {
      renderThread.close();
      await queue.close().catch((err) => logger.warn("queue close failed", { err }));
      await db.close(5).catch((err) => logger.warn("db close failed", { err }));
      await lock?.release();
    },
  };
}

async function openDb(config: Config, role: Role, logger: Logger): Promise<Db> {
  if (!config.DATABASE_URL) return await openPglite(join(config.DATA_DIR, "pg"));
  return connectPostgres(config.DATABASE_URL, {
    application: `darkroom-${role}`,
    max: role === "worker"
      ? Math.min(20, Math.max(4, Math.ceil(config.WORKER_CONCURRENCY / 4)))
      : 10,
    onRecycle: () =>
      logger.warn("postgres pool retired after a missed deadline; a fresh one serves"),
  });
}

/**
 * How a stop spends its SHUTDOWN_TIMEOUT_S: running jobs may finish for all of it but a reserve
 * (3 s, or half of a shorter budget), which is left to hand back what still runs and to close
 * connections. At the end of the budget the process exits whatever is left (see onShutdown).
 */
export function shutdownBudget(timeoutS: number): { totalMs: number; drainMs: number } {
  const totalMs = timeoutS * 1000;
  return { totalMs, drainMs: totalMs - Math.min(3000, totalMs / 2) };
}

async function openQueue(config: Config, logger: Logger): Promise<JobQueue> {
  const retry = { maxRetries: config.MAX_RETRIES, backoffBase: config.RETRY_BACKOFF_BASE };
  const drainTimeoutMs = shutdownBudget(config.SHUTDOWN_TIMEOUT_S).drainMs;
  if (!config.REDIS_URL) {
    return await openKvQueue({
      path: join(config.DATA_DIR, "queue.kv"),
      retry,
      logger,
      drainTimeoutMs,
    });
  }
  return createBullmqQueue({
    redisUrl: config.REDIS_URL,
    prefix: config.QUEUE_PREFIX,
    retry,
    logger,
    lockDurationMs: config.QUEUE_LOCK_MS,
    stalledIntervalMs: Math.max(500, Math.round(config.QUEUE_LOCK_MS / 2)),
    drainTimeoutMs,
  });
}

/**
 * The configured providers, instrumented, with the `local` provider rendering on a thread of
 * its own (started on first use; close it at shutdown).
 */
export function openProviders(
  config: Config,
  metrics: Metrics,
): { providers: ProviderRegistry; renderThread: RenderThread } {
  const renderThread = createRenderThread();
  const providers = instrumentRegistry(
    createProviderRegistry(config, { render: renderThread.render }),
    metrics,
  );
  return { providers, renderThread };
}

/**
 * Runs `stop` on the first SIGINT/SIGTERM; a second signal exits at once. Signals within 200 ms
 * of the first count as the same one: Ctrl+C under `deno task dev` reaches a child both from the
 * terminal and from dev.ts, and must still drain. With `timeoutS` (SHUTDOWN_TIMEOUT_S) the stop is
 * bounded: past it the process exits (code 1) whatever `stop` still waits for.
 */
export function onShutdown(
  logger: Logger,
  stop: () => Promise<void>,
  options: { timeoutS?: number } = {},
): void {
  let stoppingAt = 0;
  const handler = (signal: string) => {
    if (stoppingAt > 0) {
      if (Date.now() - stoppingAt < 200) return;
      logger.warn("second signal; exiting now", { signal });
      Deno.exit(130);
    }
    stoppingAt = Date.now();
    logger.info("shutting down", { signal });
    if (options.timeoutS !== undefined) {
      const timeoutS = options.timeoutS;
      const deadline = setTimeout(() => {
        logger.error("shutdown did not finish within SHUTDOWN_TIMEOUT_S; exiting now", {
          timeoutS,
        });
        Deno.exit(1);
      }, timeoutS * 1000);
      Deno.unrefTimer(deadline);
    }
    stop().then(
      () => Deno.exit(0),
      (err) => {
        logger.error("shutdown failed", { err });
        Deno.exit(1);
      },
    );
  };
  Deno.addSignalListener("SIGINT", () => handler("SIGINT"));
  Deno.addSignalListener("SIGTERM", () => handler("SIGTERM"));
}

/** Says loudly when the API is open to anyone who can reach it. */
export function warnIfOpen(config: Config, logger: Logger): void {
  if (authMode(config) === "none" && !isLoopback(config.HOST)) {
    logger.warn(
      `The API is OPEN: AUTH_MODE=none while listening on ${config.HOST}. Anyone who can reach ` +
        "it can spend your provider credits. Set AUTH_MODE=api_key and create keys with " +
        "`deno task keys create --name NAME`.",
    );
  }
}
