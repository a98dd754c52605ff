/**
 * Who is calling: with AUTH_MODE=api_key every API call needs `Authorization: Bearer <key>`.
 * `?access_token=` is taken only on `GET {prefix}/events` (EventSource cannot send headers) and
 * refused everywhere else: a key in a URL ends up in proxy logs and browser history. Each job
 * belongs to its key; an admin key sees all. With AUTH_MODE=none the API is open.
 */
import type { Context, MiddlewareHandler } from "hono";
import { type ApiKey, findActiveKey } from "../shared/auth/api_keys.ts";
import type { AuthMode } from "../shared/config.ts";
import type { Db } from "../shared/db/db.ts";
import { AppError, UnauthorizedError } from "../shared/errors.ts";
import type { JobRow } from "../shared/jobs/repo.ts";
import type { RateLimiter } from "../shared/auth/rate_limit.ts";
import type { AppEnv } from "./app.ts";

/** The caller, as the routes see it. */
export interface Principal {
  /** The key (null when the API is open). */
  key: ApiKey | null;
  /** Sees and controls every job. */
  admin: boolean;
  /** Rate-limit subject: the key id, or the client address when open. */
  subject: string;
}

export interface AuthOptions {
  mode: AuthMode;
  db: Db;
  /** Paths (exact, after the prefix) that need no key. */
  publicPaths: Set<string>;
  /** The one path whose GET may carry the key as `?access_token=` (the event stream). */
  queryTokenPath?: string;
}

/**
 * Extracts the presented key from the Authorization header, or from the access_token query where
 * `queryAllowed`; a query token anywhere else is refused (401), never silently ignored.
 */
export function presentedKey(c: Context, queryAllowed = false): string | undefined {
  const query = c.req.query("access_token");
  if (query !== undefined && !queryAllowed) {
    c.header("WWW-Authenticate", 'Bearer realm="darkroom", error="invalid_request"');
    throw new UnauthorizedError(
      "API keys are not accepted in the URL here (access_token works only for the event " +
        "stream): send Authorization: Bearer <key>",
    );
  }
  const header = c.req.header("authorization");
  if (header) {
    const m = /^Bearer\s+(\S+)$/i.exec(header.trim());
    return m ? m[1] : "";
  }
  return query;
}

/** The client's address (for per-IP limits when the API is open). */
export function clientAddress(c: Context): string {
  const info = (c.env as { remoteAddr?: { hostname?: string } } | undefined)?.remoteAddr;
  return info?.hostname ?? "local";
}

/** Middleware setting `principal` on the context (401 JSON for a missing, wrong or revoked key). */
export function authenticate(options: AuthOptions): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    if (options.mode === "none") {
      c.set("principal", { key: null, admin: true, subject: `ip:${clientAddress(c)}` });
      return await next();
    }
    const token = presentedKey(
      c,
      c.req.method === "GET" && c.req.path === options.queryTokenPath,
    );
    if (token === undefined) {
      if (options.publicPaths.has(c.req.path)) return await next();
      c.header("WWW-Authenticate", 'Bearer realm="darkroom"');
      throw new UnauthorizedError("An API key is required: send Authorization: Bearer <key>");
    }
    const key = token ? await findActiveKey(options.db, token) : null;
    if (!key) {
      c.header("WWW-Authenticate", 'Bearer realm="darkroom", error="invalid_token"');
      throw new UnauthorizedError("The API key is not valid or has been revoked");
    }
    c.set("principal", { key, admin: key.is_admin, subject: `key:${key.id}` });
    await next();
  };
}

/** The principal set by `authenticate`; without one (a public path), a caller with no rights. */
export function principalOf(c: Context<AppEnv>): Principal {
  return c.get("principal") ??
    { key: null, admin: false, subject: "anonymous" };
}

/** True when the principal may see the job (its own, or any for admins). */
export function canSee(principal: Principal, job: Pick<JobRow, "owner_key_id">): boolean {
  return principal.admin || (principal.key !== null && job.owner_key_id === principal.key.id);
}

/** Requires an admin key when auth is on. */
export function requireAdmin(mode: AuthMode): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    if (mode !== "none" && !principalOf(c).admin) {
      throw new AppError(403, "forbidden", "This needs an admin API key");
    }
    await next();
  };
}

/**
 * Applies a per-minute limit of `kind` (submits or reads) and sets the RateLimit-* headers; 429
 * with Retry-After beyond it.
 */
export async function enforceRate(
  c: Context,
  limiter: RateLimiter,
  subject: string,
  perMinute: number,
  kind: "submit" | "read" = "submit",
): Promise<void> {
  if (perMinute <= 0) return;
  let d;
  try {
    d = await limiter.hit(`${kind}:${subject}`, perMinute, 60);
  } catch {
    throw new AppError(
      503,
      "service_unavailable",
      "The rate limiter is unavailable; try again shortly",
    );
  }
  c.header("RateLimit-Limit", String(d.limit));
  c.header("RateLimit-Remaining", String(d.remaining));
  c.header("RateLimit-Reset", String(d.resetS));
  c.header("RateLimit-Policy", `${perMinute};w=60`);
  if (!d.allowed) {
    c.header("Retry-After", String(d.resetS));
    throw new AppError(
      429,
      "rate_limited",
      `Too many ${kind}s: at most ${perMinute} a minute; try again in ${d.resetS} s`,
    );
  }
}
