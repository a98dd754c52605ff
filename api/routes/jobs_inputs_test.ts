/**
 * POST /generate checks inputs against the model's schema before anything exists: no job row,
 * no queue entry, no prediction. Real app, Postgres, Redis and the fake Replicate.
 */
import assert from "node:assert/strict";
import { sql } from "../../shared/db/db.ts";
import type { TestDeps } from "../../shared/testing/app_deps.ts";
import type { FakeReplicate } from "../../shared/testing/fake_replicate.ts";
import { footprint } from "../../shared/testing/fuzz/harness.ts";
import { pngBytes } from "../../shared/testing/image_fixtures.ts";
import { sweepExpiredUploads } from "../../shared/uploads/store.ts";
import { postGenerate, withReplicate } from "../app_testing.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };
type App = Parameters<typeof postGenerate>[0];

/** Posts and asserts a 422 that wrote nothing; returns its details. */
async function refused(
  deps: TestDeps,
  app: App,
  fake: FakeReplicate,
  body: Record<string, unknown>,
): Promise<{ message: string; details: { field: string; message: string }[] }> {
  const before = await footprint(deps);
  const creates = fake.createdCount;
  const res = await postGenerate(app, body);
  const json = await res.json();
  assert.equal(res.status, 422, JSON.stringify(json));
  assert.equal(json.error.code, "validation_error");
  assert.deepEqual(await footprint(deps), before, "no job row, no queue entry");
  assert.equal(fake.createdCount, creates, "no prediction");
  return json.error;
}

Deno.test({
  name: "generate: inputs that do not fit the schema are 422 naming the field, nothing stored",
  ...opts,
  fn: () =>
    withReplicate(async (deps, app, fake) => {
      const model = "black-forest-labs/flux-schnell";
      const enumError = await refused(deps, app, fake, {
        prompt: "p",
        model,
        parameters: { aspect_ratio: "7:3" },
      });
      assert.deepEqual(enumError.details, [{
        field: "parameters.aspect_ratio",
        message: 'must be one of "1:1", "16:9", "21:9", "3:2", "2:3", "4:5", "5:4", "3:4", ' +
          '"4:3", "9:16", "9:21" (got "7:3")',
      }]);
      assert.match(enumError.message, /do not fit black-forest-labs\/flux-schnell/);

      const range = await refused(deps, app, fake, {
        prompt: "p",
        model,
        parameters: { num_inference_steps: 99 },
      });
      assert.deepEqual(range.details, [
        { field: "parameters.num_inference_steps", message: "must be from 1 to 50 (got 99)" },
      ]);

      const unknown = await refused(deps, app, fake, {
        prompt: "p",
        model,
        parameters: { guidance: 3 },
      });
      assert.equal(unknown.details[0].field, "parameters.guidance");
      assert.match(unknown.details[0].message, /not an input of black-forest-labs\/flux-schnell/);

      // negative_prompt is an input only where the schema has one.
      const negative = await refused(deps, app, fake, {
        prompt: "p",
        model,
        negative_prompt: "blurry",
      });
      assert.equal(negative.details[0].field, "negative_prompt");

      const uri = await refused(deps, app, fake, {
        prompt: "p",
        model,
        parameters: { image: "file:///etc/passwd" },
      });
      assert.equal(uri.details[0].field, "parameters.image");

      // A model whose schema requires an image.
      const schema = structuredClone(fake.models.get(model)!.versions[0].openapi_schema) as {
        components: { schemas: { Input: { required: string[] } } };
      };
      schema.components.schemas.Input.required = ["prompt", "image"];
      fake.models.set("acme/editor", {
        versions: [{ id: "e".repeat(64), openapi_schema: schema }],
      });
      const required = await refused(deps, app, fake, { prompt: "p", model: "acme/editor" });
      assert.deepEqual(required.details, [
        { field: "parameters.image", message: "is required by acme/editor" },
      ]);

      fake.modelNotFound.add("acme/ghost");
      const ghost = await refused(deps, app, fake, { prompt: "p", model: "acme/ghost" });
      assert.deepEqual(ghost.details, [
        { field: "model", message: "Model acme/ghost was not found at Replicate" },
      ]);

      // Local models: their schema too.
      const local = await refused(deps, app, fake, {
        prompt: "p",
        model: "local/plasma",
        parameters: { image: "not an image" },
      });
      assert.equal(local.details[0].field, "parameters.image");

      // The model's schema was asked for once, whatever the number of submits.
      assert.equal(fake.requestsTo("GET", `/v1/models/${model}`).length, 1);
    }),
});

