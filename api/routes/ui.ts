/** The browser UI: the HTML shell at `/` (the bundled islands arrive with the UI build). */
import { Hono } from "hono";
import type { AppDeps, AppEnv } from "../app.ts";

const PLACEHOLDER = new URL("../../ui/index.html", import.meta.url);

/** Routes mounted at the root. */
export function uiRoutes(_deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  let page: string | undefined;
  app.get("/", async (c) => {
    page ??= await Deno.readTextFile(PLACEHOLDER);
    c.header("Cache-Control", "no-cache");
    return c.html(page);
  });
  return app;
}
