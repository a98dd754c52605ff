/**
 * An uploaded image reaches the provider: the local model (a data: URI it renders from) and a
 * Replicate prediction (a data: URI, or a signed URL on PUBLIC_BASE_URL). Real worker code,
 * Postgres, storage and the fake Replicate (api/routes/uploads_test.ts serves signed URLs).
 */
import assert from "node:assert/strict";
import { decode as decodePng } from "fast-png";
import { getJob, insertJob } from "../shared/jobs/repo.ts";
import { decodeDataUri } from "../shared/models/image_refs.ts";
import { createReplicateProvider } from "../shared/providers/replicate.ts";
import { createTestDeps, type TestDeps } from "../shared/testing/app_deps.ts";
import { type FakeReplicate, startFakeReplicate } from "../shared/testing/fake_replicate.ts";
import { pngBytes } from "../shared/testing/image_fixtures.ts";
import { linkUploads } from "../shared/uploads/repo.ts";
import { createUploadSigner } from "../shared/uploads/signing.ts";
import { storeUpload, uploadToJson } from "../shared/uploads/store.ts";
import { type ProcessDeps, processJob } from "./process_job.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

async function withFake(
  fn: (deps: TestDeps, fake: FakeReplicate) => Promise<void>,
  localStepMs = 0,
): Promise<void> {
  const fake = await startFakeReplicate({ latencyMs: 50 });
  const deps = await createTestDeps({
    localStepMs,
    replicate: createReplicateProvider({ token: fake.token, baseUrl: fake.url, timeoutMs: 5000 }),
  });
  try {
    await fn(deps, fake);
  } finally {
    await deps.cleanup();
    await fake.close();
  }
}

async function uploadPng(deps: TestDeps, png: Uint8Array): Promise<{ id: string; url: string }> {
  const row = await storeUpload(deps, png, { owner: null, maxBytes: 1 << 20, ttlS: 3600 });
  return uploadToJson(row);
}

/** Stores a job as the API does after its checks (with its uploads linked). */
async function submit(deps: TestDeps, body: Record<string, unknown>): Promise<string> {
  const model = String(body.model);
  const id = crypto.randomUUID();
  const parameters = (body.parameters ?? {}) as Record<string, unknown>;
  await insertJob(deps.db, {
    id,
    prompt: String(body.prompt),
    model,
    parameters,
    provider: model.startsWith("local/") ? "local" : "replicate",
  });
  const uploads = [parameters.image].flatMap((v) =>
    typeof v === "string" && /[0-9a-f-]{36}$/.test(v) ? [v.slice(-36)] : []
  );
  await linkUploads(deps.db, id, uploads);
  return id;
}

async function run(deps: TestDeps, jobId: string, extra: Partial<ProcessDeps> = {}) {
  await processJob(
    {
      ...deps,
      sleep: (ms) => new Promise((r) => setTimeout(r, Math.min(ms, 20))),
      ...extra,
    },
    { jobId },
    {
      attempt: 1,
      maxAttempts: 1,
      signal: new AbortController().signal,
      pauseAll: () => Promise.resolve(),
    },
  );
  const job = await getJob(deps.db, jobId);
  assert.equal(job?.status, "completed", job?.error_message ?? "");
  return job!;
}

/** The pixels of a job's first stored image (its settings chunks differ from job to job). */
async function outputBytes(deps: TestDeps, jobId: string): Promise<Uint8Array> {
  const job = await getJob(deps.db, jobId);
  const png = new Uint8Array(
    await new Response(await deps.storage.read(job!.images[0].file)).arrayBuffer(),
  );
  return decodePng(png).data as Uint8Array;
}

