/**
 * Stopping never hangs on open live streams: `deno task api` and `deno task start`, each with two
 * SSE clients connected (and, for `start`, a job running), exit within SHUTDOWN_TIMEOUT_S (+1 s)
 * of SIGTERM; both clients get a final `shutdown` event before their stream ends. A request that
 * never finishes (a body announced and never sent) is cut off by the deadline (exit code 1).
 */
import assert from "node:assert/strict";
import { collectSse, type SseEvent } from "../shared/testing/sse.ts";
import {
  createTestDatabase,
  freePort,
  runTask,
  serviceEnv,
  type ServiceProcess,
  startService,
  waitForHttp,
} from "../shared/testing/processes.ts";
import { deleteQueueKeys } from "../shared/testing/db.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };
const SHUTDOWN_TIMEOUT_S = 3;

/** Opens `n` event streams and resolves once each has said `ready`; then collects until the end. */
async function openStreams(base: string, n: number): Promise<Promise<SseEvent[]>[]> {
  const opened = await Promise.all(Array.from({ length: n }, async () => {
    const res = await fetch(`${base}/api/v1/events`);
    assert.equal(res.status, 200);
    let ready!: () => void;
    const isReady = new Promise<void>((r) => ready = r);
    const events = collectSse(res, (evs: SseEvent[]) => {
      if (evs.some((e) => e.event === "ready")) ready();
      return false; // until the server ends the stream
    }, 60_000);
    await isReady;
    return { events };
  }));
  return opened.map((o) => o.events);
}

/** SIGTERM, then how long the process took to exit and with which code. */
async function stopTimed(proc: ServiceProcess): Promise<{ ms: number; code: number }> {
  const started = performance.now();
  proc.child.kill("SIGTERM");
  const status = await proc.child.status;
  return { ms: performance.now() - started, code: status.code };
}

async function checkStop(proc: ServiceProcess, streams: Promise<SseEvent[]>[]) {
  const { ms, code } = await stopTimed(proc);
  console.log(`${proc.role}: stopped ${Math.round(ms)} ms after SIGTERM (code ${code})`);
  assert.ok(
    ms <= (SHUTDOWN_TIMEOUT_S + 1) * 1000,
    `${proc.role} took ${Math.round(ms)} ms to stop\n${proc.output().slice(-3000)}`,
  );
  assert.equal(code, 0, proc.output().slice(-3000));
  for (const events of await Promise.all(streams)) {
    assert.equal(events.at(-1)?.event, "shutdown", JSON.stringify(events.map((e) => e.event)));
  }
}

Deno.test({
  name: "stop: deno task api with two live streams exits within SHUTDOWN_TIMEOUT_S",
  ...opts,
  fn: async () => {
    const database = await createTestDatabase();
    const storage = await Deno.makeTempDir({ prefix: "darkroom-stop-" });
    const env = serviceEnv({
      databaseUrl: database.url,
      storagePath: storage,
      extra: { SHUTDOWN_TIMEOUT_S: String(SHUTDOWN_TIMEOUT_S) },
    });
    const base = `http://127.0.0.1:${env.PORT}`;
    let api: ServiceProcess | undefined;
    try {
      const migrated = await runTask(["migrate"], env);
      assert.equal(migrated.code, 0, migrated.output);
      api = await startService("api", env);
      await waitForHttp(`${base}/api/v1/health`, 30_000, api);
      const streams = await openStreams(base, 2);
      await checkStop(api, streams);
    } finally {
      await api?.stop();
      await deleteQueueKeys(env.QUEUE_PREFIX);
      await database.drop();
      await Deno.remove(storage, { recursive: true }).catch(() => {});
    }
  },
});

Deno.test({
  name: "stop: a request that never finishes does not hold deno task api past the timeout",
  ...opts,
  fn: async () => {
    const database = await createTestDatabase();
    const storage = await Deno.makeTempDir({ prefix: "darkroom-stop-" });
    const env = serviceEnv({
      databaseUrl: database.url,
      storagePath: storage,
      extra: { SHUTDOWN_TIMEOUT_S: String(SHUTDOWN_TIMEOUT_S) },
    });
    const base = `http://127.0.0.1:${env.PORT}`;
    let api: ServiceProcess | undefined;
    let conn: Deno.TcpConn | undefined;
    try {
      const migrated = await runTask(["migrate"], env);
      assert.equal(migrated.code, 0, migrated.output);
      api = await startService("api", env);
      await waitForHttp(`${base}/api/v1/health`, 30_000, api);
      // A body announced and never sent: its handler waits for BODY_TIMEOUT_S (30 s).
      conn = await Deno.connect({ hostname: "127.0.0.1", port: Number(env.PORT) });
      await conn.write(new TextEncoder().encode(
        "POST /api/v1/generate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" +
          "Content-Length: 1000\r\n\r\n{",
      ));
      await new Promise((r) => setTimeout(r, 300));
      const { ms, code } = await stopTimed(api);
      console.log(`api with a stalled request: stopped ${Math.round(ms)} ms after SIGTERM`);
      assert.ok(ms <= (SHUTDOWN_TIMEOUT_S + 1) * 1000, `took ${Math.round(ms)} ms`);
      assert.equal(code, 1, "a stop cut short by its deadline says so");
      assert.match(api.output(), /shutdown did not finish within SHUTDOWN_TIMEOUT_S/);
    } finally {
      conn?.close();
      await api?.stop();
      await deleteQueueKeys(env.QUEUE_PREFIX);
      await database.drop();
      await Deno.remove(storage, { recursive: true }).catch(() => {});
    }
  },
});

Deno.test({
  name: "stop: deno task start with two live streams and a running job exits within the timeout",
  ...opts,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "darkroom-stop-start-" });
    const port = freePort();
    const env = {
      DATA_DIR: `${dir}/data`,
      STORAGE_PATH: `${dir}/storage`,
      PORT: String(port),
      // A job of 40 steps of 500 ms: far longer than the stop may take.
      LOCAL_STEP_MS: "500",
      SHUTDOWN_TIMEOUT_S: String(SHUTDOWN_TIMEOUT_S),
    };
    const base = `http://127.0.0.1:${port}`;
    let proc: ServiceProcess | undefined;
    try {
      proc = await startService("start", env);
      await waitForHttp(`${base}/api/v1/health`, 60_000, proc);
      const streams = await openStreams(base, 2);
      const res = await fetch(`${base}/api/v1/generate`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({
          prompt: "a long one",
          model: "local/aurora",
          parameters: { width: 64, height: 64, num_inference_steps: 40 },
        }),
      });
      assert.equal(res.status, 202);
      const { job_id } = await res.json();
      const until = Date.now() + 20_000;
      while (
        (await (await fetch(`${base}/api/v1/status/${job_id}`)).json()).status !== "processing"
      ) {
        if (Date.now() > until) throw new Error("the job never started");
        await new Promise((r) => setTimeout(r, 100));
      }
      await checkStop(proc, streams);
    } finally {
      await proc?.stop();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
});
