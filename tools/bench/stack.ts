/**
 * The stack a scenario runs on: a fresh database (migrated), queue prefix, storage folder, a fake
 * Replicate in this process, and the real `api` and `worker` processes; everything it starts is
 * undone in reverse when it closes.
 */
import { deleteQueueKeys } from "../../shared/testing/db.ts";
import { type FakeReplicate, startFakeReplicate } from "../../shared/testing/fake_replicate.ts";
import {
  createTestDatabase,
  runTask,
  serviceEnv,
  type ServiceProcess,
  startService,
} from "../../shared/testing/processes.ts";
import {
  type BenchRun,
  checkInterrupted,
  Interrupted,
  log,
  type Role,
  type RoleEnv,
  sleep,
} from "./run.ts";

/** The API's path prefix. */
export const API = "/api/v1";
const MODEL = "acme/bench";
/** The job every POST /generate of the benchmark submits. */
export const JOB_BODY = JSON.stringify({
  prompt: "a lighthouse on a cliff at dusk",
  model: MODEL,
  parameters: { width: 64, height: 64 },
});

/** One scenario's services and what undoes them. */
export interface Stack {
  /** The run the stack belongs to (its interruption). */
  run: BenchRun;
  base: string;
  /** The environment every process of the stack shares. */
  env: Record<string, string>;
  /** Added to `env` for the processes of one role. */
  roleEnv: RoleEnv;
  fake?: FakeReplicate;
  api?: ServiceProcess;
  worker?: ServiceProcess;
  /** Registers an undo step; once the stack is closing, runs it at once and throws. */
  defer(undo: () => Promise<unknown>): void;
  /** Undoes everything in reverse: processes, queue keys, fake, stored images, database. */
  close(): Promise<void>;
}

function newStack(run: BenchRun): Stack {
  const undo: (() => Promise<unknown>)[] = [];
  let closing: Promise<void> | undefined;
  const stack: Stack = {
    run,
    base: "",
    env: {},
    roleEnv: {},
    defer(fn) {
      if (closing) {
        void fn().catch(() => {});
        throw new Interrupted();
      }
      undo.push(fn);
    },
    close() {
      closing ??= (async () => {
        while (undo.length > 0) {
          await undo.pop()!().catch((err) => log(`cleanup step failed: ${err?.message ?? err}`));
        }
        run.open.delete(stack);
      })();
      return closing;
    },
  };
  run.open.add(stack);
  return stack;
}

/** Starts a role like `startService`, adding `--cpu-prof` when profiling is on. */
function startRole(
  role: string,
  env: Record<string, string>,
  profileDir: string | undefined,
  extraFlags: string[] = [],
): Promise<ServiceProcess> {
  const denoFlags = profileDir ? ["--cpu-prof", `--cpu-prof-dir=${profileDir}/${role}`] : [];
  return startService(role, env, { denoFlags: [...denoFlags, ...extraFlags] });
}

const stops = new WeakMap<ServiceProcess, Promise<void>>();

/** Stops a process once (later calls wait for the same stop) and reports a bad exit. */
export function stopChecked(run: BenchRun, proc: ServiceProcess | undefined): Promise<void> {
  if (!proc) return Promise.resolve();
  let stopping = stops.get(proc);
  if (!stopping) {
    stopping = proc.stop(15_000).then((status) => {
      if (status.code !== 0 && !run.signal.aborted) {
        log(`${proc.role} exited with ${status.code}:\n${proc.output().slice(-2000)}`);
      }
    });
    stops.set(proc, stopping);
  }
  return stopping;
}

