/** GET /models and GET /models/{owner}/{name} on the real app, Postgres and the fake Replicate. */
import assert from "node:assert/strict";
import { createTestDeps } from "../../shared/testing/app_deps.ts";
import { createApp } from "../app.ts";
import { withReplicate } from "../app_testing.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

Deno.test({
  name: "models: a local model describes its inputs like any other",
  ...opts,
  fn: async () => {
    const deps = await createTestDeps();
    try {
      const app = createApp(deps);
      const res = await app.request("/api/v1/models/local/aurora");
      assert.equal(res.status, 200);
      const card = await res.json();
      assert.equal(card.id, "local/aurora");
      assert.equal(card.provider, "local");
      assert.equal(card.version, null);
      assert.equal(card.input_schema.type, "object");
      assert.equal(card.input_schema.properties.image.format, "uri");
      assert.deepEqual(Object.keys(card.input_schema.properties).slice(0, 3), [
        "prompt",
        "negative_prompt",
        "image",
      ]);
      const unknown = await app.request("/api/v1/models/local/nope");
      assert.equal(unknown.status, 404);
      assert.match((await unknown.json()).error.message, /Unknown local model local\/nope/);
      const bad = await app.request("/api/v1/models/UP/Case");
      assert.equal(bad.status, 404);
      // Replicate without a token: 422 naming the variable, as for a submit.
      const off = await app.request("/api/v1/models/black-forest-labs/flux-schnell");
      assert.equal(off.status, 422);
      assert.match((await off.json()).error.message, /set REPLICATE_API_TOKEN/);
    } finally {
      await deps.cleanup();
    }
  },
});

Deno.test({
  name: "models: a Replicate model's card, a pinned version, 404 and the outage answers",
  ...opts,
  fn: () =>
    withReplicate(async (_deps, app, fake) => {
      const res = await app.request("/api/v1/models/acme/painter");
      assert.equal(res.status, 200);
      const card = await res.json();
      assert.equal(card.id, "acme/painter");
      assert.equal(card.provider, "replicate");
      assert.match(card.version, /^[0-9a-f]{64}$/);
      assert.equal(card.cover_image_url, "https://replicate.delivery/fake/acme-painter.webp");
      // The enum came through allOf/$ref; x-order is kept and is the order of the properties.
      assert.equal(card.input_schema.properties.aspect_ratio.enum[1], "16:9");
      const orders = Object.values(card.input_schema.properties).map((p) =>
        (p as Record<string, number>)["x-order"]
      );
      assert.deepEqual(orders, [...orders].sort((a, b) => a - b));
      const pinned = await app.request(`/api/v1/models/acme/painter:${card.version}`);
      assert.equal(pinned.status, 200);
      assert.equal((await pinned.json()).version, card.version);

      fake.modelNotFound.add("acme/ghost");
      const missing = await app.request("/api/v1/models/acme/ghost");
      assert.equal(missing.status, 404);
      assert.equal(
        (await missing.json()).error.message,
        "Model acme/ghost was not found at Replicate",
      );
      fake.failNextModelGets(1, 502);
      const down = await app.request("/api/v1/models/acme/never-seen");
      assert.equal(down.status, 503);
      assert.match((await down.json()).error.message, /status 502/);
    }),
});

Deno.test({
  name: "models: the list has the curated models and recent ones, covers once known",
  ...opts,
  fn: () =>
    withReplicate(async (_deps, app, fake) => {
      const first = await (await app.request("/api/v1/models")).json();
      assert.equal(first.custom_models, true);
      const flux = first.models.find((m: { id: string }) =>
        m.id === "black-forest-labs/flux-schnell"
      );
      assert.equal(flux.source, "curated");
      assert.equal(flux.title, "FLUX.1 [schnell]");
      assert.ok(first.models.some((m: { id: string }) => m.id === "google/nano-banana"));
      assert.ok(first.models.some((m: { source: string }) => m.source === "local"));
      // The curated cards are fetched in the background; the next list shows their covers.
      for (let i = 0; i < 50 && fake.requestsTo("GET", /^\/v1\/models\//).length < 7; i++) {
        await new Promise((r) => setTimeout(r, 20));
      }
      await new Promise((r) => setTimeout(r, 100));
      const second = await (await app.request("/api/v1/models")).json();
      const flux2 = second.models.find((m: { id: string }) =>
        m.id === "black-forest-labs/flux-schnell"
      );
      assert.equal(
        flux2.cover_image_url,
        "https://replicate.delivery/fake/black-forest-labs-flux-schnell.webp",
      );
      // A model used by a recent job joins the list.
      const submit = await app.request("/api/v1/generate", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ prompt: "p", model: "acme/recent-one" }),
      });
      assert.equal(submit.status, 202, await submit.text());
      const third = await (await app.request("/api/v1/models")).json();
      const recent = third.models.find((m: { id: string }) => m.id === "acme/recent-one");
      assert.equal(recent.source, "recent");
      assert.equal(recent.cover_image_url, "https://replicate.delivery/fake/acme-recent-one.webp");
    }),
});
