/** A running worker: the queue listener plus its heartbeat. */
import { hostname } from "node:os";
import type { Config } from "../shared/config.ts";
import type { Db } from "../shared/db/db.ts";
import { batchedWorkerQueries, heartbeat, removeHeartbeat } from "../shared/jobs/repo.ts";
import type { JobQueue } from "../shared/queue/queue.ts";
import { publishCircuit, publishCircuits, removeCircuits } from "../shared/providers/health.ts";
import { createSafeFetch } from "../shared/http/safe_fetch.ts";
import type { DispatchDeps } from "../shared/webhooks/deliveries.ts";
import {
  type MaintenanceOptions,
  startMaintenance,
  startSearchIndexFlush,
  startWebhookDispatcher,
} from "./maintenance.ts";
import { createRunTimes } from "./poll_schedule.ts";
import { type ProcessDeps, processJob } from "./process_job.ts";
import { createWakeups } from "./wakeups.ts";

export interface WorkerDeps extends ProcessDeps {
  queue: JobQueue;
  concurrency: number;
  heartbeatMs?: number;
  /** Periodic re-queueing and retention; off when omitted. */
  maintenance?: MaintenanceOptions;
  /** Outgoing webhooks: SSRF-safe sender and the open-mode secret; off when omitted. */
  webhooks?: { send: DispatchDeps["send"]; defaultSecret?: string };
}

export interface RunningWorker {
  readonly id: string;
  /** Stops taking jobs, drains the running ones and removes the heartbeat. */
  close(): Promise<void>;
}

/**
 * The worker's settings from the configuration (shared by `deno task worker` and the all-in-one
 * `deno task start`): concurrency, maintenance, webhook wake-ups and outgoing webhooks.
 */
export async function workerSettings(
  config: Config,
  db: Db,
): Promise<Pick<WorkerDeps, "concurrency" | "maintenance" | "wakeups" | "webhooks">> {
  return {
    concurrency: config.WORKER_CONCURRENCY,
    maintenance: {
      retentionDays: config.RETENTION_DAYS,
      reconcileIntervalS: config.RECONCILE_INTERVAL_S,
      staleAfterS: config.RECONCILE_STALE_S,
    },
    // With provider webhooks on, jobs wake on the webhook's NOTIFY instead of polling fast.
    wakeups: await webhookWakeups(config, db),
    webhooks: {
      send: createSafeFetch({ allowHosts: config.WEBHOOK_ALLOW_HOSTS, timeoutMs: 10_000 }),
      defaultSecret: config.WEBHOOK_SECRET,
    },
  };
}

/**
 * Wake-ups for the providers that push webhooks here: Replicate with REPLICATE_WEBHOOK_SECRET,
 * fal with FAL_KEY (its signatures need no secret), both only with PUBLIC_BASE_URL.
 */
async function webhookWakeups(config: Config, db: Db): Promise<WorkerDeps["wakeups"]> {
  if (!config.PUBLIC_BASE_URL) return undefined;
  const providers = new Set<string>();
  if (config.REPLICATE_WEBHOOK_SECRET) providers.add("replicate");
  if (config.FAL_KEY) providers.add("fal");
  if (providers.size === 0) return undefined;
  return { ...await createWakeups(db), providers };
}

/** Starts listening to the queue and beating the heartbeat. */
export function startWorker(deps: WorkerDeps): RunningWorker {
  const id = `${hostname()}:${Deno.pid}:${crypto.randomUUID().slice(0, 8)}`;
  const log = deps.logger.child({ workerId: id });
  // The running jobs share their statements (a few per round, not one per job).
  const queries = deps.queries ?? batchedWorkerQueries(deps.db);
  // What its recent predictions took, so a new one of the same kind is polled when it may end.
  const runTimes = deps.runTimes ?? createRunTimes();
  const listener = deps.queue.listenQueue(
    (message, ctx) => processJob({ ...deps, queries, runTimes, logger: log }, message, ctx),
    { concurrency: deps.concurrency },
  );
  // Provider circuits: written at once when one changes, and with every heartbeat.
  const circuits = deps.providers.circuits;
  const stopCircuits = circuits?.onChange((snapshot) => {
    const fields = { provider: snapshot.provider, lastError: snapshot.lastError };
    if (snapshot.state === "open") log.warn("provider circuit opened", fields);
    else log.info(`provider circuit ${snapshot.state}`, fields);
    publishCircuit(deps.db, id, snapshot).catch((err) =>
      log.warn("cannot record provider health", { err })
    );
  }) ?? (() => {});
  const beat = () =>
    Promise.all([
      heartbeat(deps.db, {
        workerId: id,
        hostname: hostname(),
        pid: Deno.pid,
        concurrency: deps.concurrency,
        active: listener.active(),
      }),
      circuits ? publishCircuits(deps.db, id, circuits.snapshots()) : undefined,
    ]).catch((err) => log.warn("heartbeat failed", { err }));
  const timer = setInterval(beat, deps.heartbeatMs ?? 5000);
  beat();
  const stopMaintenance = deps.maintenance
    ? startMaintenance({ ...deps, logger: log }, deps.maintenance)
    : () => {};
  const stopWebhooks = deps.webhooks
    ? startWebhookDispatcher({ db: deps.db, logger: log, ...deps.webhooks })
    : () => {};
  // New jobs' words are merged into the search index here, not by the submits that add them.
  const stopFlush = deps.maintenance
    ? startSearchIndexFlush({ db: deps.db, logger: log })
    : () => {};
  log.info("worker started", { concurrency: deps.concurrency, queue: deps.queue.backend });
  return {
    id,
    async close() {
      clearInterval(timer);
      stopMaintenance();
      stopWebhooks();
      stopFlush();
      log.info("worker draining", { active: listener.active() });
      await listener.close();
      stopCircuits();
      await removeHeartbeat(deps.db, id).catch(() => {});
      await removeCircuits(deps.db, id).catch(() => {});
      log.info("worker stopped");
    },
  };
}
