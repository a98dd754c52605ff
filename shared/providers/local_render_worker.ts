/// <reference lib="deno.worker" />
/** Entry module of the render thread (see local_render_thread.ts). */
import { serveRenders } from "./local_render_thread.ts";

serveRenders(self as unknown as Parameters<typeof serveRenders>[0]);
