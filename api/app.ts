/** Builds the HTTP application from its dependencies (no I/O at import time). */
import { type Context, Hono } from "hono";
import type { Db } from "../shared/db/db.ts";
import type { Logger } from "../shared/logger.ts";
import type { Metrics } from "../shared/metrics.ts";
import type { Pricing } from "../shared/spend/pricing.ts";
import type { RateLimiter } from "../shared/auth/rate_limit.ts";
import type { AuthMode } from "../shared/config.ts";
import { authenticate, type Principal, requireAdmin } from "./auth.ts";
import { limitReads } from "./limits.ts";
import type { ProviderRegistry } from "../shared/providers/registry.ts";
import type { JobQueue } from "../shared/queue/queue.ts";
import type { Storage } from "../shared/storage/storage.ts";
import { createModelCatalogue, type ModelCatalogue } from "../shared/models/catalogue.ts";
import { createUploadSigner, type UploadSigner } from "../shared/uploads/signing.ts";
import { errorBody, handleError } from "./http_errors.ts";
import type { JobEventHub } from "../shared/jobs/events.ts";
import { createJobTimings, type JobTimings } from "../shared/jobs/timing.ts";
import { cors } from "hono/cors";
import { requestContext, securityHeaders } from "./middleware.ts";
import { compressResponses } from "./compression.ts";
import { eventRoutes } from "./routes/events.ts";
import { healthRoutes } from "./routes/health.ts";
import { imageRoutes } from "./routes/images.ts";
import { jobRoutes } from "./routes/jobs.ts";
import { libraryRoutes } from "./routes/library.ts";
import { docsRoutes } from "./routes/docs.ts";
import { meRoutes } from "./routes/me.ts";
import { webhookRoutes } from "./routes/webhooks.ts";
import { falWebhookRoutes } from "./routes/fal_webhooks.ts";
import { metricsRoutes } from "./routes/metrics.ts";
import { modelRoutes } from "./routes/models.ts";
import { statsRoutes } from "./routes/stats.ts";
import { usageRoutes } from "./routes/usage.ts";
import { uiRoutes } from "./routes/ui.ts";
import { uploadFileRoutes, uploadRoutes } from "./routes/uploads.ts";

export interface AppDeps {
  db: Db;
  queue: JobQueue;
  providers: ProviderRegistry;
  storage: Storage;
  logger: Logger;
  events: JobEventHub;
  /** ETA and queue place of unfinished jobs (made from `db` when omitted). */
  timings?: JobTimings;
  /** Model cards and input validators; local models only when omitted. */
  models?: ModelCatalogue;
  /** Signs upload URLs for providers (one from the database's key when omitted). */
  uploadSigner?: UploadSigner;
  /** This process's metrics; /metrics is served when present. */
  metrics?: Metrics;
  /** Prices for estimates (budgets); the built-in table when omitted. */
  pricing?: Pricing;
  /** Access control and limits; an open API without limits when omitted. */
  security?: Security;
  config: {
    API_V1_PREFIX: string;
    CORS_ORIGINS?: string[];
    REPLICATE_WEBHOOK_SECRET?: string;
    /** fal is on (POST /webhooks/fal verifies deliveries with FAL_JWKS_URL's keys). */
    FAL_KEY?: string;
    FAL_JWKS_URL?: string;
    WEBHOOK_SECRET?: string;
    WEBHOOK_ALLOW_HOSTS?: string[];
    /** How images reach browsers (see api/routes/images.ts); proxy when omitted. */
    IMAGE_DELIVERY?: "proxy" | "redirect";
    PUBLIC_IMAGE_BASE_URL?: string;
    IMAGE_URL_TTL_S?: number;
    /** Uploads: largest image (bytes), life without a job (seconds), URL signing key. */
    UPLOAD_MAX_BYTES?: number;
    UPLOAD_TTL_S?: number;
    UPLOAD_URL_SECRET?: string;
    /** `"dedupe": true` reuses an identical completed job at most this old (seconds). */
    DEDUPE_WINDOW_S?: number;
    /** Submits that may wait for their job at once (`Prefer: wait`). */
    MAX_WAITING_SUBMITS?: number;
    /** A request body must arrive within this long (408 otherwise); 30 s when omitted. */
    BODY_TIMEOUT_S?: number;
  };
  /**
   * Apps of their own served under a path (Bull Board, in the BullMQ shape). Their routes stay
   * out of this app's router: Bull Board has patterns Hono's RegExpRouter does not take, and one
   * of them in this app would send every request through the slower TrieRouter.
   */
  mounted?: { path: string; app: Hono }[];
  /** Folder with the built UI (index.html, assets/); defaults to ui/dist beside the code. */
  uiDir?: string;
  /** How often an event stream pings when idle and re-checks its key (ms); 15 s by default. */
  eventHeartbeatMs?: number;
}

/** The service's version (reported in the OpenAPI document). */
export const VERSION = "1.0.0";

export interface Security {
  authMode: AuthMode;
  limiter: RateLimiter;
  /** Submits per minute per key (per client address when open); 0 = unlimited. */
  submitsPerMinute: number;
  /** Unfinished jobs one key may have; 0 = unlimited. */
  maxActiveJobs: number;
  /** GETs under the prefix per minute per key (per client address when open); 0 = unlimited. */
  readsPerMinute: number;
  /** Open event streams per key (per client address when open); 0 = unlimited. */
  maxStreamsPerKey: number;
}

