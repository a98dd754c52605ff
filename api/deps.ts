/**
 * The API's own long-lived pieces, beside the shared runtime (shared/runtime.ts): the submit rate
 * limiter, the live job feed and the queue dashboard at `/admin/queues`. Built by api/main.ts and
 * by start.ts; a worker needs none of them.
 */
import type { Hono } from "hono";
import { Redis } from "ioredis";
import {
  createFallbackLimiter,
  createMemoryRateLimiter,
  createRedisRateLimiter,
  type RateLimiter,
} from "../shared/auth/rate_limit.ts";
import { authMode, type Config } from "../shared/config.ts";
import type { Db } from "../shared/db/db.ts";
import { createJobEventHub, type JobEventHub } from "../shared/jobs/events.ts";
import { jobToJson } from "../shared/jobs/json.ts";
import { createJobTimings, type JobTimings } from "../shared/jobs/timing.ts";
import type { Logger } from "../shared/logger.ts";
import type { JobQueue } from "../shared/queue/queue.ts";
import type { ProviderRegistry } from "../shared/providers/registry.ts";
import type { ModelCatalogue } from "../shared/models/catalogue.ts";
import { openModelCatalogue } from "../shared/models/open.ts";
import { reconnectDelayMs, trackAvailability } from "../shared/redis.ts";
import type { Security } from "./app.ts";
import { adminQueueRoutes, kvQueueRoutes } from "./routes/admin_queues.ts";

export interface ApiServices {
  /** The live job feed, listening already. */
  events: JobEventHub;
  /** ETA and queue place of unfinished jobs, for the job JSON (reads and the feed share it). */
  timings: JobTimings;
  security: Security;
  /** Model cards (local, Replicate's and fal's when configured) with their input validators. */
  models: ModelCatalogue;
  /** The queue dashboard: Bull Board with BullMQ, a page of counts with Deno KV. */
  mounted: { path: string; app: Hono }[];
  /** Stops the feed and the dashboard and drops the limiter's Redis connection. */
  close(): Promise<void>;
}

/**
 * Builds the rate limiter (counters in Redis when REDIS_URL is set, so every API instance shares
 * them, and in this process while Redis is away; in memory otherwise), starts the job feed and
 * makes the queue dashboard.
 */
export async function openApiServices(
  config: Config,
  runtime: {
    db: Db;
    queue: JobQueue;
    logger: Logger;
    providers?: Pick<ProviderRegistry, "byName">;
  },
): Promise<ApiServices> {
  const limiterRedis = config.REDIS_URL
    ? new Redis(config.REDIS_URL, {
      maxRetriesPerRequest: 1,
      lazyConnect: true,
      retryStrategy: reconnectDelayMs,
    })
    : undefined;
  // A failed command answers the request that made it; an unhandled "error" event would crash.
  limiterRedis?.on("error", () => {});
  const limiterUp = limiterRedis ? trackAvailability(limiterRedis) : undefined;
  const board = runtime.queue.backend === "bullmq" && config.REDIS_URL
    ? adminQueueRoutes({ redisUrl: config.REDIS_URL, prefix: config.QUEUE_PREFIX })
    : kvQueueRoutes(runtime.queue);
  const timings = createJobTimings(runtime.db, { logger: runtime.logger });
  const events = createJobEventHub(runtime.db, runtime.logger, {
    toJson: (row) => jobToJson(row, timings.of(row)),
  });
  try {
    await events.start();
  } catch (err) {
    await board.close();
    limiterRedis?.disconnect();
    throw err;
  }
  return {
    events,
    timings,
    models: openModelCatalogue(config, runtime),
    security: {
      authMode: authMode(config),
      limiter: limiterRedis
        ? sharedLimiter(createRedisRateLimiter(limiterRedis, config.QUEUE_PREFIX), {
          available: () => limiterUp?.up() !== false,
          failed: () => limiterUp?.failed(),
          logger: runtime.logger,
        })
        : createMemoryRateLimiter(),
      submitsPerMinute: config.RATE_LIMIT_PER_MINUTE,
      maxActiveJobs: config.MAX_ACTIVE_JOBS_PER_KEY,
      readsPerMinute: config.READS_PER_MINUTE,
      maxStreamsPerKey: config.MAX_STREAMS_PER_KEY,
    },
    mounted: [board],
    async close() {
      await board.close();
      await events.close();
      limiterUp?.close();
      limiterRedis?.disconnect();
    },
  };
}

/**
 * The Redis limiter, with counts in this process while Redis is away (a submit is never refused
 * for want of a counter); says so in the log at most once a minute.
 */
function sharedLimiter(
  redis: RateLimiter,
  options: { available: () => boolean; failed: () => void; logger: Logger },
): RateLimiter {
  let lastLog = -Infinity;
  return createFallbackLimiter(redis, createMemoryRateLimiter(), {
    available: options.available,
    onFallback: (err) => {
      options.failed();
      if (performance.now() - lastLog < 60_000) return;
      lastLog = performance.now();
      options.logger.warn("the shared rate limiter is unavailable; counting in this process", {
        err,
      });
    },
  });
}
