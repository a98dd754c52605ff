/** Opens the long-lived dependencies from configuration (used by the api and worker mains). */
import { Redis } from "ioredis";
import { authMode, type Config, isLoopback } from "./config.ts";
import { createRedisRateLimiter, type RateLimiter } from "./auth/rate_limit.ts";
import { connectPostgres, type Db } from "./db/db.ts";
import { createJobEventHub, type JobEventHub } from "./jobs/events.ts";
import { createLogger, type Logger } from "./logger.ts";
import { createMetrics, type Metrics } from "./metrics.ts";
import { instrumentRegistry } from "./providers/instrumented.ts";
import { createProviderRegistry, type ProviderRegistry } from "./providers/registry.ts";
import { createRenderThread, type RenderThread } from "./providers/local_render_thread.ts";
import { createBullmqQueue } from "./queue/bullmq.ts";
import type { JobQueue } from "./queue/queue.ts";
import { createLocalStorage, type Storage } from "./storage/local.ts";

export interface Runtime {
  config: Config;
  logger: Logger;
  db: Db;
  queue: JobQueue;
  providers: ProviderRegistry;
  storage: Storage;
  /** The live job feed (LISTEN starts on the first `events.start()`). */
  events: JobEventHub;
  metrics: Metrics;
  /** Where the local provider renders (started on first use; see worker/main.ts). */
  renderThread: RenderThread;
  security: {
    authMode: "none" | "api_key";
    limiter: RateLimiter;
    submitsPerMinute: number;
    maxActiveJobs: number;
    readsPerMinute: number;
    maxStreamsPerKey: number;
  };
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

/** Connects Postgres, the BullMQ queue, providers and storage for one process. */
export function openRuntime(config: Config, role: string): Runtime {
  requireServices(config, role);
  const logger = createLogger({ level: config.LOG_LEVEL, fields: { service: role } });
  const db = connectPostgres(config.DATABASE_URL!, {
    application: `darkroom-${role}`,
    max: role === "worker"
      ? Math.min(20, Math.max(4, Math.ceil(config.WORKER_CONCURRENCY / 4)))
      : 10,
    onRecycle: () =>
      logger.warn("postgres pool retired after a missed deadline; a fresh one serves"),
  });
  const queue = createBullmqQueue({
    redisUrl: config.REDIS_URL!,
    prefix: config.QUEUE_PREFIX,
    retry: { maxRetries: config.MAX_RETRIES, backoffBase: config.RETRY_BACKOFF_BASE },
    logger,
    lockDurationMs: config.QUEUE_LOCK_MS,
    stalledIntervalMs: Math.max(500, Math.round(config.QUEUE_LOCK_MS / 2)),
    drainTimeoutMs: config.SHUTDOWN_TIMEOUT_S * 1000,
  });
  const metrics = createMetrics({ db, queue, role });
  const { providers, renderThread } = openProviders(config, metrics);
  const storage = createLocalStorage(config.STORAGE_PATH);
  const events = createJobEventHub(db, logger);
  // Rate-limit counters live in Redis so every API instance shares them.
  const limiterRedis = new Redis(config.REDIS_URL!, { maxRetriesPerRequest: 1, lazyConnect: true });
  limiterRedis.on("error", () => {});
  const security = {
    authMode: authMode(config),
    limiter: createRedisRateLimiter(limiterRedis, config.QUEUE_PREFIX),
    submitsPerMinute: config.RATE_LIMIT_PER_MINUTE,
    maxActiveJobs: config.MAX_ACTIVE_JOBS_PER_KEY,
    readsPerMinute: config.READS_PER_MINUTE,
    maxStreamsPerKey: config.MAX_STREAMS_PER_KEY,
  };
  warnIfOpen(config, logger);
  return {
    config,
    logger,
    db,
    queue,
    providers,
    storage,
    events,
    metrics,
    renderThread,
    security,
    async close() {
      renderThread.close();
      limiterRedis.disconnect();
      await events.close();
      await queue.close().catch((err) => logger.warn("queue close failed", { err }));
      await db.close(5).catch((err) => logger.warn("db close failed", { err }));
    },
  };
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
 * terminal and from dev.ts, and must still drain.
 */
export function onShutdown(logger: Logger, stop: () => Promise<void>): void {
  let stoppingAt = 0;
  const handler = (signal: string) => {
    if (stoppingAt > 0) {
      if (Date.now() - stoppingAt < 200) return;
      logger.warn("second signal; exiting now", { signal });
      Deno.exit(130);
    }
    stoppingAt = Date.now();
    logger.info("shutting down", { signal });
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
