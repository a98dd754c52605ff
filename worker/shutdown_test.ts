/**
 * Graceful shutdown: SIGTERM lets a running job finish; past SHUTDOWN_TIMEOUT_S the job is
 * handed back and another worker resumes the same prediction; a second signal exits at once.
 */
import assert from "node:assert/strict";
import { startFakeReplicate } from "../shared/testing/fake_replicate.ts";
import {
  createTestDatabase,
  runTask,
  serviceEnv,
  startService,
  waitForHttp,
} from "../shared/testing/processes.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

async function setup(latencyMs: number, extra: Record<string, string> = {}) {
  const database = await createTestDatabase();
  const storage = await Deno.makeTempDir({ prefix: "darkroom-shutdown-" });
  const fake = await startFakeReplicate({ latencyMs });
  const env = serviceEnv({
    databaseUrl: database.url,
    storagePath: storage,
    extra: { REPLICATE_API_TOKEN: fake.token, REPLICATE_BASE_URL: fake.url, ...extra },
  });
  assert.equal((await runTask(["migrate"], env)).code, 0);
  const api = await startService("api", env);
  await waitForHttp(`http://127.0.0.1:${env.PORT}/api/v1/health`, 30_000, api);
  const base = `http://127.0.0.1:${env.PORT}/api/v1`;
  const submit = async () => {
    const res = await fetch(`${base}/generate`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ prompt: "drain me", model: "acme/slow" }),
    });
    return (await res.json()).job_id as string;
  };
  const status = async (id: string) => (await (await fetch(`${base}/status/${id}`)).json());
  const waitStatus = async (id: string, want: string[], ms = 30_000) => {
    const until = Date.now() + ms;
    while (Date.now() < until) {
      const job = await status(id);
      if (want.includes(job.status)) return job;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`job ${id} never reached ${want}`);
  };
  return {
    env,
    fake,
    submit,
    waitStatus,
    async cleanup() {
      await api.stop();
      await fake.close();
      await database.drop();
      await Deno.remove(storage, { recursive: true });
    },
  };
}

Deno.test({
  name: "shutdown: SIGTERM lets the running job finish before the worker exits",
  ...opts,
  fn: async () => {
    const t = await setup(1500);
    const worker = await startService("worker", t.env);
    try {
      const id = await t.submit();
      await t.waitStatus(id, ["processing"]);
      while (t.fake.createdCount === 0) await new Promise((r) => setTimeout(r, 20));
      worker.child.kill("SIGTERM");
      const exit = await worker.child.status;
      assert.equal(exit.code, 0, worker.output());
      const job = await t.waitStatus(id, ["completed", "failed"], 5000);
      assert.equal(job.status, "completed", "finished during the drain");
      assert.match(worker.output(), /worker draining/);
    } finally {
      await worker.stop();
      await t.cleanup();
    }
  },
});

Deno.test({
  name: "shutdown: past the drain time the job is handed back and resumed elsewhere",
  ...opts,
  fn: async () => {
    const t = await setup(6000, { SHUTDOWN_TIMEOUT_S: "1", RETRY_BACKOFF_BASE: "1" });
    const first = await startService("worker", t.env);
    let second: Awaited<ReturnType<typeof startService>> | undefined;
    try {
      const id = await t.submit();
      await t.waitStatus(id, ["processing"]);
      while (t.fake.createdCount === 0) await new Promise((r) => setTimeout(r, 20));
      const stoppedAt = Date.now();
      first.child.kill("SIGTERM");
      const exit = await first.child.status;
      assert.equal(exit.code, 0, first.output());
      assert.ok(Date.now() - stoppedAt < 8000, "exited soon after the drain time");
      second = await startService("worker", t.env);
      const job = await t.waitStatus(id, ["completed", "failed"], 30_000);
      assert.equal(job.status, "completed", job.error_message);
      assert.equal(t.fake.createdCount, 1, "the same prediction was resumed");
    } finally {
      await second?.stop();
      await first.stop();
      await t.cleanup();
    }
  },
});

Deno.test({
  name: "shutdown: a second signal exits at once",
  ...opts,
  fn: async () => {
    const t = await setup(20_000);
    const worker = await startService("worker", t.env);
    try {
      const id = await t.submit();
      await t.waitStatus(id, ["processing"]);
      worker.child.kill("SIGTERM");
      // A signal within 200 ms counts as the same one (Ctrl+C under dev arrives twice).
      await new Promise((r) => setTimeout(r, 50));
      worker.child.kill("SIGINT");
      await new Promise((r) => setTimeout(r, 500));
      assert.match(worker.output(), /worker draining/);
      assert.doesNotMatch(worker.output(), /second signal/);
      const at = Date.now();
      worker.child.kill("SIGINT");
      const exit = await worker.child.status;
      assert.ok(Date.now() - at < 3000, "exited promptly");
      assert.equal(exit.code, 130);
    } finally {
      await worker.stop();
      await t.cleanup();
    }
  },
});
