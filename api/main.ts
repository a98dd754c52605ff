/** `deno task api`: the HTTP server. */
import { loadConfigOrExit } from "../shared/config.ts";
import { onShutdown, openRuntime } from "../shared/runtime.ts";
import { createApp } from "./app.ts";

if (import.meta.main) {
  const config = await loadConfigOrExit();
  let runtime;
  try {
    runtime = openRuntime(config, "api");
  } catch (err) {
    console.error((err as Error).message);
    Deno.exit(1);
  }
  await runtime.events.start();
  const app = createApp(runtime);
  const server = Deno.serve({
    hostname: config.HOST,
    port: config.PORT,
    onListen: ({ hostname, port }) =>
      runtime.logger.info("api listening", { url: `http://${hostname}:${port}/` }),
  }, app.fetch);
  onShutdown(runtime.logger, async () => {
    await server.shutdown();
    await runtime.close();
  });
}
