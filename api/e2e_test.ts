/**
 * End to end, black box: migrate, start the real api and worker processes, then speak only HTTP —
 * submit a local job and a Replicate job (against the fake Replicate), download the stored images.
 */
import assert from "node:assert/strict";
import { pngSize, smoke } from "../tools/smoke.ts";
import { startFakeReplicate } from "../shared/testing/fake_replicate.ts";
import { deleteQueueKeys } from "../shared/testing/db.ts";
import {
  createTestDatabase,
  runTask,
  serviceEnv,
  startService,
  waitForHttp,
} from "../shared/testing/processes.ts";

async function waitForJob(base: string, id: string, timeoutMs = 30_000) {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    const job = await (await fetch(`${base}/api/v1/status/${id}`)).json();
    if (["completed", "failed", "canceled"].includes(job.status)) return job;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`job ${id} did not finish`);
}

Deno.test({
  name: "e2e: api + worker processes serve local and Replicate jobs over HTTP",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const database = await createTestDatabase();
    const storage = await Deno.makeTempDir({ prefix: "darkroom-e2e-" });
    const fake = await startFakeReplicate({ latencyMs: 300 });
    const env = serviceEnv({
      databaseUrl: database.url,
      storagePath: storage,
      extra: { REPLICATE_API_TOKEN: fake.token, REPLICATE_BASE_URL: fake.url },
    });
    const base = `http://127.0.0.1:${env.PORT}`;
    const migrated = await runTask(["migrate"], env);
    assert.equal(migrated.code, 0, migrated.output);
    assert.match(migrated.output, /00001_create_jobs\.sql/);
    const status = await runTask(["migrate", "--status"], env);
    assert.match(status.output, /applied\s+00001_create_jobs\.sql/);

    const api = await startService("api", env);
    const worker = await startService("worker", env);
    try {
      await waitForHttp(`${base}/api/v1/health`, 30_000, api);

      // The smoke task's own check: health, local job, PNG of the asked size; then the job is
      // deleted, so the check leaves nothing behind.
      const lines: string[] = [];
      const local = await smoke(base, (l) => lines.push(l));
      assert.ok(lines.some((l) => l.includes("PNG 320x192")), lines.join("\n"));
      const gone = await fetch(`${base}/api/v1/status/${local.id}`);
      assert.equal(gone.status, 404);
      await gone.body?.cancel();
      assert.equal(local.status, "completed");
      assert.equal(local.progress, 100);
      assert.ok(local.started_at && local.completed_at);

      // A Replicate job through the real client against the fake server.
      const res = await fetch(`${base}/api/v1/generate`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({
          prompt: "an astronaut riding a horse",
          model: "black-forest-labs/flux-schnell",
          parameters: { width: 96, height: 64, num_outputs: 2 },
        }),
      });
      assert.equal(res.status, 202);
      const { job_id } = await res.json();
      const job = await waitForJob(base, job_id);
      assert.equal(job.status, "completed", job.error_message);
      assert.equal(job.images.length, 2);
      assert.equal(fake.createdCount, 1);
      for (const image of job.images) {
        const img = await fetch(new URL(image.url, base));
        assert.equal(img.status, 200);
        assert.equal(img.headers.get("content-type"), "image/png");
        assert.equal(img.headers.get("cache-control"), "public, max-age=31536000, immutable");
        const size = pngSize(new Uint8Array(await img.arrayBuffer()));
        assert.deepEqual(size, { width: 96, height: 64 });
        assert.equal(image.width, 96);
        assert.equal(image.height, 64);
      }
      // The image is on disk, not at the provider.
      const files = [];
      for await (const f of Deno.readDir(`${storage}/generated`)) files.push(f.name);
      assert.ok(files.includes(`${job_id}-0.png`) && files.includes(`${job_id}-1.png`));

      const list = await (await fetch(`${base}/api/v1/jobs?limit=5`)).json();
      assert.deepEqual(list.map((j: { id: string }) => j.id), [job_id]);
      const health = await (await fetch(`${base}/api/v1/health`)).json();
      assert.equal(health.status, "ok");
      assert.equal(health.checks.workers.online, 1);
    } finally {
      const workerStatus = await worker.stop();
      const apiStatus = await api.stop();
      await deleteQueueKeys(env.QUEUE_PREFIX);
      await fake.close();
      await database.drop();
      await Deno.remove(storage, { recursive: true });
      assert.equal(workerStatus.code, 0, `worker exit\n${worker.output()}`);
      assert.equal(apiStatus.code, 0, `api exit\n${api.output()}`);
    }
    // Logs are JSON lines.
    for (const line of worker.output().split("\n").filter((l) => l.startsWith("{"))) {
      JSON.parse(line);
    }
  },
});
