/** `deno task api`: the HTTP server. */
import { loadConfigOrExit } from "../shared/config.ts";
import { survivesConnectionDrops } from "../shared/db/connection_drops.ts";
import { onShutdown, openRuntime } from "../shared/runtime.ts";
import { createApp } from "./app.ts";
import { adminQueueRoutes } from "./routes/admin_queues.ts";

if (import.meta.main) {
  const config = await loadConfigOrExit();
  let runtime;
  try {
    runtime = openRuntime(config, "api");
  } catch (err) {
    console.error((err as Error).message);
    Deno.exit(1);
  }
  survivesConnectionDrops(runtime.logger);
  await runtime.events.start();
  // Bull Board (read-only) for the BullMQ queue; behind the admin key when auth is on.
  const board = adminQueueRoutes({ redisUrl: config.REDIS_URL!, prefix: config.QUEUE_PREFIX });
  const app = createApp({ ...runtime, mounted: [board] });
  const server = Deno.serve({
    hostname: config.HOST,
    port: config.PORT,
    onListen: ({ hostname, port }) =>
      runtime.logger.info("api listening", { url: `http://${hostname}:${port}/` }),
  }, app.fetch);
  onShutdown(runtime.logger, async () => {
    await server.shutdown();
    await board.close();
    await runtime.close();
  });
}
