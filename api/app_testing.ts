/** Test helpers for the app: a fresh app on real Postgres and Redis per test, and JSON posts. */
import { openModelCatalogue } from "../shared/models/open.ts";
import { createReplicateProvider } from "../shared/providers/replicate.ts";
import { createTestDeps, type TestDeps } from "../shared/testing/app_deps.ts";
import { type FakeReplicate, startFakeReplicate } from "../shared/testing/fake_replicate.ts";
import { type AppDeps, createApp } from "./app.ts";

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

/** The app with Replicate configured against a fake (provider and model catalogue). */
export async function withReplicate(
  fn: (deps: TestDeps, app: ReturnType<typeof createApp>, fake: FakeReplicate) => Promise<void>,
  options: {
    localStepMs?: number;
    config?: Partial<AppDeps["config"]>;
    security?: AppDeps["security"];
  } = {},
): Promise<void> {
  const fake = await startFakeReplicate({ latencyMs: 50 });
  const deps = await createTestDeps({
    localStepMs: options.localStepMs,
    replicate: createReplicateProvider({ token: fake.token, baseUrl: fake.url, timeoutMs: 5000 }),
  });
  try {
    const models = openModelCatalogue({
      REPLICATE_API_TOKEN: fake.token,
      REPLICATE_BASE_URL: fake.url,
      PROVIDER_TIMEOUT_MS: 5000,
      MODEL_SCHEMA_TTL_S: 3600,
    }, deps);
    const app = createApp({
      ...deps,
      models,
      security: options.security,
      config: { ...deps.config, ...options.config },
    });
    await fn(deps, app, fake);
  } finally {
    await deps.cleanup();
    await fake.close();
  }
}
