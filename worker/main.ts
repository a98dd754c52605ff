/** `deno task worker`: the queue worker process. */
import { loadConfigOrExit } from "../shared/config.ts";
import { survivesConnectionDrops } from "../shared/db/connection_drops.ts";
import { startOutboxDispatcher } from "../shared/jobs/dispatcher.ts";
import { onShutdown, openRuntime, type Runtime } from "../shared/runtime.ts";
import { workerHealthHandler } from "./health.ts";
import { lowerPriority } from "./priority.ts";
import { startWorker, workerSettings } from "./worker.ts";

if (import.meta.main) {
  const config = await loadConfigOrExit();
  let runtime: Runtime;
  try {
    runtime = await openRuntime(config, "worker");
  } catch (err) {
    console.error((err as Error).message);
    Deno.exit(1);
  }
  survivesConnectionDrops(runtime.logger);
  // The render thread of the local provider first, so its CPU work keeps the normal priority;
  // then, before any connection or job, the rest: the threads started from here on inherit it.
  if (config.WORKER_NICE > 0) runtime.renderThread.start();
  lowerPriority(config.WORKER_NICE, runtime.logger);
  const worker = startWorker({
    ...runtime,
    ...await workerSettings(config, runtime.db),
  });
  // Jobs an API kept in the outbox while the queue was away: any process may queue them.
  const outbox = startOutboxDispatcher(runtime);
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
    await outbox.close();
    await worker.close();
    await runtime.close();
  }, { timeoutS: config.SHUTDOWN_TIMEOUT_S });
}
