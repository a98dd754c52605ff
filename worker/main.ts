/** `deno task worker`: the queue worker process. */
import { loadConfigOrExit } from "../shared/config.ts";
import { onShutdown, openRuntime } from "../shared/runtime.ts";
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
    },
  });
  onShutdown(runtime.logger, async () => {
    await worker.close();
    await runtime.close();
  });
}
