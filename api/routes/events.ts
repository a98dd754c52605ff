/**
 * GET /events: Server-Sent Events with a snapshot of every job as it changes. A stream carries
 * only the jobs its key may see (deletions included) and ends when its key is revoked: at once on
 * the revocation's notification, or at the next key check (every HEARTBEAT_MS) if that was lost.
 * When the process stops, every stream ends first with a `shutdown` event (`retry` 1 s), so the
 * server can drain at once and browsers reconnect to whichever instance answers next.
 */
import { Hono } from "hono";
import { streamSSE } from "hono/streaming";
import type { AppDeps, AppEnv } from "../app.ts";
import { isKeyActive } from "../../shared/auth/api_keys.ts";
import type { JobEvent } from "../../shared/jobs/events.ts";
import { canSee, principalOf } from "../auth.ts";
import { takeStreamSlot } from "../limits.ts";

const HEARTBEAT_MS = 15_000;
/** How soon a browser reconnects after the stream ends (the SSE `retry` field, ms). */
export const RECONNECT_MS = 1000;

/** Routes mounted under the API prefix. */
export function eventRoutes(deps: AppDeps): Hono<AppEnv> {
  const heartbeatMs = deps.eventHeartbeatMs ?? HEARTBEAT_MS;
  const app = new Hono<AppEnv>();
  app.get("/events", async (c) => {
    const lastId = c.req.header("last-event-id") ?? c.req.query("last_event_id");
    const principal = principalOf(c);
    const keyId = principal.key?.id ?? null;
    const log = c.get("logger");
    const visible = (event: JobEvent) => canSee(principal, { owner_key_id: event.owner });
    const slot = await takeStreamSlot(c, deps.security, log);
    c.header("Cache-Control", "no-store");
    c.header("X-Accel-Buffering", "no");
    return streamSSE(c, async (stream) => {
      const queue: JobEvent[] = [];
      let wake: (() => void) | undefined;
      let revoked = false;
      let stopping = false;
      const endForRevocation = () => {
        if (revoked) return;
        revoked = true;
        queue.length = 0; // nothing more reaches a revoked key, not even what was queued
        log.info("event stream ended: its key was revoked", { keyId });
        wake?.();
      };
      const unsubscribe = deps.events.subscribe((event) => {
        if (revoked || !visible(event)) return;
        queue.push(event);
        wake?.();
      }, {
        keyId,
        onRevoked: endForRevocation,
        onShutdown: () => {
          stopping = true;
          wake?.();
        },
      });
      stream.onAbort(() => {
        unsubscribe();
        wake?.();
      });
      let wroteAt = Date.now();
      /** Re-checks the key and renews the stream's slot, once per heartbeat period. */
      let checkedAt = Date.now();
      const check = async () => {
        checkedAt = Date.now();
        await slot.renew();
        if (keyId === null) return;
        try {
          if (!await isKeyActive(deps.db, keyId)) endForRevocation();
        } catch (err) {
          log.warn("cannot re-check the key of an event stream", { err });
        }
      };
      const open = () => !revoked && !stopping && !stream.aborted && !stream.closed;
      try {
        await stream.writeSSE({ event: "ready", data: "{}", retry: RECONNECT_MS });
        if (lastId) {
          const missed = (await deps.events.replay(lastId)).filter(visible);
          if (!revoked) queue.unshift(...missed);
        }
        while (open()) {
          while (queue.length > 0 && open()) {
            const event = queue.shift()!;
            await stream.writeSSE({
              event: event.type,
              id: event.cursor,
              data: JSON.stringify(event.type === "job" ? event.job : { id: event.id }),
            });
            wroteAt = Date.now();
          }
          await new Promise<void>((resolve) => {
            const due = Math.min(checkedAt, wroteAt) + heartbeatMs;
            const timer = setTimeout(resolve, Math.max(0, due - Date.now()));
            wake = () => {
              clearTimeout(timer);
              resolve();
            };
          });
          wake = undefined;
          if (Date.now() - checkedAt >= heartbeatMs) await check();
          if (Date.now() - wroteAt >= heartbeatMs && queue.length === 0 && open()) {
            await stream.write(": ping\n\n");
            wroteAt = Date.now();
          }
        }
        if (stopping && !stream.aborted && !stream.closed) {
          await stream.writeSSE({
            event: "shutdown",
            data: JSON.stringify({ reconnect_ms: RECONNECT_MS }),
            retry: RECONNECT_MS,
          });
        }
      } finally {
        unsubscribe();
        await slot.release();
      }
    });
  });
  return app;
}