/** What the middleware sets on each request's context, for the routes and the error handler. */
export type AppEnv = {
  Variables: {
    /** Set by requestContext (from a sane X-Request-Id, or a new UUID). */
    requestId: string;
    /** The request's logger (carries requestId); set by requestContext. */
    logger: Logger;
    /** The caller, set by authenticate; absent on public paths called without a key. */
    principal?: Principal;
    /** How long the request body may take to arrive (ms; api/body.ts); set by requestContext. */
    bodyTimeoutMs?: number;
  };
};

/** Creates a fresh Hono app wired to `deps`. */
export function createApp(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const prefix = deps.config.API_V1_PREFIX;
  app.use(
    "*",
    requestContext(deps.logger, deps.metrics, {
      bodyTimeoutMs: deps.config.BODY_TIMEOUT_S === undefined
        ? undefined
        : deps.config.BODY_TIMEOUT_S * 1000,
    }),
  );
  app.use("*", securityHeaders());
  app.use("*", compressResponses());
  const origins = deps.config.CORS_ORIGINS ?? [];
  if (origins.length > 0) {
    app.use(
      `${prefix}/*`,
      cors({
        origin: origins,
        allowMethods: ["GET", "POST", "PATCH", "DELETE", "OPTIONS"],
        allowHeaders: [
          "Content-Type",
          "Authorization",
          "Idempotency-Key",
          "X-Request-Id",
          "Prefer",
        ],
        exposeHeaders: [
          "Location",
          "X-Request-Id",
          "X-Total-Count",
          "Preference-Applied",
          "Deduplicated",
          "X-Total-Count-Estimated",
          "X-Next-Cursor",
          "Link",
        ],
        maxAge: 600,
      }),
    );
  }
  const authMode = deps.security?.authMode ?? "none";
  const auth = authenticate({
    mode: authMode,
    db: deps.db,
    publicPaths: new Set(
      ["/health", "/ready", "/me", "/webhooks/replicate", "/webhooks/fal", "/openapi.json", "/docs"]
        .map((p) => prefix + p),
    ),
    queryTokenPath: `${prefix}/events`,
  });
  app.use(`${prefix}/*`, async (c, next) => {
    // Docs assets are public; everything else under the prefix passes through authentication.
    if (c.req.path.startsWith(`${prefix}/docs/`)) return await next();
    return await auth(c, next);
  });
  if (deps.security && deps.security.readsPerMinute > 0) {
    app.use(`${prefix}/*`, limitReads(deps.security, { prefix, logger: deps.logger }));
  }
  // An upload's image: a signed URL (a provider) needs no key; anything else is checked.
  app.use("/uploads/*", async (c, next) => {
    if (c.req.query("signature") !== undefined) return await next();
    return await auth(c, next);
  });
  app.use("/metrics", auth, requireAdmin(authMode));
  app.use("/admin/*", auth, requireAdmin(authMode));
  app.route(prefix, meRoutes(deps));
  app.route(
    prefix,
    webhookRoutes({
      db: deps.db,
      logger: deps.logger,
      secret: deps.config.REPLICATE_WEBHOOK_SECRET,
    }),
  );
  app.route(
    prefix,
    falWebhookRoutes({
      db: deps.db,
      logger: deps.logger,
      falKey: deps.config.FAL_KEY,
      jwksUrl: deps.config.FAL_JWKS_URL,
    }),
  );
  const models = deps.models ?? createModelCatalogue({ db: deps.db, logger: deps.logger });
  const uploads = {
    ...deps,
    signer: deps.uploadSigner ??
      createUploadSigner({ db: deps.db, secret: deps.config.UPLOAD_URL_SECRET }),
  };
  const timings = deps.timings ?? createJobTimings(deps.db, { logger: deps.logger });
  app.route(prefix, jobRoutes({ ...deps, models, timings }));
  app.route(prefix, libraryRoutes({ ...deps, timings }));
  app.route(prefix, modelRoutes({ ...deps, models }));
  app.route(prefix, uploadRoutes(uploads));
  app.route(prefix, healthRoutes(deps));
  app.route(prefix, statsRoutes(deps));
  app.route(prefix, usageRoutes(deps));
  app.route(prefix, eventRoutes(deps));
  app.route("/images", imageRoutes(deps));
  app.route("/uploads", uploadFileRoutes(uploads));
  app.route("/", metricsRoutes(deps));
  for (const { path, app: sub } of deps.mounted ?? []) {
    // Answered through this context, so the headers set before the handler are kept.
    const serve = async (c: Context<AppEnv>) => {
      const res = await sub.fetch(c.req.raw);
      return c.newResponse(res.body, res);
    };
    app.all(path, serve);
    app.all(`${path}/*`, serve);
  }
  app.route(
    "/",
    docsRoutes({
      prefix,
      version: VERSION,
      adminQueuesPath: deps.mounted?.[0]?.path,
    }),
  );
  app.route("/", uiRoutes(deps));
  app.notFound((c) =>
    c.json(errorBody("not_found", `No route for ${c.req.method} ${c.req.path}`), 404)
  );
  app.onError((err, c) => handleError(err, c, c.get("logger") ?? deps.logger));
  return app;
}
