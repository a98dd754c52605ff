/** Test helper: runs the real api and worker as subprocesses against a database of their own. */
import { connectPostgres } from "../db/db.ts";
import { deleteQueueKeys, testDatabaseUrl, testQueuePrefix, testRedisUrl } from "./db.ts";
import { type FakeReplicate, startFakeReplicate } from "./fake_replicate.ts";
import type { JobJson } from "../jobs/json.ts";

const ROOT = new URL("../../", import.meta.url);

export interface ServiceProcess {
  role: string;
  child: Deno.ChildProcess;
  /** Everything the process printed so far. */
  output(): string;
  /** SIGTERM, then SIGKILL if it does not stop within `graceMs`. */
  stop(graceMs?: number): Promise<Deno.CommandStatus>;
}

/** A throwaway database (CREATE DATABASE) and its URL. */
export async function createTestDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  const base = new URL(testDatabaseUrl());
  const name = `darkroom_e2e_${crypto.randomUUID().replaceAll("-", "").slice(0, 12)}`;
  const admin = connectPostgres(base.href, { max: 1 });
  await admin.exec(`CREATE DATABASE "${name}"`);
  await admin.close();
  const url = new URL(base.href);
  url.pathname = `/${name}`;
  return {
    url: url.href,
    async drop() {
      const dropper = connectPostgres(base.href, { max: 1 });
      await dropper.exec(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      await dropper.close();
    },
  };
}

/** Picks a free TCP port on 127.0.0.1. */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/** Environment for a service process: test database, private queue prefix, temp storage. */
export function serviceEnv(options: {
  databaseUrl: string;
  storagePath: string;
  port?: number;
  prefix?: string;
  extra?: Record<string, string>;
}): Record<string, string> {
  return {
    DATABASE_URL: options.databaseUrl,
    REDIS_URL: testRedisUrl(),
    QUEUE_PREFIX: options.prefix ?? testQueuePrefix(),
    STORAGE_PATH: options.storagePath,
    PORT: String(options.port ?? freePort()),
    HOST: "127.0.0.1",
    LOG_LEVEL: "info",
    LOCAL_STEP_MS: "10",
    RUST_BACKTRACE: "0",
    ...options.extra,
  };
}

/** PATH, HOME and DENO_DIR: what a child deno needs to find itself and its cache. */
function baseEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const key of ["PATH", "HOME", "DENO_DIR"]) {
    const value = Deno.env.get(key);
    if (value) env[key] = value;
  }
  return env;
}

/**
 * The `deno run ...` command behind a deno.json task (its last `&&` step, without leading VAR=x
 * assignments), so a test runs the very same command but as a direct child it can kill -9.
 */
export async function taskCommand(role: string): Promise<string[]> {
  const config = JSON.parse(await Deno.readTextFile(new URL("deno.json", ROOT)));
  const task = config.tasks?.[role];
  const command: string | undefined = typeof task === "string" ? task : task?.command;
  if (!command) throw new Error(`deno.json has no task ${role}`);
  const last = command.split("&&").pop()!.trim().split(/\s+/);
  while (/^[A-Z_]+=/.test(last[0])) last.shift();
  if (last[0] !== "deno") throw new Error(`task ${role} does not run deno: ${command}`);
  return last.slice(1);
}

let uiBuilt: Promise<unknown> | undefined;

/** Builds the UI once per test process (the tasks would, but several at once would race). */
function buildUiOnce(): Promise<unknown> {
  uiBuilt ??= runTask(["build:ui", "--if-stale"], {}).then((r) => {
    if (r.code !== 0) throw new Error(`build:ui failed:\n${r.output}`);
  });
  return uiBuilt;
}

/**
 * Starts the command of `deno task <role>` with `env` (nothing inherited that could point
 * elsewhere); `denoFlags` go after `deno run` (the benchmark's `--cpu-prof`).
 */
