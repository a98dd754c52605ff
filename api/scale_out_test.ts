/**
 * The scale-out shape, black box: two `deno task api` and two `deno task worker` processes, each
 * with a local folder of its own (as on separate hosts), all on one private s3rver bucket. Jobs
 * submitted to API 1 are done by either worker, their images and thumbnails are served by API 2
 * from the bucket, nothing lands on any local disk, and a delete through API 2 empties the bucket.
 */
import assert from "node:assert/strict";
import { AwsClient } from "aws4fetch";
import { imageDimensions } from "../shared/media/image_info.ts";
import { deleteQueueKeys, testQueuePrefix } from "../shared/testing/db.ts";
import { startFakeReplicate } from "../shared/testing/fake_replicate.ts";
import {
  createTestDatabase,
  freePort,
  runTask,
  serviceEnv,
  type ServiceProcess,
  startService,
  waitForHttp,
} from "../shared/testing/processes.ts";
import { type PrivateS3, startPrivateS3 } from "../shared/testing/s3_server.ts";
import type { JobJson } from "../shared/jobs/json.ts";

/** Jobs for the local provider: several images each, one larger than a thumbnail. */
const LOCAL_JOBS = [
  { model: "local/aurora", parameters: { width: 768, height: 512, num_outputs: 2, seed: 1 } },
  { model: "local/abstract", parameters: { width: 320, height: 192, num_outputs: 3, seed: 2 } },
  { model: "local/plasma", parameters: { width: 256, height: 640, num_outputs: 2, seed: 3 } },
  { model: "local/marble", parameters: { width: 128, height: 128, num_outputs: 2, seed: 4 } },
];

/** Signed reads of the bucket, independent of the service's own storage code. */
function bucketReader(s3: PrivateS3) {
  const client = new AwsClient({
    accessKeyId: s3.accessKeyId,
    secretAccessKey: s3.secretAccessKey,
    service: "s3",
    region: "us-east-1",
    retries: 0,
  });
  const url = (key: string) =>
    `${s3.endpoint}/${s3.bucket}/${key.split("/").map(encodeURIComponent).join("/")}`;
  return {
    /** The object's bytes and type, or null when it is not there. */
    async get(key: string): Promise<{ bytes: Uint8Array; type: string | null } | null> {
      const res = await client.fetch(url(key));
      if (res.status === 404) {
        await res.body?.cancel();
        return null;
      }
      assert.equal(res.status, 200, `GET ${key}`);
      return {
        bytes: new Uint8Array(await res.arrayBuffer()),
        type: res.headers.get("content-type"),
      };
    },
    /** Every key under `prefix/`. */
    async list(prefix: string): Promise<string[]> {
      const query = new URLSearchParams({ "list-type": "2", prefix: `${prefix}/` });
      const res = await client.fetch(`${s3.endpoint}/${s3.bucket}?${query}`);
      const xml = await res.text();
      assert.equal(res.status, 200, xml);
      return [...xml.matchAll(/<Key>([^<]*)<\/Key>/g)].map((m) => m[1]);
    },
  };
}

/** Every file under `dir` (recursively), as paths relative to it. */
async function filesUnder(dir: string, at = ""): Promise<string[]> {
  const found: string[] = [];
  for await (const entry of Deno.readDir(`${dir}/${at}`)) {
    const path = at ? `${at}/${entry.name}` : entry.name;
    if (entry.isDirectory) found.push(...await filesUnder(dir, path));
    else found.push(path);
  }
  return found;
}

/** The worker whose log says it completed `jobId` (waits briefly: logs trail the database). */
async function completedBy(workers: ServiceProcess[], jobId: string): Promise<number[]> {
  const until = Date.now() + 10_000;
  while (true) {
    const found = workers.flatMap((w, i) =>
      w.output().split("\n").some((line) =>
          line.includes(jobId) && line.includes('"msg":"job completed"')
        )
        ? [i]
        : []
    );
    if (found.length > 0 || Date.now() > until) return found;
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function waitForJob(api: string, id: string, timeoutMs = 60_000): Promise<JobJson> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    const res = await fetch(`${api}/status/${id}`);
    const job: JobJson = await res.json();
    if (["completed", "failed", "canceled"].includes(job.status)) return job;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`job ${id} did not finish within ${timeoutMs} ms`);
}

