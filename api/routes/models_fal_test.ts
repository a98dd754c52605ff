/**
 * fal models in the catalogue, on the real app, Postgres and the fake Replicate and fal: the card
 * from fal's OpenAPI document, fal inputs checked at submit like Replicate's, and the job saying
 * whether its inputs were checked (`inputs_validated`).
 */
import assert from "node:assert/strict";
import { insertJob } from "../../shared/jobs/repo.ts";
import { openModelCatalogue } from "../../shared/models/open.ts";
import { createProviderRegistry } from "../../shared/providers/registry.ts";
import { createTestDeps, type TestDeps } from "../../shared/testing/app_deps.ts";
import { type FakeFal, startFakeFal } from "../../shared/testing/fake_fal.ts";
import { startFakeReplicate } from "../../shared/testing/fake_replicate.ts";
import { createApp } from "../app.ts";
import { postGenerate, type TestApp } from "../app_testing.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

function withBoth(name: string, fn: (app: TestApp, fal: FakeFal, deps: TestDeps) => Promise<void>) {
  Deno.test({
    name,
    ...opts,
    fn: async () => {
      const replicate = await startFakeReplicate({ latencyMs: 5 });
      const fal = await startFakeFal({ noSchema: ["fal-ai/private-thing"] });
      const base = await createTestDeps();
      try {
        const providers = createProviderRegistry({
          REPLICATE_API_TOKEN: replicate.token,
          REPLICATE_BASE_URL: replicate.url,
          FAL_KEY: fal.key,
          FAL_QUEUE_URL: fal.url,
          FAL_OPENAPI_URL: fal.openapiUrl,
          PROVIDER_TIMEOUT_MS: 5000,
          LOCAL_STEP_MS: 5,
        });
        const deps = { ...base, providers };
        const models = openModelCatalogue({
          REPLICATE_API_TOKEN: replicate.token,
          REPLICATE_BASE_URL: replicate.url,
          PROVIDER_TIMEOUT_MS: 5000,
          MODEL_SCHEMA_TTL_S: 3600,
        }, deps);
        await fn(createApp({ ...deps, models }), fal, deps);
      } finally {
        await base.cleanup();
        await replicate.close();
        await fal.close();
      }
    },
  });
}

async function submitted(app: TestApp, body: Record<string, unknown>) {
  const res = await postGenerate(app, { prompt: "a harbour at dawn", ...body });
  const json = await res.json();
  assert.equal(res.status, 202, JSON.stringify(json));
  const job = await (await app.request(`/api/v1/jobs/${json.job_id}`)).json();
  return job as Record<string, unknown>;
}

withBoth(
  "models: a fal model's card comes from its OpenAPI document, $refs resolved, in order",
  async (app, fal) => {
    const res = await app.request("/api/v1/models/fal:fal-ai/flux/schnell");
    assert.equal(res.status, 200);
    const card = await res.json();
    assert.equal(card.id, "fal:fal-ai/flux/schnell");
    assert.equal(card.provider, "fal");
    assert.equal(card.version, null);
    assert.equal(card.title, "fal-ai/flux/schnell");
    assert.equal(card.description, "FLUX.1 [schnell] on fal");
    assert.equal(card.cover_image_url, null);
    assert.deepEqual(card.input_schema.required, ["prompt"]);
    // fal's x-fal-order-properties became x-order; fields it does not list come last.
    assert.deepEqual(Object.keys(card.input_schema.properties), [
      "prompt",
      "image_size",
      "num_images",
      "seed",
      "output_format",
      "acceleration",
    ]);
    assert.equal(card.input_schema.properties.num_images["x-order"], 2);
    // Self-contained: the ImageSize reference is inlined.
    assert.ok(!JSON.stringify(card.input_schema).includes("$ref"));
    assert.equal(card.input_schema.properties.image_size.anyOf[0].properties.width.type, "integer");
    assert.equal(card.input_schema.components, undefined);
    // Cached: the document is read once.
    assert.equal((await app.request("/api/v1/models/fal:fal-ai/flux/schnell")).status, 200);
    assert.equal(fal.requestsTo("GET", "/api/openapi/queue/openapi.json").length, 1);
    // An endpoint without a subpath is one `owner/name`-shaped path: the same card.
    const sdxl = await app.request("/api/v1/models/fal:fal-ai/fast-sdxl");
    assert.equal(sdxl.status, 200);
    assert.equal((await sdxl.json()).id, "fal:fal-ai/fast-sdxl");
    // No published schema: described with an open schema.
    const open = await app.request("/api/v1/models/fal:fal-ai/private-thing");
    assert.equal(open.status, 200);
    const openCard = await open.json();
    assert.equal(openCard.provider, "fal");
    assert.deepEqual(openCard.input_schema, {
      type: "object",
      properties: {},
      additionalProperties: true,
    });
  },
);

