/** `deno task api`: the HTTP server. */
import { loadConfigOrExit } from "../shared/config.ts";
import { survivesConnectionDrops } from "../shared/db/connection_drops.ts";
import { startOutboxDispatcher } from "../shared/jobs/dispatcher.ts";
import { onShutdown, openRuntime, type Runtime } from "../shared/runtime.ts";
import { createApp } from "./app.ts";
import { openApiServices } from "./deps.ts";

if (import.meta.main) {
  const config = await loadConfigOrExit();
  let runtime: Runtime;
  try {
    runtime = await openRuntime(config, "api");
  } catch (err) {
    console.error((err as Error).message);
    Deno.exit(1);
  }
  survivesConnectionDrops(runtime.logger);
  // The limiter, the live job feed and Bull Board (read-only; behind the admin key when auth is on).
  const api = await openApiServices(config, runtime);
  // Jobs accepted while the queue was away go onto it as soon as it answers.
  const outbox = startOutboxDispatcher(runtime);
  const app = createApp({ ...runtime, ...api });
  const server = Deno.serve({
    hostname: config.HOST,
    port: config.PORT,
    onListen: ({ hostname, port }) =>
      runtime.logger.info("api listening", { url: `http://${hostname}:${port}/` }),
  }, app.fetch);
  onShutdown(runtime.logger, async () => {
    // Live streams first (each gets a final event), so the server drains at once.
    api.events.endStreams();
    await server.shutdown();
    await outbox.close();
    await api.close();
    await runtime.close();
  }, { timeoutS: config.SHUTDOWN_TIMEOUT_S });
}
