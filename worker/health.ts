/** The worker's small HTTP face: GET /health (database and queue reachable) and GET /metrics. */
import { sql } from "../shared/db/db.ts";
import type { Db } from "../shared/db/db.ts";
import type { Metrics } from "../shared/metrics.ts";
import type { JobQueue } from "../shared/queue/queue.ts";
import { withTimeout } from "../shared/timeout.ts";
import type { RunningWorker } from "./worker.ts";

/** Builds the request handler. */
export function workerHealthHandler(
  deps: { db: Db; queue: JobQueue; metrics: Metrics },
  worker: RunningWorker,
): (req: Request) => Promise<Response> {
  return async (req) => {
    const path = new URL(req.url).pathname;
    if (path === "/metrics") {
      return new Response(await deps.metrics.render(), {
        headers: { "content-type": deps.metrics.contentType },
      });
    }
    if (path !== "/health") {
      return Response.json({ error: { code: "not_found", message: "Not found" } }, { status: 404 });
    }
    const check = async (fn: () => Promise<unknown>) => {
      try {
        await withTimeout(fn(), 2000, "timeout");
        return true;
      } catch {
        return false;
      }
    };
    const [database, queue] = await Promise.all([
      check(() => deps.db.query(sql`SELECT 1`)),
      check(() => deps.queue.ping()),
    ]);
    const ok = database && queue;
    return Response.json(
      { status: ok ? "ok" : "unavailable", worker_id: worker.id, checks: { database, queue } },
      { status: ok ? 200 : 503 },
    );
  };
}
