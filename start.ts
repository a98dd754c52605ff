/**
 * `deno task start`: the whole product in one process — UI, API and worker. Without
 * DATABASE_URL it keeps its data in PGlite under DATA_DIR; without REDIS_URL it queues on Deno KV
 * there too; without REPLICATE_API_TOKEN it offers the offline local models. Set the variables
 * and the same command uses Postgres, Redis and Replicate.
 *
 * The composition root: it sits outside api/ and worker/ and wires both, so neither imports the
 * other.
 */
import { createApp } from "./api/app.ts";
import { openApiServices } from "./api/deps.ts";
import { loadConfigOrExit } from "./shared/config.ts";
import { survivesConnectionDrops } from "./shared/db/connection_drops.ts";
import { migrate } from "./shared/db/migrations.ts";
import { startOutboxDispatcher } from "./shared/jobs/dispatcher.ts";
import { requeueUnfinished } from "./shared/jobs/reconcile.ts";
import { onShutdown, openRuntime, type Runtime } from "./shared/runtime.ts";
import { describeStorage } from "./shared/storage/open.ts";
import { startWorker, workerSettings } from "./worker/worker.ts";

if (import.meta.main) {
  const started = performance.now();
  const config = await loadConfigOrExit();
  let runtime: Runtime;
  try {
    runtime = await openRuntime(config, "start");
    survivesConnectionDrops(runtime.logger);
    await migrate(runtime.db);
  } catch (err) {
    console.error(`Cannot start Darkroom: ${(err as Error).message}`);
    Deno.exit(1);
  }
  const { logger } = runtime;
  const api = await openApiServices(config, runtime);
  // Jobs that were queued or running when the process last stopped finish now.
  await requeueUnfinished(runtime.db, runtime.queue, { logger });
  // Jobs kept in the outbox while the queue could not take them go onto it.
  const outbox = startOutboxDispatcher(runtime);
  // Local images render on a thread of their own, off the event loop that serves the API and UI.
  const worker = startWorker({ ...runtime, ...await workerSettings(config, runtime.db) });
  const app = createApp({ ...runtime, ...api });
  const server = Deno.serve({
    hostname: config.HOST,
    port: config.PORT,
    onListen: ({ hostname, port }) => {
      const url = `http://${hostname === "0.0.0.0" ? "127.0.0.1" : hostname}:${port}/`;
      logger.info("darkroom started", {
        url,
        database: runtime.where.database,
        queue: runtime.where.queue,
        providers: ["local", config.REPLICATE_API_TOKEN && "replicate", config.FAL_KEY && "fal"]
          .filter(Boolean).join(", "),
        images: describeStorage(config),
        startup_ms: Math.round(performance.now() - started),
      });
      if (!config.REPLICATE_API_TOKEN && !config.FAL_KEY) {
        console.log(
          "Replicate is not configured: only the offline local/... models are offered " +
            "(set REPLICATE_API_TOKEN to use Replicate, or FAL_KEY to use fal.ai).",
        );
      }
      console.log(`\n  Darkroom is running: open ${url}\n`);
    },
  }, app.fetch);
  onShutdown(logger, async () => {
    // Live streams first (each gets a final event), so the server drains at once.
    api.events.endStreams();
    await server.shutdown();
    await worker.close();
    await outbox.close();
    await api.close();
    await runtime.close();
  }, { timeoutS: config.SHUTDOWN_TIMEOUT_S });
}