Deno.test({
  name: "image inputs: an upload seeds a local model's picture; an https image works too",
  ...opts,
  fn: () =>
    withFake(async (deps) => {
      const upload = await uploadPng(deps, pngBytes(32, 32, [250, 200, 0], [0, 120, 255]));
      const base = { prompt: "a calm sea", model: "local/abstract" };
      const params = { width: 128, height: 128, seed: 5 };
      const plain = await submit(deps, { ...base, parameters: params });
      const seeded = await submit(deps, { ...base, parameters: { ...params, image: upload.url } });
      await run(deps, plain);
      await run(deps, seeded);
      assert.notDeepEqual(await outputBytes(deps, seeded), await outputBytes(deps, plain));
      // Deterministic: the same image gives the same picture.
      const again = await submit(deps, {
        ...base,
        parameters: { ...params, image: `upload:${upload.id}` },
      });
      await run(deps, again);
      assert.deepEqual(await outputBytes(deps, again), await outputBytes(deps, seeded));

      // An https image is fetched (through the injected SSRF-safe fetch), checked, handed on.
      const fetched: string[] = [];
      const imageFetch = (url: string | URL) => {
        fetched.push(String(url));
        return Promise.resolve(
          new Response(pngBytes(8, 8), { headers: { "content-type": "image/png" } }),
        );
      };
      const remote = await submit(deps, {
        ...base,
        parameters: { ...params, image: "https://images.example/cat.png" },
      });
      await run(deps, remote, { imageInputs: { imageFetch } });
      assert.deepEqual(fetched, ["https://images.example/cat.png"]);
      // Not an image at that URL: the job fails, saying which input.
      const html = await submit(deps, {
        ...base,
        parameters: { ...params, image: "https://images.example/page" },
      });
      await processJob(
        {
          ...deps,
          imageInputs: {
            imageFetch: () => Promise.resolve(new Response("<!doctype html>")),
          },
        },
        { jobId: html },
        {
          attempt: 1,
          maxAttempts: 1,
          signal: new AbortController().signal,
          pauseAll: () => Promise.resolve(),
        },
      );
      const failed = await getJob(deps.db, html);
      assert.equal(failed?.status, "failed");
      assert.match(
        failed?.error_message ?? "",
        /parameters\.image .* not a PNG, JPEG, WebP or GIF/,
      );
    }),
});

Deno.test({
  name: "image inputs: Replicate gets a data: URI, or a signed URL on PUBLIC_BASE_URL",
  ...opts,
  fn: () =>
    withFake(async (deps, fake) => {
      const png = pngBytes(24, 16);
      const upload = await uploadPng(deps, png);
      const model = "black-forest-labs/flux-kontext-pro";
      const first = await submit(deps, {
        prompt: "make it snow",
        model,
        parameters: { image: upload.url },
      });
      await run(deps, first);
      const [created] = fake.requestsTo("POST", `/v1/models/${model}/predictions`);
      const sent = (created.body as { input: Record<string, string> }).input;
      assert.equal(sent.prompt, "make it snow");
      const decoded = decodeDataUri(sent.image);
      assert.equal(decoded?.contentType, "image/png");
      assert.deepEqual(decoded?.bytes, png);
      // The job keeps what was asked for, not what was sent.
      assert.equal((await getJob(deps.db, first))?.parameters.image, upload.url);

      const second = await submit(deps, {
        prompt: "make it rain",
        model,
        parameters: { image: upload.url },
      });
      await run(deps, second, {
        config: {
          ...deps.config,
          PUBLIC_BASE_URL: "https://darkroom.example",
          UPLOAD_URL_TTL_S: 600,
        },
      });
      const creates = fake.requestsTo("POST", `/v1/models/${model}/predictions`);
      const url = new URL((creates[1].body as { input: Record<string, string> }).input.image);
      assert.equal(url.origin, "https://darkroom.example");
      assert.equal(url.pathname, `/uploads/${upload.id}`);
      const expires = Number(url.searchParams.get("expires")) * 1000 - Date.now();
      assert.ok(expires > 590_000 && expires <= 600_000, `${expires}`);
      // What Replicate fetches is signed for this upload (api/routes/uploads_test.ts serves it).
      const signer = createUploadSigner({ db: deps.db });
      const params = url.searchParams;
      assert.ok(await signer.verify(upload.id, params.get("expires")!, params.get("signature")!));
    }),
});