Deno.test({
  name: "generate: valid inputs pass; strict_inputs false passes unknown fields on",
  ...opts,
  fn: () =>
    withReplicate(async (deps, app, fake) => {
      const model = "black-forest-labs/flux-schnell";
      const ok = await postGenerate(app, {
        prompt: "p",
        model,
        parameters: { aspect_ratio: "16:9", num_outputs: 2, seed: 7 },
      });
      assert.equal(ok.status, 202, await ok.text());
      const loose = await postGenerate(app, {
        prompt: "p",
        model,
        strict_inputs: false,
        parameters: { lora_scale: 0.8 },
      });
      const looseText = await loose.text();
      assert.equal(loose.status, 202, looseText);
      const { job_id } = JSON.parse(looseText);
      const [row] = await deps.db.query<{ parameters: Record<string, unknown> }>(
        sql`SELECT parameters FROM jobs WHERE id = ${job_id}`,
      );
      // Stored as sent, no defaults added; only a seed, picked because the model takes one
      // (issue 21: the seed is always known).
      const { seed, ...sent } = row.parameters;
      assert.deepEqual(sent, { lora_scale: 0.8 }, "stored as sent, no defaults added");
      assert.ok(Number.isInteger(seed) && (seed as number) >= 0 && (seed as number) < 2 ** 32);
      // Still refused with strict_inputs false: a real problem.
      await refused(deps, app, fake, {
        prompt: "p",
        model,
        strict_inputs: false,
        parameters: { lora_scale: 0.8, num_outputs: 0 },
      });
      const wrongFlag = await postGenerate(app, { prompt: "p", model, strict_inputs: "no" });
      assert.equal(wrongFlag.status, 422);
      // The provider is down and nothing is stored: accepted unchecked, as before schemas.
      fake.failNextModelGets(1, 503);
      const unchecked = await postGenerate(app, {
        prompt: "p",
        model: "acme/new-model",
        parameters: { anything: 1 },
      });
      assert.equal(unchecked.status, 202, await unchecked.text());
    }),
});

Deno.test({
  name: "generate: an image input names an upload of the caller; it is kept for the job",
  ...opts,
  fn: () =>
    withReplicate(async (deps, app, fake) => {
      const up = await Promise.resolve(app.request("/api/v1/uploads", {
        method: "POST",
        headers: { "content-type": "image/png" },
        body: pngBytes(),
      }));
      assert.equal(up.status, 201);
      const upload = await up.json();
      const res = await postGenerate(app, {
        prompt: "p",
        model: "local/abstract",
        parameters: { image: upload.url },
      });
      const text = await res.text();
      assert.equal(res.status, 202, text);
      const { job_id } = JSON.parse(text);
      const links = await deps.db.query(
        sql`SELECT upload_id FROM job_uploads WHERE job_id = ${job_id}`,
      );
      assert.deepEqual(links, [{ upload_id: upload.id }]);
      const job = await (await app.request(`/api/v1/jobs/${job_id}`)).json();
      assert.deepEqual(job.input_images, [
        { field: "image", upload_id: upload.id, url: `/uploads/${upload.id}` },
      ]);
      // An upload that does not exist (or expired): 422 on the field, nothing stored.
      const missing = crypto.randomUUID();
      const gone = await refused(deps, app, fake, {
        prompt: "p",
        model: "local/abstract",
        parameters: { image: `upload:${missing}` },
      });
      assert.equal(gone.details[0].field, "parameters.image");
      assert.match(gone.details[0].message, new RegExp(`upload ${missing} was not found`));
    }),
});

async function submitOk(app: App, body: Record<string, unknown>): Promise<string> {
  const res = await postGenerate(app, body);
  const text = await res.text();
  assert.equal(res.status, 202, text);
  return JSON.parse(text).job_id;
}

Deno.test({
  name: "image inputs: deleting a job deletes the uploads only it used",
  ...opts,
  fn: () =>
    withReplicate(async (deps, app) => {
      const upload = async (png: Uint8Array<ArrayBuffer>) =>
        await (await app.request("/api/v1/uploads", { method: "POST", body: png })).json();
      const mine = await upload(pngBytes());
      const shared = await upload(pngBytes(4, 4));
      const model = "black-forest-labs/flux-kontext-pro";
      const a = await submitOk(app, { prompt: "a", model, parameters: { image: mine.url } });
      const b = await submitOk(app, { prompt: "b", model, parameters: { image: shared.url } });
      const c = await submitOk(app, { prompt: "c", model, parameters: { image: shared.url } });
      for (const id of [a, b]) {
        assert.equal((await app.request(`/api/v1/jobs/${id}`, { method: "DELETE" })).status, 204);
      }
      assert.equal((await app.request(`/api/v1/uploads/${mine.id}`)).status, 404);
      assert.equal(
        (await app.request(`/api/v1/uploads/${shared.id}`)).status,
        200,
        "job c uses it",
      );
      assert.equal(await sweepExpiredUploads(deps), 1);
      assert.equal(await deps.storage.stat(`upload-${mine.id}.png`), null);
      assert.ok(await deps.storage.stat(`upload-${shared.id}.png`));
      assert.equal((await app.request(`/api/v1/jobs/${c}`, { method: "DELETE" })).status, 204);
      assert.equal(await sweepExpiredUploads(deps), 1);
      assert.equal(await deps.storage.stat(`upload-${shared.id}.png`), null);
    }),
});
