/**
 * `deno task start` with no environment at all: PGlite + Deno KV + the local provider in one
 * process. Jobs survive a restart (and a crash mid-job); a second process on the same data folder
 * is refused; the scaled-out tasks refuse to run without Postgres and Redis.
 */
import assert from "node:assert/strict";
import { pngSize } from "./tools/smoke.ts";
import { freePort, runTask, startService, waitForHttp } from "./shared/testing/processes.ts";

async function waitForStatus(base: string, id: string, statuses: string[], timeoutMs = 30_000) {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    const job = await (await fetch(`${base}/api/v1/status/${id}`)).json();
    if (statuses.includes(job.status)) return job;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`job ${id} never reached ${statuses}`);
}

Deno.test({
  name: "start: zero-infrastructure mode runs, survives a crash and a restart, refuses a twin",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "darkroom-start-" });
    const port = freePort();
    const env = {
      DATA_DIR: `${dir}/data`,
      STORAGE_PATH: `${dir}/storage`,
      PORT: String(port),
      LOCAL_STEP_MS: "150",
    };
    const base = `http://127.0.0.1:${port}`;
    let proc = await startService("start", env);
    try {
      await waitForHttp(`${base}/api/v1/health`, 60_000, proc);
      assert.match(proc.output(), /Darkroom is running: open http:\/\/127\.0\.0\.1:\d+\//);
      assert.match(proc.output(), /only the offline local/);
      const page = await fetch(`${base}/`);
      assert.equal(page.status, 200);
      assert.match(await page.text(), /Darkroom/);
      const models = await (await fetch(`${base}/api/v1/models`)).json();
      assert.ok(models.models.every((m: { provider: string }) => m.provider === "local"));

      // A second process on the same data folder is refused with a clear message.
      const twin = await runTask(["start"], { ...env, PORT: String(freePort()) });
      assert.notEqual(twin.code, 0);
      assert.match(twin.output, /Another Darkroom is already using/);

      const submit = (prompt: string) =>
        fetch(`${base}/api/v1/generate`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({
            prompt,
            model: "local/plasma",
            parameters: { width: 128, height: 128, num_inference_steps: 4 },
          }),
        }).then((r) => r.json());
      const quick = await submit("first light");
      const done = await waitForStatus(base, quick.job_id, ["completed"]);
      const image = await fetch(`${base}${done.image_url}`);
      assert.deepEqual(pngSize(new Uint8Array(await image.arrayBuffer())), {
        width: 128,
        height: 128,
      });

      // A crash (kill -9) while a job runs: the job finishes after the next start.
      const slow = await fetch(`${base}/api/v1/generate`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({
          prompt: "interrupted",
          model: "local/aurora",
          parameters: { width: 96, height: 96, num_inference_steps: 40 },
        }),
      }).then((r) => r.json());
      await waitForStatus(base, slow.job_id, ["processing"]);
      proc.child.kill("SIGKILL");
      await proc.stop();

      proc = await startService("start", env);
      await waitForHttp(`${base}/api/v1/health`, 60_000, proc);
      const recovered = await waitForStatus(base, slow.job_id, ["completed", "failed"], 60_000);
      assert.equal(recovered.status, "completed", recovered.error_message);
      const history = await (await fetch(`${base}/api/v1/jobs`)).json();
      assert.deepEqual(history.map((j: { id: string }) => j.id), [slow.job_id, quick.job_id]);

      // A clean stop (SIGTERM) and start keeps the history too.
      const stopped = await proc.stop();
      assert.equal(stopped.code, 0, proc.output());
      proc = await startService("start", env);
      await waitForHttp(`${base}/api/v1/health`, 60_000, proc);
      const again = await (await fetch(`${base}/api/v1/jobs`)).json();
      assert.equal(again.length, 2);
    } finally {
      await proc.stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "start: api and worker refuse to run without DATABASE_URL and REDIS_URL",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    for (const role of ["api", "worker"]) {
      const out = await runTask([role], { PORT: String(freePort()) });
      assert.equal(out.code, 1, out.output);
      assert.match(out.output, new RegExp(`deno task ${role} needs DATABASE_URL and REDIS_URL`));
    }
  },
});