export async function startService(
  role: string,
  env: Record<string, string>,
  options: { denoFlags?: string[] } = {},
): Promise<ServiceProcess> {
  await buildUiOnce();
  const [run, ...rest] = await taskCommand(role);
  const child = new Deno.Command("deno", {
    args: [run, ...options.denoFlags ?? [], ...rest],
    cwd: ROOT,
    env: { ...baseEnv(), ...env },
    clearEnv: true,
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let text = "";
  const collect = (stream: ReadableStream<Uint8Array>) => {
    const decoder = new TextDecoder();
    return stream.pipeTo(
      new WritableStream({
        write: (chunk) => void (text += decoder.decode(chunk, { stream: true })),
      }),
    ).catch(() => {});
  };
  const done = Promise.all([collect(child.stdout), collect(child.stderr)]);
  return {
    role,
    child,
    output: () => text,
    async stop(graceMs = 10_000) {
      const status = await stopChild(child, graceMs);
      await done;
      return status;
    },
  };
}

/** Sends `child` SIGTERM, then SIGKILL if it has not exited within `graceMs`; resolves on exit. */
export async function stopChild(
  child: Deno.ChildProcess,
  graceMs: number,
): Promise<Deno.CommandStatus> {
  try {
    child.kill("SIGTERM");
  } catch { /* already exited */ }
  const timer = setTimeout(() => {
    try {
      child.kill("SIGKILL");
    } catch { /* exited */ }
  }, graceMs);
  try {
    return await child.status;
  } finally {
    clearTimeout(timer);
  }
}

/** Runs `deno task <args>` to completion and returns its exit code and output. */
export async function runTask(
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number; output: string }> {
  const out = await new Deno.Command("deno", {
    args: ["task", "--quiet", ...args],
    cwd: ROOT,
    env: { ...baseEnv(), ...env },
    clearEnv: true,
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, output: dec.decode(out.stdout) + dec.decode(out.stderr) };
}

/** Polls `url` until it answers (any status) or fails after `timeoutMs`. */
export async function waitForHttp(url: string, timeoutMs = 30_000, proc?: ServiceProcess) {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
      await res.body?.cancel();
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error(`${url} did not answer within ${timeoutMs} ms\n${proc?.output() ?? ""}`);
}

export interface Stack {
  env: Record<string, string>;
  /** The API's base URL, e.g. http://127.0.0.1:PORT/api/v1. */
  api: string;
  databaseUrl: string;
  fake: FakeReplicate;
  /** Submits a job for a Replicate model (served by the fake) and returns its id. */
  submit(prompt?: string): Promise<string>;
  /** Polls the job until its status is one of `want`. */
  waitStatus(id: string, want: string[], ms?: number): Promise<JobJson>;
  cleanup(): Promise<void>;
}

/**
 * A migrated database of its own, a fake Replicate with `latencyMs`, temp storage and a running
 * api process; workers are started by the test (`startService("worker", stack.env)`).
 */
export async function startStack(
  latencyMs: number,
  extra: Record<string, string> = {},
): Promise<Stack> {
  const database = await createTestDatabase();
  const storage = await Deno.makeTempDir({ prefix: "darkroom-stack-" });
  const fake = await startFakeReplicate({ latencyMs });
  const env = serviceEnv({
    databaseUrl: database.url,
    storagePath: storage,
    extra: { REPLICATE_API_TOKEN: fake.token, REPLICATE_BASE_URL: fake.url, ...extra },
  });
  const migrated = await runTask(["migrate"], env);
  if (migrated.code !== 0) throw new Error(`migrate failed:\n${migrated.output}`);
  const apiProcess = await startService("api", env);
  const api = `http://127.0.0.1:${env.PORT}/api/v1`;
  await waitForHttp(`${api}/health`, 30_000, apiProcess);
  return {
    env,
    api,
    databaseUrl: database.url,
    fake,
    async submit(prompt = "a job") {
      const res = await fetch(`${api}/generate`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ prompt, model: "acme/painter" }),
      });
      return (await res.json()).job_id as string;
    },
    async waitStatus(id, want, ms = 30_000) {
      const until = Date.now() + ms;
      while (Date.now() < until) {
        const job: JobJson = await (await fetch(`${api}/status/${id}`)).json();
        if (want.includes(job.status)) return job;
        await new Promise((r) => setTimeout(r, 50));
      }
      throw new Error(`job ${id} never reached ${want}`);
    },
    async cleanup() {
      await apiProcess.stop();
      await deleteQueueKeys(env.QUEUE_PREFIX); // the test stopped its workers before this
      await fake.close();
      await database.drop();
      await Deno.remove(storage, { recursive: true });
    },
  };
}
