/** GET /me: whether the API needs a key, and which key the caller presented (for the UI). */
import { Hono } from "hono";
import type { AppDeps, AppEnv } from "../app.ts";
import { principalOf } from "../auth.ts";

/** Routes mounted under the API prefix. */
export function meRoutes(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.get("/me", (c) => {
    const principal = principalOf(c);
    const required = (deps.security?.authMode ?? "none") !== "none";
    return c.json({
      auth_required: required,
      authenticated: !required || principal.key !== null,
      key: principal.key
        ? { name: principal.key.name, prefix: principal.key.prefix, admin: principal.key.is_admin }
        : null,
    });
  });
  return app;
}
