/** GET /events: Server-Sent Events with a snapshot of every job as it changes. */
import { Hono } from "hono";
import { streamSSE } from "hono/streaming";
import type { AppDeps, AppEnv } from "../app.ts";
import type { JobEvent } from "../../shared/jobs/events.ts";
import { canSee, principalOf } from "../auth.ts";

const HEARTBEAT_MS = 15_000;

/** Routes mounted under the API prefix. */
export function eventRoutes(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.get("/events", (c) => {
    const lastId = c.req.header("last-event-id") ?? c.req.query("last_event_id");
    const principal = principalOf(c);
    const visible = (event: JobEvent) =>
      event.type !== "job" || canSee(principal, { owner_key_id: event.owner });
    c.header("Cache-Control", "no-store");
    c.header("X-Accel-Buffering", "no");
    return streamSSE(c, async (stream) => {
      const queue: JobEvent[] = [];
      let wake: (() => void) | undefined;
      const unsubscribe = deps.events.subscribe((event) => {
        if (!visible(event)) return;
        queue.push(event);
        wake?.();
      });
      stream.onAbort(() => {
        unsubscribe();
        wake?.();
      });
      try {
        await stream.writeSSE({ event: "ready", data: "{}", retry: 2000 });
        if (lastId) {
          const missed = (await deps.events.replay(lastId)).filter(visible);
          queue.unshift(...missed);
        }
        while (!stream.aborted && !stream.closed) {
          while (queue.length > 0) {
            const event = queue.shift()!;
            await stream.writeSSE({
              event: event.type,
              id: event.cursor,
              data: JSON.stringify(event.type === "job" ? event.job : { id: event.id }),
            });
          }
          await new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, HEARTBEAT_MS);
            wake = () => {
              clearTimeout(timer);
              resolve();
            };
          });
          wake = undefined;
          if (queue.length === 0 && !stream.aborted) await stream.write(": ping\n\n");
        }
      } finally {
        unsubscribe();
      }
    });
  });
  return app;
}
