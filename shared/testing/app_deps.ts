/** Test helper: real Postgres schema + real BullMQ prefix + temp storage, wired like production. */
import { createMemoryRateLimiter, type RateLimiter } from "../auth/rate_limit.ts";
import type { AuthMode } from "../config.ts";
import { createJobEventHub, type JobEventHub } from "../jobs/events.ts";
import type { Db } from "../db/db.ts";
import { type Logger, silentLogger } from "../logger.ts";
import { createMetrics, type Metrics } from "../metrics.ts";
import type { Provider } from "../providers/provider.ts";
import { createProviderRegistry, type ProviderRegistry } from "../providers/registry.ts";
import { createBullmqQueue } from "../queue/bullmq.ts";
import type { JobQueue } from "../queue/queue.ts";
import type { RetryPolicy } from "../queue/retry.ts";
import { createLocalStorage } from "../storage/local.ts";
import type { Storage } from "../storage/storage.ts";
import { createTestDb, deleteQueueKeys, testQueuePrefix, testRedisUrl } from "./db.ts";

export interface TestDeps {
  db: Db;
  queue: JobQueue;
  providers: ProviderRegistry;
  storage: Storage;
  storageRoot: string;
  logger: Logger;
  events: JobEventHub;
  metrics: Metrics;
  config: {
    API_V1_PREFIX: string;
    MAX_IMAGE_BYTES: number;
    PREDICTION_DEADLINE_S: number;
  };
  redisUrl: string;
  prefix: string;
  cleanup(): Promise<void>;
}

export interface TestDepsOptions {
  replicate?: Provider;
  retry?: RetryPolicy;
  logger?: Logger;
  localStepMs?: number;
}

/** Builds every dependency of the api and worker against the machine's real services. */
export async function createTestDeps(options: TestDepsOptions = {}): Promise<TestDeps> {
  const t = await createTestDb();
  const prefix = testQueuePrefix();
  const redisUrl = testRedisUrl();
  const logger = options.logger ?? silentLogger;
  const queue = createBullmqQueue({
    redisUrl,
    prefix,
    retry: options.retry ?? { maxRetries: 2, backoffBase: 1 },
    logger,
  });
  const storageRoot = await Deno.makeTempDir({ prefix: "darkroom-test-" });
  const providers = createProviderRegistry({
    REPLICATE_API_TOKEN: undefined,
    REPLICATE_BASE_URL: "http://127.0.0.1:9/v1",
    PROVIDER_TIMEOUT_MS: 5000,
    LOCAL_STEP_MS: options.localStepMs ?? 5,
  }, { replicate: options.replicate });
  const events = createJobEventHub(t.db, logger, { pollMs: 10 });
  await events.start();
  return {
    db: t.db,
    events,
    metrics: createMetrics({ db: t.db, queue, role: "test" }),
    queue,
    providers,
    storage: createLocalStorage(storageRoot),
    storageRoot,
    logger,
    config: {
      API_V1_PREFIX: "/api/v1",
      MAX_IMAGE_BYTES: 10 * 1024 * 1024,
      PREDICTION_DEADLINE_S: 60,
    },
    redisUrl,
    prefix,
    async cleanup() {
      await events.close();
      await queue.close();
      await deleteQueueKeys(prefix);
      await t.cleanup();
      await Deno.remove(storageRoot, { recursive: true });
    },
  };
}

/** The access settings of a test app: API keys on, an in-memory limiter, no limits (0 = off). */
export function testSecurity(
  overrides: {
    authMode?: AuthMode;
    submitsPerMinute?: number;
    maxActiveJobs?: number;
    readsPerMinute?: number;
    maxStreamsPerKey?: number;
  } = {},
): {
  authMode: AuthMode;
  limiter: RateLimiter;
  submitsPerMinute: number;
  maxActiveJobs: number;
  readsPerMinute: number;
  maxStreamsPerKey: number;
} {
  return {
    authMode: "api_key",
    limiter: createMemoryRateLimiter(),
    submitsPerMinute: 0,
    maxActiveJobs: 0,
    readsPerMinute: 0,
    maxStreamsPerKey: 0,
    ...overrides,
  };
}