withBoth(
  "generate: fal inputs are checked as they will be sent (422 naming the field)",
  async (app, fal) => {
    const res = await postGenerate(app, {
      prompt: "a harbour",
      model: "fal:fal-ai/flux/schnell",
      parameters: { num_images: 9, acceleration: "warp" },
    });
    assert.equal(res.status, 422);
    const body = await res.json();
    const fields = body.error.details.map((d: { field: string }) => d.field).sort();
    assert.deepEqual(fields, ["parameters.acceleration", "parameters.num_images"]);
    assert.match(JSON.stringify(body.error.details), /4/);
    assert.match(
      JSON.stringify(body.error.details),
      /"none", "regular", "high"|none.*regular.*high/,
    );
    // Replicate's words are mapped to fal's first: num_outputs 9 is num_images 9.
    const mapped = await postGenerate(app, {
      prompt: "a harbour",
      model: "fal:fal-ai/flux/schnell",
      parameters: { num_outputs: 9 },
    });
    assert.equal(mapped.status, 422);
    // A typo is refused, as for Replicate models.
    const typo = await postGenerate(app, {
      prompt: "a harbour",
      model: "fal:fal-ai/flux/schnell",
      parameters: { num_imagse: 2 },
    });
    assert.equal(typo.status, 422);
    assert.equal((await typo.json()).error.details[0].field, "parameters.num_imagse");
    // Nothing reached fal.
    assert.equal(fal.requestsTo("POST", "/fal-ai/flux/schnell").length, 0);

    const job = await submitted(app, {
      model: "fal:fal-ai/flux/schnell",
      parameters: { aspect_ratio: "16:9", num_outputs: 2, output_format: "png", seed: 7 },
    });
    assert.equal(job.inputs_validated, true);
    assert.equal(job.provider, "fal");
  },
);

withBoth(
  "generate: a fal model without a published schema passes unchecked, and the job says so",
  async (app) => {
    const job = await submitted(app, {
      model: "fal:fal-ai/private-thing",
      parameters: { anything: "goes", steps: 999 },
    });
    assert.equal(job.inputs_validated, false);
    assert.deepEqual(job.parameters, { anything: "goes", steps: 999 });
  },
);

withBoth(
  "generate: an alias job is not checked against one schema (false); a Replicate job is (true)",
  async (app) => {
    const routed = await submitted(app, {
      model: "flux-schnell",
      parameters: { aspect_ratio: "16:9" },
    });
    assert.equal(routed.route, "flux-schnell");
    assert.equal(routed.inputs_validated, false);
    const replicate = await submitted(app, {
      model: "acme/painter",
      parameters: { aspect_ratio: "16:9" },
    });
    assert.equal(replicate.inputs_validated, true);
    const local = await submitted(app, { model: "local/aurora" });
    assert.equal(local.inputs_validated, true);
  },
);

withBoth(
  "models: an alias's card lists its targets and the first one's schema",
  async (app, _fal, deps) => {
    const res = await app.request("/api/v1/models/flux-schnell");
    assert.equal(res.status, 200);
    const card = await res.json();
    assert.equal(card.id, "flux-schnell");
    assert.equal(card.provider, "route");
    assert.equal(card.version, null);
    assert.deepEqual(card.targets.map((t: { model: string }) => t.model), [
      "black-forest-labs/flux-schnell",
      "fal:fal-ai/flux/schnell",
    ]);
    assert.ok(card.targets.every((t: { configured: boolean }) => t.configured));
    assert.ok(card.input_schema.properties.prompt);
    assert.equal((await app.request("/api/v1/models/no-such-alias")).status, 404);
    // A row stored without the record (older than migration 00015) reads null.
    const id = crypto.randomUUID();
    await insertJob(deps.db, {
      id,
      prompt: "p",
      model: "local/aurora",
      parameters: {},
      provider: "local",
    });
    assert.equal((await (await app.request(`/api/v1/jobs/${id}`)).json()).inputs_validated, null);
  },
);