/** Waits until `url` answers anything; returns ms from `since` and the status. */
export async function firstAnswer(
  stack: Stack,
  url: string,
  options: { since: number; timeoutMs: number; proc?: ServiceProcess },
): Promise<{ ms: number; status: number }> {
  const { since, timeoutMs, proc } = options;
  const until = since + timeoutMs;
  while (performance.now() < until) {
    checkInterrupted(stack.run);
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
      await res.body?.cancel();
      return { ms: performance.now() - since, status: res.status };
    } catch {
      await sleep(5);
    }
  }
  throw new Error(`${url} did not answer within ${timeoutMs} ms\n${proc?.output().slice(-2000)}`);
}

/** Waits until the stack's /health counts a worker online. */
export async function waitForWorker(stack: Stack, timeoutMs = 30_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    checkInterrupted(stack.run);
    try {
      const res = await fetch(`${stack.base}${API}/health`);
      const body = await res.json();
      if (body?.checks?.workers?.online >= 1) return;
    } catch { /* not yet */ }
    await sleep(100);
  }
  throw new Error("the worker did not come online");
}

/** A fresh database (migrated), queue prefix, storage folder and fake provider. */
export async function openStack(
  run: BenchRun,
  name: string,
  options: { latencyMs: number; roleEnv?: RoleEnv },
): Promise<Stack> {
  checkInterrupted(run);
  const stack = newStack(run);
  stack.roleEnv = options.roleEnv ?? {};
  try {
    const database = await createTestDatabase();
    stack.defer(() => database.drop());
    const storage = await Deno.makeTempDir({ prefix: `darkroom-bench-${name}-` });
    stack.defer(() => Deno.remove(storage, { recursive: true }));
    const fake = await startFakeReplicate({ latencyMs: options.latencyMs });
    stack.fake = fake;
    stack.defer(() => fake.close());
    const prefix = `darkroom-bench-${crypto.randomUUID().slice(0, 8)}`;
    stack.defer(() => deleteQueueKeys(prefix));
    stack.env = serviceEnv({
      databaseUrl: database.url,
      storagePath: storage,
      prefix,
      extra: {
        REPLICATE_API_TOKEN: fake.token,
        REPLICATE_BASE_URL: fake.url,
        LOG_LEVEL: "warn",
        SHUTDOWN_TIMEOUT_S: "5",
        // Capacity, not the limiter, is measured: an open API without per-client limits.
        AUTH_MODE: "none",
        RATE_LIMIT_PER_MINUTE: "0",
        MAX_ACTIVE_JOBS_PER_KEY: "0",
        READS_PER_MINUTE: "0",
        MAX_STREAMS_PER_KEY: "0",
      },
    });
    stack.base = `http://127.0.0.1:${stack.env.PORT}`;
    const migrated = await runTask(["migrate"], stack.env);
    if (migrated.code !== 0) throw new Error(`migrate failed:\n${migrated.output}`);
    checkInterrupted(run);
    return stack;
  } catch (err) {
    await stack.close();
    throw err;
  }
}

/** Starts a role for `stack`; it is stopped when the stack closes. */
export async function startProcess(
  stack: Stack,
  role: Role,
  options: { env?: Record<string, string>; profileDir?: string; denoFlags?: string[] } = {},
): Promise<ServiceProcess> {
  checkInterrupted(stack.run);
  const proc = await startRole(
    role,
    options.env ?? { ...stack.env, ...stack.roleEnv[role] },
    options.profileDir,
    options.denoFlags,
  );
  stack.defer(() => stopChecked(stack.run, proc));
  return proc;
}

/** Starts the stack's worker. */
export async function startWorker(stack: Stack, profileDir?: string): Promise<void> {
  stack.worker = await startProcess(stack, "worker", { profileDir });
}

/** Starts the stack's api; returns ms until its /health answered. */
export async function startApi(stack: Stack, profileDir?: string): Promise<number> {
  const t0 = performance.now();
  stack.api = await startProcess(stack, "api", { profileDir });
  const { ms } = await firstAnswer(stack, `${stack.base}${API}/health`, {
    since: t0,
    timeoutMs: 60_000,
    proc: stack.api,
  });
  return ms;
}
