import assert from "node:assert/strict";
import { ProviderError } from "../errors.ts";
import { type FakeReplicate, startFakeReplicate } from "../testing/fake_replicate.ts";
import type { Provider } from "./provider.ts";
import { createProviderRegistry } from "./registry.ts";

const config = {
  REPLICATE_BASE_URL: "https://api.replicate.com/v1",
  PROVIDER_TIMEOUT_MS: 2000,
  LOCAL_STEP_MS: 0,
};

Deno.test("registry: local only without a token; replicate models say what to set", () => {
  const registry = createProviderRegistry({ ...config, REPLICATE_API_TOKEN: undefined });
  assert.equal(registry.byName("replicate"), undefined);
  const r = registry.resolve("black-forest-labs/flux-schnell");
  assert.ok("error" in r && /REPLICATE_API_TOKEN/.test(r.error));
  const local = registry.resolve("local/aurora");
  assert.ok("provider" in local && local.provider.name === "local");
  const unknown = registry.resolve("local/nope");
  assert.ok("error" in unknown && /local\/aurora/.test(unknown.error));
});

/** A registry whose Replicate provider talks to a fake Replicate (closed afterwards). */
function withFakeReplicate(
  name: string,
  extra: Record<string, string>,
  fn: (replicate: Provider, fake: FakeReplicate) => Promise<void>,
): void {
  Deno.test({
    name,
    sanitizeOps: false,
    sanitizeResources: false,
    fn: async () => {
      const fake = await startFakeReplicate({ latencyMs: 0 });
      try {
        const registry = createProviderRegistry({
          ...config,
          REPLICATE_API_TOKEN: fake.token,
          REPLICATE_BASE_URL: fake.url,
          ...extra,
        });
        await fn(registry.byName("replicate")!, fake);
      } finally {
        await fake.close();
      }
    },
  });
}

withFakeReplicate(
  "registry: output downloads refuse private addresses but allow the provider's own host",
  {},
  async (replicate) => {
    for (
      const url of [
        "http://169.254.169.254/latest/meta-data/",
        "https://10.0.0.8/out.png",
        "https://[::1]/out.png",
        "file:///etc/passwd",
      ]
    ) {
      const err = await replicate.openOutput(url).then(() => null, (e) => e);
      assert.ok(err instanceof ProviderError, url);
      assert.equal(err.retryable, false, url);
    }
    const prediction = await replicate.create({ model: "a/b", prompt: "x", parameters: {} });
    let done = await replicate.get(prediction.id);
    while (done.status !== "succeeded") done = await replicate.get(prediction.id);
    const res = await replicate.openOutput(done.output[0]);
    assert.equal(res.status, 200);
    await res.body?.cancel();
  },
);

withFakeReplicate(
  "registry: with PUBLIC_BASE_URL, predictions ask Replicate to push updates to us",
  { PUBLIC_BASE_URL: "https://darkroom.example.com", API_V1_PREFIX: "/api/v1" },
  async (replicate, fake) => {
    await replicate.create({ model: "a/b", prompt: "x", parameters: {} });
    const [create] = fake.requestsTo("POST", "/v1/models/a/b/predictions");
    const body = create.body as { webhook?: string; webhook_events_filter?: string[] };
    assert.equal(body.webhook, "https://darkroom.example.com/api/v1/webhooks/replicate");
    assert.deepEqual(body.webhook_events_filter, ["start", "output", "logs", "completed"]);
  },
);