async function submit(api: string, body: Record<string, unknown>): Promise<string> {
  const res = await fetch(`${api}/generate`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  const answer = await res.json();
  assert.equal(res.status, 202, JSON.stringify(answer));
  return answer.job_id;
}

/** `/images/<file>` → `<file>`. */
function fileOf(url: string): string {
  return decodeURIComponent(url.slice(url.lastIndexOf("/") + 1));
}

async function bytesOf(res: Response): Promise<Uint8Array> {
  return new Uint8Array(await res.arrayBuffer());
}

Deno.test({
  name: "scale out: two apis and two workers on separate folders share one bucket",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async (t) => {
    const database = await createTestDatabase();
    const s3 = await startPrivateS3({ bucket: "darkroom-scale" });
    const fake = await startFakeReplicate({ latencyMs: 300 });
    const bucket = bucketReader(s3);
    const objectPrefix = `scale-${crypto.randomUUID().slice(0, 8)}`;
    const queuePrefix = testQueuePrefix();
    const folders: string[] = [];
    for (const role of ["api1", "api2", "worker1", "worker2"]) {
      folders.push(await Deno.makeTempDir({ prefix: `darkroom-scale-${role}-` }));
    }
    const envOf = (folder: string, extra: Record<string, string> = {}) =>
      serviceEnv({
        databaseUrl: database.url,
        storagePath: folder,
        prefix: queuePrefix,
        extra: {
          ...s3.env(objectPrefix),
          REPLICATE_API_TOKEN: fake.token,
          REPLICATE_BASE_URL: fake.url,
          ...extra,
        },
      });
    // API 1 answers images with redirects to the bucket; API 2 streams them (the default).
    const apiEnvs = [envOf(folders[0], { IMAGE_DELIVERY: "redirect" }), envOf(folders[1])];
    const workerEnvs = [2, 3].map((i) =>
      envOf(folders[i], { WORKER_PORT: String(freePort()), WORKER_CONCURRENCY: "8" })
    );
    const bases = apiEnvs.map((env) => `http://127.0.0.1:${env.PORT}`);
    const apis = bases.map((base) => `${base}/api/v1`);
    const processes: ServiceProcess[] = [];
    let passed = false;
    try {
      const migrated = await runTask(["migrate"], apiEnvs[0]);
      assert.equal(migrated.code, 0, migrated.output);
      const started = await Promise.all([
        ...apiEnvs.map((env) => startService("api", env)),
        ...workerEnvs.map((env) => startService("worker", env)),
      ]);
      processes.push(...started);
      const workers = started.slice(2);
      await Promise.all([
        ...apis.map((api, i) => waitForHttp(`${api}/health`, 60_000, started[i])),
        ...workerEnvs.map((env, i) =>
          waitForHttp(`http://127.0.0.1:${env.WORKER_PORT}/health`, 60_000, workers[i])
        ),
      ]);
      const workerIds: string[] = [];
      for (const env of workerEnvs) {
        const health = await (await fetch(`http://127.0.0.1:${env.WORKER_PORT}/health`)).json();
        workerIds.push(health.worker_id);
      }

      await t.step("both apis are ready on the bucket and see both workers", async () => {
        for (const api of apis) {
          const res = await fetch(`${api}/ready`);
          const ready = await res.json();
          assert.equal(res.status, 200, JSON.stringify(ready));
          assert.equal(ready.checks.storage.backend, "s3");
          assert.equal(ready.checks.storage.ok, true);
        }
        const until = Date.now() + 20_000;
        let online = 0;
        while (online < 2 && Date.now() < until) {
          online = (await (await fetch(`${apis[1]}/health`)).json()).checks.workers.online;
          if (online < 2) await new Promise((r) => setTimeout(r, 100));
        }
        assert.equal(online, 2);
      });

      const ids = await Promise.all([
        ...LOCAL_JOBS.map((job, i) => submit(apis[0], { prompt: `scale out ${i}`, ...job })),
        submit(apis[0], {
          prompt: "an astronaut riding a horse",
          model: "black-forest-labs/flux-schnell",
          parameters: { width: 96, height: 64, num_outputs: 2 },
        }),
      ]);
      const jobs: JobJson[] = [];
      const doneBy: Record<string, string> = {};

      await t.step("every job completes, done by one of the two workers", async () => {
        for (const id of ids) {
          const job = await waitForJob(apis[1], id);
          assert.equal(job.status, "completed", job.error_message ?? undefined);
          jobs.push(job);
          const by = await completedBy(workers, id);
          assert.equal(by.length, 1, `job ${id} completed by ${by.length} workers`);
          doneBy[id] = workerIds[by[0]];
        }
        assert.equal(fake.createdCount, 1);
        const counts = workerIds.map((w) => Object.values(doneBy).filter((x) => x === w).length);
        console.log(`jobs completed by worker 1 / worker 2: ${counts.join(" / ")}`);
      });

      await t.step("images and thumbnails are in the bucket and served by api 2", async () => {
        for (const [j, job] of jobs.entries()) {
          const asked = j < LOCAL_JOBS.length
            ? LOCAL_JOBS[j].parameters
            : { width: 96, height: 64, num_outputs: 2 };
          assert.equal(job.images.length, asked.num_outputs);
          for (const image of job.images) {
            const file = fileOf(image.url);
            const thumbFile = fileOf(image.thumbnail_url);
            // The worker stored both: read them from the bucket before any api is asked.
            const stored = await bucket.get(`${objectPrefix}/${file}`);
            const storedThumb = await bucket.get(`${objectPrefix}/${thumbFile}`);
            assert.ok(stored, `${file} is in the bucket`);
            assert.ok(storedThumb, `${thumbFile} is in the bucket`);
            assert.equal(stored.type, "image/png");
            assert.equal(storedThumb.type, "image/webp");
            assert.deepEqual(imageDimensions(stored.bytes), {
              width: asked.width,
              height: asked.height,
            });
            assert.equal(image.bytes, stored.bytes.length);

            const served = await fetch(`${bases[1]}${image.url}`);
            assert.equal(served.status, 200);
            assert.equal(served.headers.get("content-type"), "image/png");
            assert.deepEqual(await bytesOf(served), stored.bytes);

            const thumb = await fetch(`${bases[1]}${image.thumbnail_url}`);
            assert.equal(thumb.status, 200);
            assert.equal(thumb.headers.get("content-type"), "image/webp");
            const thumbBytes = await bytesOf(thumb);
            assert.deepEqual(thumbBytes, storedThumb.bytes);
            const dims = imageDimensions(thumbBytes);
            assert.ok(dims, `${thumbFile} is a WebP with a size`);
            const longSide = Math.max(asked.width, asked.height);
            assert.equal(Math.max(dims.width, dims.height), Math.min(512, longSide));
          }
        }
      });

      await t.step("api 1 (IMAGE_DELIVERY=redirect) answers 302 to the same bytes", async () => {
        for (const job of jobs) {
          for (const url of [job.images[0].url, job.images[0].thumbnail_url]) {
            const res = await fetch(`${bases[0]}${url}`, { redirect: "manual" });
            assert.equal(res.status, 302, url);
            await res.body?.cancel();
            const location = res.headers.get("location") ?? "";
            assert.ok(location.startsWith(`${s3.endpoint}/${s3.bucket}/${objectPrefix}/`));
            const fetched = await fetch(location);
            assert.equal(fetched.status, 200);
            const stored = await bucket.get(`${objectPrefix}/${fileOf(url)}`);
            assert.deepEqual(await bytesOf(fetched), stored?.bytes);
          }
        }
      });

      await t.step("no image landed on any process's local folder", async () => {
        for (const [i, folder] of folders.entries()) {
          assert.deepEqual(await filesUnder(folder), [], `folder of process ${i + 1}`);
        }
        // The folders are the ones in use: a worker that did a job passed its downloads through
        // its own STORAGE_PATH/tmp (empty now).
        for (const [i, id] of workerIds.entries()) {
          if (!Object.values(doneBy).includes(id)) continue;
          assert.ok((await Deno.stat(`${folders[2 + i]}/tmp`)).isDirectory);
        }
      });

      await t.step("a delete through api 2 removes the job's objects from the bucket", async () => {
        const before = await bucket.list(objectPrefix);
        const expected = jobs.flatMap((job) =>
          job.images.flatMap((img) => [fileOf(img.url), fileOf(img.thumbnail_url)])
        ).map((file) => `${objectPrefix}/${file}`);
        assert.deepEqual(before.toSorted(), expected.toSorted());
        for (const job of jobs) {
          const res = await fetch(`${apis[1]}/jobs/${job.id}`, { method: "DELETE" });
          assert.ok(res.ok, `DELETE ${job.id}: ${res.status}`);
          await res.body?.cancel();
          for (const image of job.images) {
            assert.equal(await bucket.get(`${objectPrefix}/${fileOf(image.url)}`), null);
            assert.equal(await bucket.get(`${objectPrefix}/${fileOf(image.thumbnail_url)}`), null);
            const gone = await fetch(`${bases[1]}${image.url}`);
            assert.equal(gone.status, 404);
            await gone.body?.cancel();
          }
          const status = await fetch(`${apis[0]}/status/${job.id}`);
          assert.equal(status.status, 404);
          await status.body?.cancel();
        }
        assert.deepEqual(await bucket.list(objectPrefix), []);
      });

      await t.step("the worker logs are JSON lines", () => {
        for (const worker of workers) {
          for (const line of worker.output().split("\n").filter((l) => l.startsWith("{"))) {
            JSON.parse(line);
          }
        }
      });
      passed = true;
    } finally {
      const statuses = await Promise.all(processes.map((p) => p.stop()));
      // After the stop too: a temp folder for downloads may be there, but with nothing in it.
      const leftovers = await Promise.all(folders.map((folder) => filesUnder(folder)));
      await deleteQueueKeys(queuePrefix);
      await fake.close();
      await database.drop();
      await s3.close();
      for (const folder of folders) await Deno.remove(folder, { recursive: true });
      if (passed) {
        for (const [i, status] of statuses.entries()) {
          assert.equal(status.code, 0, `${processes[i].role} exit\n${processes[i].output()}`);
        }
        assert.deepEqual(leftovers, [[], [], [], []]);
      }
    }
  },
});
