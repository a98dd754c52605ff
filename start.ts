/**
 * `deno task start`: the whole product in one process — UI, API and worker. Without
 * DATABASE_URL it keeps its data in PGlite under DATA_DIR; without REDIS_URL it queues on Deno KV
 * there too; without REPLICATE_API_TOKEN it offers the offline local models. Set the variables
 * and the same command uses Postgres, Redis and Replicate.
 */
import { join } from "node:path";
import { authMode, type Config, loadConfigOrExit } from "./shared/config.ts";
import { acquireDataLock, type DataLock } from "./shared/db/data_lock.ts";
import { connectPostgres, type Db } from "./shared/db/db.ts";
import { openPglite } from "./shared/db/pglite.ts";
import { createJobEventHub } from "./shared/jobs/events.ts";
import { survivesConnectionDrops } from "./shared/db/connection_drops.ts";
import { createLogger, type Logger } from "./shared/logger.ts";
import { createMetrics } from "./shared/metrics.ts";
import { migrate } from "./shared/db/migrations.ts";
import { createBullmqQueue } from "./shared/queue/bullmq.ts";
import { openKvQueue } from "./shared/queue/kv.ts";
import type { JobQueue } from "./shared/queue/queue.ts";
import { requeueUnfinished } from "./shared/jobs/reconcile.ts";
import { onShutdown, openProviders, warnIfOpen } from "./shared/runtime.ts";
import { createMemoryRateLimiter, createRedisRateLimiter } from "./shared/auth/rate_limit.ts";
import { Redis } from "ioredis";
import { createLocalStorage } from "./shared/storage/local.ts";
import { startWorker, workerSettings } from "./worker/worker.ts";
import { createApp } from "./api/app.ts";

interface Embedded {
  db: Db;
  queue: JobQueue;
  lock?: DataLock;
}

async function openStores(config: Config, logger: Logger): Promise<Embedded> {
  let lock: DataLock | undefined;
  if (!config.DATABASE_URL || !config.REDIS_URL) {
    // PGlite and KV files must never be opened by two processes: take the folder first.
    lock = await acquireDataLock(config.DATA_DIR);
  }
  const db = config.DATABASE_URL
    ? connectPostgres(config.DATABASE_URL, {
      application: "darkroom-start",
      onRecycle: () =>
        logger.warn("postgres pool retired after a missed deadline; a fresh one serves"),
    })
    : await openPglite(join(config.DATA_DIR, "pg"));
  const retry = { maxRetries: config.MAX_RETRIES, backoffBase: config.RETRY_BACKOFF_BASE };
  const queue = config.REDIS_URL
    ? createBullmqQueue({
      redisUrl: config.REDIS_URL,
      prefix: config.QUEUE_PREFIX,
      retry,
      logger,
      lockDurationMs: config.QUEUE_LOCK_MS,
      stalledIntervalMs: Math.max(500, Math.round(config.QUEUE_LOCK_MS / 2)),
      drainTimeoutMs: config.SHUTDOWN_TIMEOUT_S * 1000,
    })
    : await openKvQueue({
      path: join(config.DATA_DIR, "queue.kv"),
      retry,
      logger,
      drainTimeoutMs: config.SHUTDOWN_TIMEOUT_S * 1000,
    });
  return { db, queue, lock };
}

if (import.meta.main) {
  const started = performance.now();
  const config = await loadConfigOrExit();
  const logger = createLogger({ level: config.LOG_LEVEL, fields: { service: "darkroom" } });
  survivesConnectionDrops(logger);
  let stores: Embedded;
  try {
    stores = await openStores(config, logger);
    await migrate(stores.db);
  } catch (err) {
    console.error(`Cannot start Darkroom: ${(err as Error).message}`);
    Deno.exit(1);
  }
  const { db, queue } = stores;
  const metrics = createMetrics({ db, queue, role: "start" });
  // Local images render off the event loop that serves the API and the UI.
  const { providers, renderThread } = openProviders(config, metrics);
  const storage = createLocalStorage(config.STORAGE_PATH);
  const events = createJobEventHub(db, logger);
  await events.start();
  // Jobs that were queued or running when the process last stopped finish now.
  await requeueUnfinished(db, queue, { logger });
  const worker = startWorker({
    db,
    queue,
    providers,
    storage,
    logger,
    config,
    metrics,
    ...await workerSettings(config, db),
  });
  warnIfOpen(config, logger);
  const security = {
    authMode: authMode(config),
    limiter: config.REDIS_URL
      ? createRedisRateLimiter(
        new Redis(config.REDIS_URL, { lazyConnect: true }),
        config.QUEUE_PREFIX,
      )
      : createMemoryRateLimiter(),
    submitsPerMinute: config.RATE_LIMIT_PER_MINUTE,
    maxActiveJobs: config.MAX_ACTIVE_JOBS_PER_KEY,
    readsPerMinute: config.READS_PER_MINUTE,
    maxStreamsPerKey: config.MAX_STREAMS_PER_KEY,
  };
  const app = createApp({
    db,
    queue,
    providers,
    storage,
    logger,
    events,
    metrics,
    security,
    config,
  });
  const server = Deno.serve({
    hostname: config.HOST,
    port: config.PORT,
    onListen: ({ hostname, port }) => {
      const url = `http://${hostname === "0.0.0.0" ? "127.0.0.1" : hostname}:${port}/`;
      logger.info("darkroom started", {
        url,
        database: config.DATABASE_URL ? "postgres" : `pglite (${join(config.DATA_DIR, "pg")})`,
        queue: config.REDIS_URL
          ? "bullmq (redis)"
          : `deno kv (${join(config.DATA_DIR, "queue.kv")})`,
        providers: config.REPLICATE_API_TOKEN ? "local, replicate" : "local only",
        startup_ms: Math.round(performance.now() - started),
      });
      if (!config.REPLICATE_API_TOKEN) {
        console.log(
          "Replicate is not configured: only the offline local/... models are offered " +
            "(set REPLICATE_API_TOKEN to use Replicate).",
        );
      }
      console.log(`\n  Darkroom is running: open ${url}\n`);
    },
  }, app.fetch);
  onShutdown(logger, async () => {
    await server.shutdown();
    await worker.close();
    renderThread.close();
    await events.close();
    await queue.close();
    await db.close(5);
    await stores.lock?.release();
  });
}
