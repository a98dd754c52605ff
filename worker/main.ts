/** `deno task worker`: the queue worker process. */
import { loadConfigOrExit } from "../shared/config.ts";
import { onShutdown, openRuntime } from "../shared/runtime.ts";
import { workerHealthHandler } from "./health.ts";
import { createSafeFetch } from "../shared/safe_fetch.ts";
import { createWakeups } from "./wakeups.ts";
import { startWorker } from "./worker.ts";

if (import.meta.main) {
  const config = await loadConfigOrExit();
  let runtime;
  try {
    runtime = openRuntime(config, "worker");
  } catch (err) {
    console.error((err as Error).message);
    Deno.exit(1);
  }
  const worker = startWorker({
    ...runtime,
    concurrency: config.WORKER_CONCURRENCY,
    maintenance: {
      retentionDays: config.RETENTION_DAYS,
      reconcileIntervalS: config.RECONCILE_INTERVAL_S,
      staleAfterS: config.RECONCILE_STALE_S,
    },
    // With provider webhooks on, jobs wake on the webhook's NOTIFY instead of polling fast.
    wakeups: config.PUBLIC_BASE_URL && config.REPLICATE_WEBHOOK_SECRET
      ? await createWakeups(runtime.db)
      : undefined,
    webhooks: {
      send: createSafeFetch({ allowHosts: config.WEBHOOK_ALLOW_HOSTS, timeoutMs: 10_000 }),
      defaultSecret: config.WEBHOOK_SECRET,
    },
  });
  // The worker's own health and metrics, for compose health checks and Prometheus.
  const health = config.WORKER_PORT > 0
    ? Deno.serve({
      hostname: config.HOST,
      port: config.WORKER_PORT,
      onListen: () => {},
    }, workerHealthHandler(runtime, worker))
    : undefined;
  onShutdown(runtime.logger, async () => {
    await health?.shutdown();
    await worker.close();
    await runtime.close();
  });
}
