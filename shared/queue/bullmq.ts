/** The BullMQ-on-Redis backend of the job queue (the scaled-out shape: many APIs, many workers). */
import { type Job, Queue, Worker } from "bullmq";
import { Redis } from "ioredis";
import { createBatcher, settleEach } from "../batcher.ts";
import type { Logger } from "../logger.ts";
import { isConnectionLoss, reconnectDelayMs, trackAvailability } from "../redis.ts";
import { withTimeout } from "../timeout.ts";
import {
  type EnqueueOptions,
  type JobQueue,
  type ListenOptions,
  PRIORITIES,
  type QueueHandler,
  type QueueListener,
  type QueueMessage,
  type QueueStats,
} from "./queue.ts";
import { retryDelayMs, type RetryPolicy } from "./retry.ts";

export interface BullmqOptions {
  redisUrl: string;
  /** Redis key prefix (tests use one of their own). */
  prefix: string;
  retry: RetryPolicy;
  logger: Logger;
  queueName?: string;
  /** How long a job's lock lasts before another worker may take it over (ms). */
  lockDurationMs?: number;
  /** How often workers look for stalled jobs (ms). */
  stalledIntervalMs?: number;
  /** How long enqueue may take before the API gives up (ms). */
  enqueueTimeoutMs?: number;
  /** On close, how long running handlers may finish before their signal is aborted (ms). */
  drainTimeoutMs?: number;
}

const DEFAULT_QUEUE = "generate";

interface Adding {
  message: QueueMessage;
  opts: EnqueueOptions;
}

/** Opens the producer side; workers are created on `listenQueue`. */
export function createBullmqQueue(options: BullmqOptions): JobQueue {
  const queueName = options.queueName ?? DEFAULT_QUEUE;
  const maxAttempts = options.retry.maxRetries + 1;
  // The producer gives up quickly while Redis is away (one reconnect per command, and the
  // enqueue timeout below), so the API can keep the job in the outbox instead of hanging, and
  // it reconnects within a quarter of a second of Redis answering again.
  const producer = new Redis(options.redisUrl, {
    maxRetriesPerRequest: 1,
    connectTimeout: 3000,
    retryStrategy: reconnectDelayMs,
  });
  producer.on("error", (err) => options.logger.debug("redis producer error", { err }));
  const availability = trackAvailability(producer);
  const queue = new Queue<QueueMessage>(queueName, {
    connection: producer,
    prefix: options.prefix,
    skipWaitingForReady: true,
  });
  queue.on("error", (err) => options.logger.warn("queue error", { err }));
  const listeners = new Set<QueueListener>();
  const enqueueTimeoutMs = options.enqueueTimeoutMs ?? 3000;
  const timedOut = "Redis did not answer in time";
  const jobOf = ({ message, opts }: Adding) => ({
    name: "generate",
    data: message,
    opts: {
      jobId: opts.id ?? message.jobId,
      delay: opts.delayMs,
      ...bullmqOrder(opts.priority),
      attempts: maxAttempts,
      backoff: { type: "darkroom" },
      removeOnComplete: true,
      removeOnFail: { count: 5000 },
    },
  });
  // Concurrent enqueues leave as one pipelined round trip (addBulk). addBulk stops at the first
  // refused job, so after any error other than a timeout each job is added again on its own:
  // adding an id that is already queued is a no-op, so that is safe.
  const addOne = createBatcher(async (items: Adding[]) => {
    try {
      await withTimeout(queue.addBulk(items.map(jobOf)), enqueueTimeoutMs, timedOut);
      return items.map(() => ({ ok: true as const, value: undefined }));
    } catch (err) {
      if ((err as Error).message === timedOut || isConnectionLoss(err)) availability.failed();
      if (items.length === 1 || (err as Error).message === timedOut) throw err;
      return await settleEach(items, (item) => {
        const { name, data, opts } = jobOf(item);
        return withTimeout(queue.add(name, data, opts), enqueueTimeoutMs, timedOut).then(() => {});
      });
    }
  }, { maxInFlight: 1 });

  return {
    backend: "bullmq",
    async enqueue(message, opts: EnqueueOptions = {}) {
      if (opts.reviveDead) {
        // A dead letter with this id would make add() a no-op: clear it first.
        const old = await withTimeout(
          queue.getJob(opts.id ?? message.jobId),
          3000,
          "Redis did not answer in time",
        );
        if (old && (await old.getState()) === "failed") await old.remove().catch(() => {});
      }
      await addOne({ message, opts });
    },

    listenQueue(handler: QueueHandler, listen: ListenOptions): QueueListener {
      const listener = startWorker(queueName, handler, listen, options, maxAttempts);
      listeners.add(listener);
      return {
        active: listener.active,
        close: async () => {
          listeners.delete(listener);
          await listener.close();
        },
      };
    },

    async remove(id: string) {
      const job = await withTimeout(queue.getJob(id), 3000, "Redis did not answer in time");
      if (!job) return false;
      const state = await job.getState();
      if (state === "active") return false;
      try {
        await job.remove();
        return true;
      } catch {
        return false; // taken by a worker in the meantime
      }
    },

    async stats(): Promise<QueueStats> {
      const c = await withTimeout(
        queue.getJobCounts("waiting", "prioritized", "active", "delayed", "failed", "completed"),
        3000,
        "Redis did not answer in time",
      );
      return {
        waiting: (c.waiting ?? 0) + (c.prioritized ?? 0),
        active: c.active ?? 0,
        delayed: c.delayed ?? 0,
        failed: c.failed ?? 0,
        completed: c.completed ?? 0,
      };
    },

    async ping() {
      await withTimeout(producer.ping(), 2000, "Redis did not answer in time");
    },

    available: () => availability.up(),

    onAvailable: (fn) => availability.onUp(fn),

    async close() {
      availability.close();
      await Promise.all([...listeners].map((l) => l.close()));
      await queue.close();
      producer.disconnect();
    },
  };
}

