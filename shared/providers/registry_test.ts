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

Deno.test("registry: fal models and aliases say what to set when their providers are off", () => {
  const registry = createProviderRegistry({ ...config, REPLICATE_API_TOKEN: undefined });
  const fal = registry.resolve("fal:fal-ai/flux/schnell");
  assert.ok("error" in fal && /set FAL_KEY/.test(fal.error));
  const alias = registry.resolve("flux-schnell");
  assert.ok("error" in alias && /REPLICATE_API_TOKEN or FAL_KEY/.test(alias.error));
  const unknown = registry.resolve("nope");
  assert.ok(
    "error" in unknown && /Unknown model nope/.test(unknown.error) &&
      /flux-schnell/.test(unknown.error),
  );
  // No remote provider: no alias is offered.
  assert.ok(!registry.describe().models.some((m) => m.provider === "route"));
  assert.deepEqual(registry.describe().providers.find((p) => p.name === "fal"), {
    name: "fal",
    configured: false,
    hint: "set FAL_KEY",
  });
});

Deno.test("registry: with FAL_KEY, fal models resolve and aliases go to their configured targets", () => {
  const registry = createProviderRegistry({
    ...config,
    REPLICATE_API_TOKEN: undefined,
    FAL_KEY: "key",
    MODEL_ROUTES: JSON.stringify({ "house-style": ["a/b", "local/aurora"] }),
  });
  const fal = registry.resolve("fal:fal-ai/flux/schnell");
  assert.ok("provider" in fal && fal.provider.name === "fal" && fal.route === undefined);
  // Replicate is off: the alias starts at its fal target.
  const alias = registry.resolve("flux-schnell");
  assert.ok("provider" in alias && alias.provider.name === "fal");
  assert.equal("provider" in alias && alias.route, "flux-schnell");
  const targets = registry.targets!("flux-schnell", { aspect_ratio: "16:9", num_outputs: 2 });
  assert.deepEqual(targets.map((t) => [t.provider.name, t.model, t.parameters]), [
    ["fal", "fal:fal-ai/flux/schnell", { image_size: "landscape_16_9", num_images: 2 }],
  ]);
  // A plain fal model is mapped too; a local one is sent as written.
  assert.deepEqual(registry.targets!("fal:fal-ai/fast-sdxl", { num_outputs: 3 })[0].parameters, {
    num_images: 3,
  });
  assert.deepEqual(registry.targets!("local/aurora", { num_outputs: 3 })[0].parameters, {
    num_outputs: 3,
  });
  const models = registry.describe().models;
  const schnell = models.find((m) => m.id === "flux-schnell");
  assert.equal(schnell?.provider, "route");
  assert.deepEqual(schnell?.targets, [
    { model: "black-forest-labs/flux-schnell", provider: "replicate", configured: false },
    { model: "fal:fal-ai/flux/schnell", provider: "fal", configured: true },
  ]);
  // An alias is offered when one of its targets works here (local included).
  assert.deepEqual(models.find((m) => m.id === "house-style")?.targets?.map((t) => t.configured), [
    false,
    true,
  ]);
  assert.ok(models.some((m) => m.id === "fal:fal-ai/flux/dev" && m.provider === "fal"));
  assert.equal(registry.byName("fal")?.name, "fal");
  assert.deepEqual(registry.circuits?.snapshots().map((s) => s.provider), ["fal"]);
});
