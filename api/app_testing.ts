/** Test helpers for the app: a fresh app on real Postgres and Redis per test, and JSON posts. */
import { createTestDeps, type TestDeps } from "../shared/testing/app_deps.ts";
import { createApp } from "./app.ts";

export type TestApp = ReturnType<typeof createApp>;

/** Registers a test that gets real dependencies and an app built on them, cleaned up after. */
export function withApp(name: string, fn: (deps: TestDeps, app: TestApp) => Promise<void>) {
  Deno.test({
    name,
    sanitizeOps: false,
    sanitizeResources: false,
    fn: async () => {
      const deps = await createTestDeps();
      try {
        await fn(deps, createApp(deps));
      } finally {
        await deps.cleanup();
      }
    },
  });
}

/** POST /api/v1/generate with a JSON body (a string is sent as it is). */
export function postGenerate(
  app: TestApp,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<Response> {
  return Promise.resolve(app.request("/api/v1/generate", {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  }));
}
