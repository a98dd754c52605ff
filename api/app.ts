/** Builds the HTTP application from its dependencies (no I/O at import time). */
import { Hono } from "hono";
import type { Db } from "../shared/db.ts";
import type { Logger } from "../shared/logger.ts";
import type { Metrics } from "../shared/metrics.ts";
import type { ProviderRegistry } from "../shared/providers/registry.ts";
import type { JobQueue } from "../shared/queue/queue.ts";
import type { Storage } from "../shared/storage.ts";
import { errorBody, handleError } from "./http_errors.ts";
import type { JobEventHub } from "../shared/job_events.ts";
import { cors } from "hono/cors";
import { requestContext, securityHeaders } from "./middleware.ts";
import { eventRoutes } from "./routes/events.ts";
import { healthRoutes } from "./routes/health.ts";
import { imageRoutes } from "./routes/images.ts";
import { jobRoutes } from "./routes/jobs.ts";
import { metricsRoutes } from "./routes/metrics.ts";
import { modelRoutes } from "./routes/models.ts";
import { statsRoutes } from "./routes/stats.ts";
import { uiRoutes } from "./routes/ui.ts";

export interface AppDeps {
  db: Db;
  queue: JobQueue;
  providers: ProviderRegistry;
  storage: Storage;
  logger: Logger;
  events: JobEventHub;
  /** This process's metrics; /metrics is served when present. */
  metrics?: Metrics;
  config: { API_V1_PREFIX: string; CORS_ORIGINS?: string[] };
  /** Folder with the built UI (index.html, assets/); defaults to ui/dist beside the code. */
  uiDir?: string;
}

export type AppEnv = { Variables: { requestId: string; logger: Logger } };

/** Creates a fresh Hono app wired to `deps`. */
export function createApp(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const prefix = deps.config.API_V1_PREFIX;
  app.use("*", requestContext(deps.logger, deps.metrics));
  app.use("*", securityHeaders());
  const origins = deps.config.CORS_ORIGINS ?? [];
  if (origins.length > 0) {
    app.use(
      `${prefix}/*`,
      cors({
        origin: origins,
        allowMethods: ["GET", "POST", "DELETE", "OPTIONS"],
        allowHeaders: ["Content-Type", "Authorization", "Idempotency-Key", "X-Request-Id"],
        exposeHeaders: ["Location", "X-Request-Id", "X-Total-Count"],
        maxAge: 600,
      }),
    );
  }
  app.route(prefix, jobRoutes(deps));
  app.route(prefix, modelRoutes(deps));
  app.route(prefix, healthRoutes(deps));
  app.route(prefix, statsRoutes(deps));
  app.route(prefix, eventRoutes(deps));
  app.route("/images", imageRoutes(deps));
  app.route("/", metricsRoutes(deps));
  app.route("/", uiRoutes(deps));
  app.notFound((c) =>
    c.json(errorBody("not_found", `No route for ${c.req.method} ${c.req.path}`), 404)
  );
  app.onError((err, c) => handleError(err, c, c.get("logger") ?? deps.logger));
  return app;
}