function startWorker(
  queueName: string,
  handler: QueueHandler,
  listen: ListenOptions,
  options: BullmqOptions,
  maxAttempts: number,
): QueueListener {
  const closing = new AbortController();
  let running = 0;
  const connection = new Redis(options.redisUrl, {
    maxRetriesPerRequest: null,
    retryStrategy: reconnectDelayMs,
  });
  connection.on("error", (err) => options.logger.debug("redis worker error", { err }));
  const worker = new Worker<QueueMessage>(
    queueName,
    async (job: Job<QueueMessage>, _token?: string, signal?: AbortSignal) => {
      running++;
      try {
        const signals = signal ? [closing.signal, signal] : [closing.signal];
        await handler(job.data, {
          attempt: job.attemptsMade + 1,
          maxAttempts,
          signal: AbortSignal.any(signals),
          // Sets the queue-wide limiter in Redis: every worker holds off for `ms`.
          pauseAll: (ms: number) => worker.rateLimit(ms),
        });
      } catch (err) {
        // The last attempt is dead-lettered by BullMQ (the failed set); say so in the logs.
        if (job.attemptsMade + 1 >= maxAttempts) {
          options.logger.error("job dead-lettered after its last attempt", {
            jobId: job.data.jobId,
            err,
          });
        }
        throw err;
      } finally {
        running--;
      }
    },
    {
      connection,
      prefix: options.prefix,
      concurrency: listen.concurrency,
      drainDelay: 1,
      // After a lost connection BullMQ waits this long before asking for jobs again (15 s by
      // default): jobs queued when Redis returns would wait for it.
      runRetryDelay: 250,
      // A limiter far above any real rate: it is what lets pauseAll() (worker.rateLimit) hold
      // every worker off when the provider throttles us.
      limiter: { max: 100_000, duration: 1000 },
      lockDuration: options.lockDurationMs ?? 30_000,
      stalledInterval: options.stalledIntervalMs ?? 15_000,
      maxStalledCount: 2,
      settings: {
        backoffStrategy: (attemptsMade: number, _type?: string, err?: Error) =>
          retryDelayMs(attemptsMade, options.retry, err),
      },
    },
  );
  worker.on("error", (err) => options.logger.warn("worker error", { err }));
  return {
    active: () => running,
    close: async () => {
      // Drain: let running handlers finish; past the drain time, ask them to stop.
      const timer = setTimeout(
        () => closing.abort(new Error("worker is shutting down")),
        options.drainTimeoutMs ?? 25_000,
      );
      try {
        await worker.close();
      } finally {
        clearTimeout(timer);
        connection.disconnect();
      }
    },
  };
}

/**
 * BullMQ runs plain (unprioritised) jobs before every prioritised one, and its prioritised path
 * costs more per add. So: normal → the plain wait list (the fast path); high → the front of that
 * list (lifo); low → prioritised, i.e. after everything plain.
 */
export function bullmqOrder(priority: number | undefined): { priority?: number; lifo?: boolean } {
  if (priority === undefined || priority === PRIORITIES.normal) return {};
  if (priority < PRIORITIES.normal) return { lifo: true };
  return { priority: Math.min(priority, 2_097_152) };
}
