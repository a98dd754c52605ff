/**
 * `deno task bench [--quick] [--loadgen=wrk|deno] [--cpu-prof=DIR] [--only=http,small,large]
 * [--rss-jobs=N] [--api-env=JSON] [--worker-env=JSON]`: measures the scaled-out
 * shape end to end. It starts what it needs (a fresh Postgres database and queue prefix per
 * scenario, a fake Replicate in this process, the real `api` and `worker` processes), drives HTTP
 * load from a separate process (Debian's `wrk` when installed, else `bench_load.ts`), and prints
 * a table beside the old stack's figures and the targets, then one JSON object on the last line.
 *
 * Scenarios (full run; `--quick` shortens every one):
 *  1. cold start: spawn the api, time until /api/v1/health answers (3 trials, median).
 *  2. HTTP: POST /generate, GET /status/{id}, GET /jobs?limit=20, 32 connections, 10 s each
 *     after a 3 s warm-up at the same load (the JIT compiles the hot path first);
 *     the worker runs during the POST flood (provider 1 s). It is then stopped, so its backlog
 *     does not compete, and the POST flood is run once more for the API alone (orientation).
 *     Every 202 job id is then read back.
 *  3. 60 jobs submitted at once, provider 1 s: makespan and per-job created→completed.
 *  4. 500 jobs at once, provider instant; then 5,000 more for the worker's RSS growth.
 * `--only` runs some of scenarios 2–4 (cold start belongs to 2); `--rss-jobs` sets the jobs of the
 * RSS growth run (a soak: `--only=large --rss-jobs=50000`); `--api-env` / `--worker-env` add
 * environment variables (a JSON object) to one role's processes, e.g.
 * `--worker-env='{"DENO_V8_FLAGS":"--max-old-space-size=256"}'`.
 * Before the scenarios it measures the machine against the issue's own orientation limits
 * (Postgres commits, Redis ops, BullMQ no-op jobs: `bench_yardstick.ts`).
 * The services run with LOG_LEVEL=warn, AUTH_MODE=none and no per-client limits: the benchmark
 * measures capacity, not the rate limiter. `--cpu-prof=DIR` profiles the api and worker of
 * scenario 2 and prints their top functions.
 * `deno task bench --ab [...]` instead compares two settings in alternating floods (bench_ab.ts).
 * Progress goes to stderr; the table and the JSON go to stdout.
 */
import { parseArgs } from "node:util";
import { Redis } from "ioredis";
import { connectPostgres, sql } from "../../shared/db/db.ts";
import { deleteQueueKeys, testDatabaseUrl, testRedisUrl } from "../../shared/testing/db.ts";
import { type FakeReplicate, startFakeReplicate } from "../../shared/testing/fake_replicate.ts";
import {
  createTestDatabase,
  freePort,
  runTask,
  serviceEnv,
  type ServiceProcess,
  startService,
} from "../../shared/testing/processes.ts";
import { hasWrk, type LoadResult, type LoadSpec, quantile, round, runLoadProcess } from "./load.ts";
import { type AbOptions, abReport, parseSetting, runAb, summarize } from "./ab.ts";
import {
  type BullmqYardstick,
  bullmqYardstick,
  ISSUE_MACHINE,
  type PostgresYardstick,
  postgresYardstick,
  type RedisYardstick,
  redisYardstick,
} from "./yardstick.ts";

const ROOT = new URL("../../", import.meta.url);
const API = "/api/v1";
const MODEL = "acme/bench";
const JOB_BODY = JSON.stringify({
  prompt: "a lighthouse on a cliff at dusk",
  model: MODEL,
  parameters: { width: 64, height: 64 },
});

interface Plan {
  mode: "full" | "quick";
  httpS: number;
  /** Seconds of the same load before each measured HTTP run (not counted). */
  warmupS: number;
  connections: number;
  coldStartTrials: number;
  smallJobs: number;
  largeJobs: number;
  rssJobs: number;
}

const PLANS: Record<Plan["mode"], Plan> = {
  full: {
    mode: "full",
    httpS: 10,
    warmupS: 3,
    connections: 32,
    coldStartTrials: 3,
    smallJobs: 60,
    largeJobs: 500,
    rssJobs: 5000,
  },
  quick: {
    mode: "quick",
    httpS: 3,
    warmupS: 1,
    connections: 32,
    coldStartTrials: 1,
    smallJobs: 60,
    largeJobs: 100,
    rssJobs: 500,
  },
};

function log(line: string): void {
  console.error(`[bench ${new Date().toISOString().slice(11, 19)}] ${line}`);
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

// ---------------------------------------------------------------------------------------------
// /proc: memory and CPU of the processes involved

/** VmRSS and VmHWM (peak RSS) of a process, in MB; null once it has exited. */
async function memoryOf(pid: number): Promise<{ rssMb: number; peakMb: number } | null> {
  try {
    const text = await Deno.readTextFile(`/proc/${pid}/status`);
    const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(text)?.[1]);
    return { rssMb: round(kb("VmRSS") / 1024), peakMb: round(kb("VmHWM") / 1024) };
  } catch {
    return null;
  }
}

/** comm, utime+stime and cutime+cstime (clock ticks) from /proc/<pid>/stat. */
async function statOf(
  pid: number | "self",
): Promise<{ comm: string; ticks: number; childTicks: number } | null> {
  try {
    const text = await Deno.readTextFile(`/proc/${pid}/stat`);
    const close = text.lastIndexOf(")");
    const comm = text.slice(text.indexOf("(") + 1, close);
    const f = text.slice(close + 2).split(" ");
    // Fields 14-17 of proc(5); f[0] is field 3.
    return {
      comm,
      ticks: Number(f[11]) + Number(f[12]),
      childTicks: Number(f[13]) + Number(f[14]),
    };
  } catch {
    return null;
  }
}

/** Ticks of every process on the machine, by pid. */
async function allTicks(): Promise<Map<number, { comm: string; ticks: number }>> {
  const out = new Map<number, { comm: string; ticks: number }>();
  const reads: Promise<void>[] = [];
  for await (const entry of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    const pid = Number(entry.name);
    reads.push(
      statOf(pid).then((s) => {
        if (s) out.set(pid, { comm: s.comm, ticks: s.ticks });
      }),
    );
  }
  await Promise.all(reads);
  return out;
}

async function machineTicks(): Promise<{ busy: number; total: number }> {
  const line = (await Deno.readTextFile("/proc/stat")).split("\n")[0];
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  const idle = v[3] + (v[4] ?? 0);
  const total = v.reduce((a, b) => a + b, 0);
  return { busy: total - idle, total };
}

let clockTicks = 100;

interface CpuSnapshot {
  at: number;
  roles: Record<string, number>;
  pids: number[];
  others: Map<number, { comm: string; ticks: number }>;
  self: { ticks: number; childTicks: number };
  machine: { busy: number; total: number };
}

/** Where the CPU went between two snapshots, in cores (1.0 = one core busy all the time). */
interface CpuSplit {
  wallS: number;
  cores: Record<string, number>;
  machineBusyPct: number;
}

async function cpuSnapshot(roles: Record<string, number | undefined>): Promise<CpuSnapshot> {
  const out: Record<string, number> = {};
  for (const [name, pid] of Object.entries(roles)) {
    if (pid !== undefined) out[name] = (await statOf(pid))?.ticks ?? NaN;
  }
  const self = await statOf("self");
  return {
    at: performance.now(),
    roles: out,
    pids: Object.values(roles).filter((p): p is number => p !== undefined),
    others: await allTicks(),
    self: { ticks: self?.ticks ?? 0, childTicks: self?.childTicks ?? 0 },
    machine: await machineTicks(),
  };
}

function cpuSplit(a: CpuSnapshot, b: CpuSnapshot, loadgen?: string): CpuSplit {
  const wallS = (b.at - a.at) / 1000;
  const cores = (ticks: number) => round(ticks / clockTicks / wallS, 2);
  const split: Record<string, number> = {};
  for (const name of Object.keys(b.roles)) split[name] = cores(b.roles[name] - a.roles[name]);
  // Everything else by command name: Postgres and Redis, and whatever else ran on the machine.
  const ourPids = new Set([...a.pids, Deno.pid]);
  const byComm = new Map<string, number>();
  for (const [pid, s] of b.others) {
    if (ourPids.has(pid)) continue;
    const delta = s.ticks - (a.others.get(pid)?.ticks ?? 0);
    if (delta > 0) byComm.set(s.comm, (byComm.get(s.comm) ?? 0) + delta);
  }
  split.postgres = cores(byComm.get("postgres") ?? 0);
  split.redis = cores(byComm.get("redis-server") ?? 0);
  byComm.delete("postgres");
  byComm.delete("redis-server");
  for (const [comm, ticks] of byComm) {
    if (cores(ticks) >= 0.05) split[`other: ${comm}`] = cores(ticks);
  }
  // Children reaped in the window (the load generator) add to this process's cutime/cstime.
  if (loadgen) split[loadgen] = cores(b.self.childTicks - a.self.childTicks);
  split["bench+fake provider"] = cores(b.self.ticks - a.self.ticks);
  const busy = b.machine.busy - a.machine.busy;
  const total = b.machine.total - a.machine.total;
  // What no process above accounts for: kernel work (loopback networking, softirq) and
  // processes that started and ended inside the window.
  const seen = Object.values(split).reduce((x, y) => x + y, 0);
  const machineCores = (busy / total) * navigator.hardwareConcurrency;
  split.unattributed = round(Math.max(0, machineCores - seen), 2);
  return { wallS: round(wallS, 2), cores: split, machineBusyPct: round((busy / total) * 100) };
}

/** Samples the RSS of some processes every 200 ms; `stop()` returns the largest seen (MB). */
function watchRss(pids: Record<string, number>): { stop(): Promise<Record<string, number>> } {
  const max: Record<string, number> = {};
  let running = true;
  const loop = (async () => {
    while (running) {
      for (const [name, pid] of Object.entries(pids)) {
        const m = await memoryOf(pid);
        if (m) max[name] = Math.max(max[name] ?? 0, m.rssMb);
      }
      await sleep(200);
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return max;
    },
  };
}

// ---------------------------------------------------------------------------------------------
// The stack: database, queue prefix, fake provider, api and worker

type Role = "api" | "worker";
/** Extra environment for one role's processes (`--api-env`, `--worker-env`). */
type RoleEnv = Partial<Record<Role, Record<string, string>>>;

interface Stack {
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

const openStacks = new Set<Stack>();
/** Set by Ctrl-C / SIGTERM: nothing new starts, everything started is undone. */
let interrupted = false;
/** Aborted with `interrupted`: stops the load generator. */
const interruption = new AbortController();

class Interrupted extends Error {
  constructor() {
    super("interrupted");
  }
}

function checkInterrupted(): void {
  if (interrupted) throw new Interrupted();
}

function newStack(): Stack {
  const undo: (() => Promise<unknown>)[] = [];
  let closing: Promise<void> | undefined;
  const stack: Stack = {
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
        openStacks.delete(stack);
      })();
      return closing;
    },
  };
  openStacks.add(stack);
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
function stopChecked(proc: ServiceProcess | undefined): Promise<void> {
  if (!proc) return Promise.resolve();
  let stopping = stops.get(proc);
  if (!stopping) {
    stopping = proc.stop(15_000).then((status) => {
      if (status.code !== 0 && !interrupted) {
        log(`${proc.role} exited with ${status.code}:\n${proc.output().slice(-2000)}`);
      }
    });
    stops.set(proc, stopping);
  }
  return stopping;
}

/** Waits until `url` answers anything; returns ms from `since` and the status. */
async function firstAnswer(
  url: string,
  since: number,
  timeoutMs: number,
  proc?: ServiceProcess,
): Promise<{ ms: number; status: number }> {
  const until = since + timeoutMs;
  while (performance.now() < until) {
    checkInterrupted();
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

async function waitForWorker(base: string, timeoutMs = 30_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    checkInterrupted();
    try {
      const res = await fetch(`${base}${API}/health`);
      const body = await res.json();
      if (body?.checks?.workers?.online >= 1) return;
    } catch { /* not yet */ }
    await sleep(100);
  }
  throw new Error("the worker did not come online");
}

/** A fresh database (migrated), queue prefix, storage folder and fake provider. */
async function openStack(
  name: string,
  options: { latencyMs: number; roleEnv?: RoleEnv },
): Promise<Stack> {
  checkInterrupted();
  const stack = newStack();
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
    checkInterrupted();
    return stack;
  } catch (err) {
    await stack.close();
    throw err;
  }
}

/** Starts a role for `stack`; it is stopped when the stack closes. */
async function startProcess(
  stack: Stack,
  role: Role,
  options: { env?: Record<string, string>; profileDir?: string; denoFlags?: string[] } = {},
): Promise<ServiceProcess> {
  checkInterrupted();
  const proc = await startRole(
    role,
    options.env ?? { ...stack.env, ...stack.roleEnv[role] },
    options.profileDir,
    options.denoFlags,
  );
  stack.defer(() => stopChecked(proc));
  return proc;
}

async function startWorker(stack: Stack, profileDir?: string): Promise<void> {
  stack.worker = await startProcess(stack, "worker", { profileDir });
}

async function startApi(stack: Stack, profileDir?: string): Promise<number> {
  const t0 = performance.now();
  stack.api = await startProcess(stack, "api", { profileDir });
  const { ms } = await firstAnswer(`${stack.base}${API}/health`, t0, 60_000, stack.api);
  return ms;
}

// ---------------------------------------------------------------------------------------------
// HTTP load (in a separate process: see bench_load.ts)

interface HttpMeasure extends LoadResult {
  cpu: CpuSplit;
}

/** Runs one load (`spec` without connections and duration: the plan's) and where the CPU went. */
async function measureHttp(
  ctx: {
    base: string;
    plan: Pick<Plan, "connections" | "httpS" | "warmupS">;
    tmp: string;
    useWrk: boolean;
  },
  name: string,
  spec: Omit<LoadSpec, "url" | "connections" | "durationS"> & { path: string },
  roles: Record<string, number | undefined>,
): Promise<HttpMeasure> {
  checkInterrupted();
  const { path, ...rest } = spec;
  // A warm-up at the same load first: the JIT compiles the hot path before anything is timed.
  if (ctx.plan.warmupS > 0) {
    log(`${name}: warm-up, ${ctx.plan.connections} connections for ${ctx.plan.warmupS} s`);
    await runLoadProcess({
      ...rest,
      idsOut: rest.idsOut ? `${rest.idsOut}.warmup` : undefined,
      url: `${ctx.base}${path}`,
      connections: ctx.plan.connections,
      durationS: ctx.plan.warmupS,
    }, { useWrk: ctx.useWrk, tmp: ctx.tmp, name: `${name}_warmup`, signal: interruption.signal });
  }
  log(`${name}: ${ctx.plan.connections} connections for ${ctx.plan.httpS} s`);
  const before = await cpuSnapshot(roles);
  const result = await runLoadProcess({
    ...rest,
    url: `${ctx.base}${path}`,
    connections: ctx.plan.connections,
    durationS: ctx.plan.httpS,
  }, { useWrk: ctx.useWrk, tmp: ctx.tmp, name, signal: interruption.signal });
  const after = await cpuSnapshot(roles);
  const cpu = cpuSplit(before, after, result.tool);
  log(
    `${name}: ${Math.round(result.rps)} req/s, p50 ${result.latencyMs.p50.toFixed(1)} ms, ` +
      `p99 ${result.latencyMs.p99.toFixed(1)} ms, errors ${result.errors}; cpu ${
        JSON.stringify(cpu.cores)
      }`,
  );
  return { ...result, cpu };
}

// ---------------------------------------------------------------------------------------------
// Jobs end to end

/** Runs `fn` over `items` with at most `limit` at once. */
async function pool<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const lane = async () => {
    while (next < items.length) {
      checkInterrupted();
      const i = next++;
      results[i] = await fn(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
  return results;
}

async function submit(base: string): Promise<string> {
  const res = await fetch(`${base}${API}/generate`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JOB_BODY,
  });
  const body = await res.json();
  if (res.status !== 202) throw new Error(`POST /generate answered ${res.status}`);
  return body.job_id;
}

async function countJobs(base: string, status: string): Promise<number> {
  const res = await fetch(`${base}${API}/jobs?status=${status}&limit=1`);
  await res.body?.cancel();
  return Number(res.headers.get("x-total-count") ?? 0);
}

/** Waits until `n` jobs are completed or failed; returns how many of each. */
async function waitForJobs(
  base: string,
  n: number,
  timeoutMs: number,
  pollMs: number,
): Promise<{ completed: number; failed: number; timedOut: boolean }> {
  const until = Date.now() + timeoutMs;
  while (true) {
    checkInterrupted();
    const [completed, failed] = await Promise.all([
      countJobs(base, "completed"),
      countJobs(base, "failed"),
    ]);
    if (completed + failed >= n) return { completed, failed, timedOut: false };
    if (Date.now() > until) return { completed, failed, timedOut: true };
    await sleep(pollMs);
  }
}

interface JobTimes {
  id: string;
  status: string;
  created_at: string;
  started_at: string | null;
  completed_at: string | null;
}

/** p50 / p95 / max of seconds, rounded to ms. */
function spread(values: number[]): { p50: number; p95: number; max: number } {
  const sorted = Float64Array.from(values).sort();
  return {
    p50: round(quantile(sorted, 0.5), 3),
    p95: round(quantile(sorted, 0.95), 3),
    max: round(sorted[sorted.length - 1], 3),
  };
}

async function allJobs(base: string, n: number): Promise<JobTimes[]> {
  const jobs: JobTimes[] = [];
  for (let skip = 0; skip < n; skip += 100) {
    const res = await fetch(`${base}${API}/jobs?limit=100&skip=${skip}`);
    jobs.push(...await res.json());
  }
  return jobs;
}

interface E2eMeasure {
  jobs: number;
  providerLatencyMs: number;
  completed: number;
  failed: number;
  timedOut: boolean;
  submitS: number;
  makespanS: number;
  /** created_at → completed_at of each job. */
  perJobS: { p50: number; p95: number; max: number };
  /** created_at → started_at: the time a job waited for a worker. */
  queueWaitS: { p50: number; p95: number; max: number };
  /** started_at → completed_at: provider call, polling, download, bookkeeping. */
  runS: { p50: number; p95: number; max: number };
  cpu: CpuSplit;
}

async function measureE2e(stack: Stack, n: number, providerLatencyMs: number): Promise<E2eMeasure> {
  checkInterrupted();
  log(`e2e: ${n} jobs at once, provider ${providerLatencyMs} ms`);
  const roles = { api: stack.api?.child.pid, worker: stack.worker?.child.pid };
  const before = await cpuSnapshot(roles);
  const t0 = Date.now();
  await Promise.all(Array.from({ length: n }, () => submit(stack.base)));
  const submitS = (Date.now() - t0) / 1000;
  const done = await waitForJobs(stack.base, n, 120_000, 20);
  const after = await cpuSnapshot(roles);
  const jobs = await allJobs(stack.base, n);
  const finished = jobs.filter((j) => j.completed_at !== null);
  const ends = finished.map((j) => Date.parse(j.completed_at!));
  const seconds = (from: string | null, to: string | null) =>
    (Date.parse(to ?? "") - Date.parse(from ?? "")) / 1000;
  const result: E2eMeasure = {
    jobs: n,
    providerLatencyMs,
    completed: done.completed,
    failed: done.failed,
    timedOut: done.timedOut,
    submitS: round(submitS, 3),
    makespanS: round((Math.max(...ends) - t0) / 1000, 3),
    perJobS: spread(finished.map((j) => seconds(j.created_at, j.completed_at))),
    queueWaitS: spread(finished.map((j) => seconds(j.created_at, j.started_at))),
    runS: spread(finished.map((j) => seconds(j.started_at, j.completed_at))),
    cpu: cpuSplit(before, after),
  };
  log(
    `e2e ${n}: makespan ${result.makespanS} s, per job p50 ${result.perJobS.p50} s / p95 ${result.perJobS.p95} s ` +
      `(queue wait p50 ${result.queueWaitS.p50} s, run p50 ${result.runS.p50} s), ` +
      `${result.completed} completed, ${result.failed} failed; cpu ${
        JSON.stringify(result.cpu.cores)
      }`,
  );
  return result;
}

// ---------------------------------------------------------------------------------------------
// Profiles

/** The functions with the most self time in a .cpuprofile, as "percent name (file:line)". */
async function topFunctions(dir: string, limit = 25): Promise<string[]> {
  const out: string[] = [];
  for await (const f of Deno.readDir(dir)) {
    if (!f.name.endsWith(".cpuprofile")) continue;
    const profile = JSON.parse(await Deno.readTextFile(`${dir}/${f.name}`));
    const byNode = new Map<number, { name: string }>();
    for (const node of profile.nodes) {
      const cf = node.callFrame;
      const file = cf.url ? cf.url.replace(/^.*\/(node_modules|registry\.npmjs\.org)\//, "") : "";
      const where = file
        ? ` (${file.replace(/^file:\/\/.*?\/main\//, "")}:${cf.lineNumber + 1})`
        : "";
      byNode.set(node.id, { name: `${cf.functionName || "(anonymous)"}${where}` });
    }
    const self = new Map<string, number>();
    let total = 0;
    const deltas: number[] = profile.timeDeltas;
    profile.samples.forEach((id: number, i: number) => {
      const name = byNode.get(id)!.name;
      self.set(name, (self.get(name) ?? 0) + deltas[i]);
      total += deltas[i];
    });
    const busy = [...self].filter(([n]) => n !== "(idle) " && !n.startsWith("(idle)"));
    const busyTotal = busy.reduce((a, [, v]) => a + v, 0);
    out.push(
      `${f.name}: ${round(total / 1e6)} s sampled, ${round((busyTotal / total) * 100)} % not idle`,
    );
    for (const [name, us] of busy.sort((a, b) => b[1] - a[1]).slice(0, limit)) {
      out.push(`  ${((us / busyTotal) * 100).toFixed(1).padStart(5)} %  ${name}`);
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Formatting and machine facts

const TARGETS = {
  post: { rps: 3000, p99Ms: 25 },
  status: { rps: 8000 },
  jobs: { rps: 3200 },
  small: { makespanS: 1.8 },
  large: { makespanS: 5 },
};

function fmtInt(n: number): string {
  return Math.round(n).toLocaleString("en-US");
}

function fmtHttp(m: HttpMeasure | undefined): string {
  if (!m) return "not measured";
  const l = m.latencyMs;
  return `${fmtInt(m.rps)} req/s, p50 ${l.p50.toFixed(1)} ms, p99 ${l.p99.toFixed(1)} ms, max ${
    l.max.toFixed(0)
  } ms${m.errors > 0 ? `, ${m.errors} errors` : ""}`;
}

function fmtE2e(m: E2eMeasure | undefined): string {
  if (!m) return "not measured";
  const bad = m.failed > 0 || m.timedOut
    ? ` (${m.failed} failed${m.timedOut ? ", timed out" : ""})`
    : "";
  return `${m.makespanS.toFixed(2)} s makespan; per job p50 ${m.perJobS.p50.toFixed(2)} s, p95 ${
    m.perJobS.p95.toFixed(2)
  } s${bad}`;
}

function verdict(ok: boolean | undefined): string {
  return ok === undefined ? "–" : ok ? "yes" : "NO";
}

function markdownTable(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(" | ")} |`;
  return [line(header), `| ${widths.map((w) => "-".repeat(w)).join(" | ")} |`, ...rows.map(line)]
    .join("\n");
}

async function gitRevision(): Promise<string> {
  const git = (args: string[]) =>
    new Deno.Command("git", { args, cwd: ROOT, stdout: "piped", stderr: "null" }).output()
      .then((o) => new TextDecoder().decode(o.stdout).trim()).catch(() => "");
  const [head, dirty] = await Promise.all([
    git(["rev-parse", "--short", "HEAD"]),
    git(["status", "--porcelain", "--untracked-files=no"]),
  ]);
  return head ? `${head}${dirty ? " + uncommitted changes" : ""}` : "unknown";
}

/** How busy the machine is with nothing of ours running (percent of all cores). */
async function backgroundBusyPct(ms = 1000): Promise<number> {
  const a = await machineTicks();
  await sleep(ms);
  const b = await machineTicks();
  return round(((b.busy - a.busy) / (b.total - a.total)) * 100);
}

async function machineInfo(loadgen: string): Promise<Record<string, unknown>> {
  const yardstickPrefix = `darkroom-bench-${crypto.randomUUID().slice(0, 8)}`;
  const cpuinfo = await Deno.readTextFile("/proc/cpuinfo").catch(() => "");
  const meminfo = await Deno.readTextFile("/proc/meminfo").catch(() => "");
  const db = connectPostgres(testDatabaseUrl(), { max: 1 });
  const redis = new Redis(testRedisUrl(), { maxRetriesPerRequest: 1 });
  try {
    const [pg] = await db.query<{ server_version: string }>(sql`SHOW server_version`);
    const info = await redis.info("server");
    return {
      cpu: /model name\s*:\s*(.+)/.exec(cpuinfo)?.[1] ?? "unknown",
      cores: navigator.hardwareConcurrency,
      memoryGb: round(Number(/MemTotal:\s+(\d+)/.exec(meminfo)?.[1] ?? 0) / 1024 / 1024),
      kernel: Deno.osRelease(),
      deno: Deno.version.deno,
      postgres: pg.server_version,
      redis: /redis_version:(\S+)/.exec(info)?.[1] ?? "unknown",
      loadGenerator: loadgen,
      revision: await gitRevision(),
      backgroundBusyPct: await backgroundBusyPct(),
      postgresInsertsPerS: await postgresYardstick(testDatabaseUrl()),
      redisOpsPerS: await redisYardstick(testRedisUrl(), yardstickPrefix),
      bullmqNoopJobsPerS: await bullmqYardstick(testRedisUrl(), yardstickPrefix),
    };
  } finally {
    await deleteQueueKeys(yardstickPrefix);
    await db.close();
    redis.disconnect();
  }
}

// ---------------------------------------------------------------------------------------------
// Scenarios

interface Accepted {
  percent: number;
  checked: number;
  ok: number;
  statuses: Record<string, number>;
}

interface Growth {
  jobs: number;
  completed: number;
  failed: number;
  wallS: number;
  jobsPerS: number;
  workerRssBeforeMb: number;
  workerRssAfterMb: number;
  workerGrowthMb: number;
  workerPeakMb: number;
  /** RSS every tenth of the way, to tell a leak (steady climb) from a heap that settles. */
  series: { finished: number; rssMb: number }[];
  cpu: CpuSplit;
}

interface Results {
  plan: Plan;
  /** What the command line chose: the scenarios run and the roles' extra environment. */
  settings: { scenarios: string[]; roleEnv: RoleEnv };
  machine: Record<string, unknown>;
  coldStart?: { medianMs: number; trialsMs: number[]; firstStatus: number };
  post?: HttpMeasure;
  /** The POST flood again with the worker stopped (orientation; no target). */
  postAlone?: HttpMeasure;
  status?: HttpMeasure;
  jobsList?: HttpMeasure & { tableRows: number };
  accepted?: Accepted;
  workerCompletedDuringPostFlood?: number;
  small?: E2eMeasure;
  large?: E2eMeasure;
  growth?: Growth;
  /** RSS figures by phase (MB): apiIdle, workerIdle, apiPeakHttp, workerPeakHttp, ... */
  rss: Record<string, number>;
  failures: string[];
}

interface RunContext {
  plan: Plan;
  tmp: string;
  useWrk: boolean;
  profileDir?: string;
  /** `--api-env` / `--worker-env`. */
  roleEnv: RoleEnv;
  results: Results;
}

async function rssMb(pid: number): Promise<number> {
  return (await memoryOf(pid))?.rssMb ?? NaN;
}

async function peakMb(pid: number): Promise<number> {
  return (await memoryOf(pid))?.peakMb ?? NaN;
}

/** Spawns extra api processes on the stack's database and times each to its first answer. */
async function measureColdStart(stack: Stack, trials: number): Promise<Results["coldStart"]> {
  const times: number[] = [];
  let firstStatus = 0;
  for (let i = 0; i < trials; i++) {
    const port = freePort();
    const t0 = performance.now();
    const api = await startProcess(stack, "api", {
      env: { ...stack.env, ...stack.roleEnv.api, PORT: String(port) },
    });
    try {
      const first = await firstAnswer(`http://127.0.0.1:${port}${API}/health`, t0, 60_000, api);
      times.push(round(first.ms));
      firstStatus = first.status;
    } finally {
      await stopChecked(api);
    }
  }
  times.sort((a, b) => a - b);
  log(`cold start to first /health answer: ${times.join(", ")} ms`);
  return { medianMs: quantile(times, 0.5), trialsMs: times, firstStatus };
}

/** GET /status for every id; how many answered 200. */
async function readBack(base: string, ids: string[]): Promise<Accepted> {
  log(`reading back ${ids.length} accepted jobs`);
  const codes = await pool(ids, 32, async (id) => {
    try {
      const res = await fetch(`${base}${API}/status/${id}`);
      await res.body?.cancel();
      return String(res.status);
    } catch {
      return "error";
    }
  });
  const statuses: Record<string, number> = {};
  for (const c of codes) statuses[c] = (statuses[c] ?? 0) + 1;
  const ok = statuses["200"] ?? 0;
  log(`accepted retrievable: ${ok} of ${ids.length}`);
  return {
    percent: ids.length === 0 ? 0 : round((ok / ids.length) * 100, 2),
    checked: ids.length,
    ok,
    statuses,
  };
}

/** Cold start, then POST / status / list under load on one stack. */
async function httpScenario(ctx: RunContext): Promise<void> {
  const { plan, results: r } = ctx;
  const stack = await openStack("http", { latencyMs: 1000, roleEnv: ctx.roleEnv });
  await startWorker(stack, ctx.profileDir); // the first start also builds the UI if stale
  r.coldStart = await measureColdStart(stack, plan.coldStartTrials);

  await startApi(stack, ctx.profileDir);
  await waitForWorker(stack.base);
  await sleep(1500);
  const apiPid = stack.api!.child.pid;
  const workerPid = stack.worker!.child.pid;
  r.rss.apiIdle = await rssMb(apiPid);
  r.rss.workerIdle = await rssMb(workerPid);
  log(`idle RSS: api ${r.rss.apiIdle} MB, worker ${r.rss.workerIdle} MB`);
  const watcher = watchRss({ api: apiPid, worker: workerPid });
  const load = { base: stack.base, plan, tmp: ctx.tmp, useWrk: ctx.useWrk };

  const idsFile = `${ctx.tmp}/accepted.ids`;
  r.post = await measureHttp(load, "post_generate", {
    method: "POST",
    path: `${API}/generate`,
    body: JOB_BODY,
    idsOut: idsFile,
  }, { api: apiPid, worker: workerPid });
  r.workerCompletedDuringPostFlood = await countJobs(stack.base, "completed");
  const readIds = async (file: string) =>
    (await Deno.readTextFile(file)).split("\n").filter((l) => l.length > 0);
  const ids = await readIds(idsFile);
  const answered202 = Number(r.post.statuses["202"] ?? ids.length);
  if (answered202 !== ids.length) {
    log(`warning: ${answered202} answers were 202 but ${ids.length} job ids were recorded`);
  }

  // The worker's backlog would compete with the next loads for the two cores: stop it.
  r.rss.workerPeakHttp = await peakMb(workerPid);
  await stopChecked(stack.worker);
  stack.worker = undefined;

  // The same flood with the worker stopped: what the API alone takes (for orientation).
  const aloneFile = `${ctx.tmp}/accepted-alone.ids`;
  r.postAlone = await measureHttp(load, "post_generate_api_alone", {
    method: "POST",
    path: `${API}/generate`,
    body: JOB_BODY,
    idsOut: aloneFile,
  }, { api: apiPid });
  // Every accepted job is read back, the warm-ups' too.
  r.accepted = await readBack(stack.base, [
    ...ids,
    ...await readIds(`${idsFile}.warmup`),
    ...await readIds(aloneFile),
    ...await readIds(`${aloneFile}.warmup`),
  ]);

  r.status = await measureHttp(load, "get_status", {
    method: "GET",
    path: `${API}/status/{id}`,
    idsIn: idsFile,
  }, { api: apiPid });
  let rows = 0;
  for (const s of ["pending", "processing", "completed", "failed", "canceled"]) {
    rows += await countJobs(stack.base, s);
  }
  const list = await measureHttp(load, "get_jobs", {
    method: "GET",
    path: `${API}/jobs?limit=20`,
  }, { api: apiPid });
  r.jobsList = { ...list, tableRows: rows };
  const sampled = await watcher.stop();
  r.rss.apiPeakHttp = Math.max(await peakMb(apiPid), sampled.api ?? 0);
  r.rss.workerPeakHttp = Math.max(r.rss.workerPeakHttp, sampled.worker ?? 0);
}

/** `plan.smallJobs` jobs at once, provider 1 s. */
async function smallScenario(ctx: RunContext): Promise<void> {
  const stack = await openStack("small", { latencyMs: 1000, roleEnv: ctx.roleEnv });
  await startWorker(stack);
  await startApi(stack);
  await waitForWorker(stack.base);
  await sleep(500);
  ctx.results.small = await measureE2e(stack, ctx.plan.smallJobs, 1000);
  ctx.results.rss.workerPeakSmall = await peakMb(stack.worker!.child.pid);
}

/** `plan.largeJobs` jobs at once, provider instant; then the worker's RSS over rssJobs more. */
async function largeScenario(ctx: RunContext): Promise<void> {
  const { plan, results: r } = ctx;
  const stack = await openStack("large", { latencyMs: 0, roleEnv: ctx.roleEnv });
  await startWorker(stack);
  await startApi(stack);
  await waitForWorker(stack.base);
  await sleep(500);
  r.large = await measureE2e(stack, plan.largeJobs, 0);
  const workerPid = stack.worker!.child.pid;
  const apiPid = stack.api!.child.pid;

  log(`worker RSS over ${plan.rssJobs} jobs (provider instant)`);
  await sleep(2000);
  const before = await rssMb(workerPid);
  const t0 = performance.now();
  const cpu0 = await cpuSnapshot({ api: apiPid, worker: workerPid });
  const series: Growth["series"] = [];
  let sampling = true;
  const sampler = (async () => {
    let nextAt = 0;
    while (sampling) {
      try {
        const finished = await countJobs(stack.base, "completed") +
          await countJobs(stack.base, "failed") - plan.largeJobs;
        if (finished >= nextAt) {
          series.push({ finished, rssMb: await rssMb(workerPid) });
          nextAt = finished + plan.rssJobs / 10;
        }
      } catch {
        return; // the api is gone; the main flow reports why
      }
      await sleep(250);
    }
  })();
  let ids: string[];
  let done: Awaited<ReturnType<typeof waitForJobs>>;
  try {
    ids = await pool(Array.from({ length: plan.rssJobs }), 32, () => submit(stack.base));
    // At least 50 jobs a second, and never less than three minutes.
    const waitMs = Math.max(180_000, plan.rssJobs * 20);
    done = await waitForJobs(stack.base, plan.largeJobs + ids.length, waitMs, 250);
  } finally {
    sampling = false;
    await sampler;
  }
  const wallS = (performance.now() - t0) / 1000;
  const cpu = cpuSplit(cpu0, await cpuSnapshot({ api: apiPid, worker: workerPid }));
  await sleep(3000);
  const after = await memoryOf(workerPid);
  series.push({ finished: ids.length, rssMb: after?.rssMb ?? NaN });
  r.growth = {
    jobs: ids.length,
    completed: done.completed - plan.largeJobs,
    failed: done.failed,
    wallS: round(wallS, 1),
    jobsPerS: round(ids.length / wallS),
    workerRssBeforeMb: before,
    workerRssAfterMb: after?.rssMb ?? NaN,
    workerGrowthMb: round((after?.rssMb ?? NaN) - before),
    workerPeakMb: after?.peakMb ?? NaN,
    series,
    cpu,
  };
  r.rss.workerPeakLarge = after?.peakMb ?? NaN;
  r.rss.apiPeakLarge = await peakMb(apiPid);
  log(
    `worker RSS ${before} → ${after?.rssMb} MB over ${ids.length} jobs (${r.growth.jobsPerS} jobs/s)`,
  );
}

// ---------------------------------------------------------------------------------------------
// Report

function mb(n: number | undefined): string {
  return n === undefined || !Number.isFinite(n) ? "–" : `${n} MB`;
}

function peakOf(rss: Record<string, number>, ...keys: string[]): number {
  const values = keys.map((k) => rss[k]).filter(Number.isFinite);
  return values.length > 0 ? Math.max(...values) : NaN;
}

/** measure | measured | old stack | target | met */
function summaryRows(r: Results): string[][] {
  const {
    plan,
    post,
    postAlone,
    status,
    jobsList,
    small,
    large,
    accepted,
    coldStart,
    growth,
    rss,
  } = r;
  const e2eMet = (m: E2eMeasure | undefined, limitS: number) =>
    verdict(m && !m.timedOut && m.failed === 0 && m.makespanS <= limitS);
  return [
    [
      `POST generate ${plan.connections} conns`,
      fmtHttp(post),
      "180–300 req/s, p99 280–580 ms",
      "≥ 3,000 req/s, p99 ≤ 25 ms",
      verdict(post && post.rps >= TARGETS.post.rps && post.latencyMs.p99 <= TARGETS.post.p99Ms),
    ],
    [
      `POST generate ${plan.connections} conns, worker stopped (API alone)`,
      fmtHttp(postAlone),
      "–",
      "–",
      "–",
    ],
    [
      `GET status ${plan.connections} conns`,
      fmtHttp(status),
      "~770 req/s",
      "≥ 8,000 req/s",
      verdict(status && status.rps >= TARGETS.status.rps),
    ],
    [
      `GET jobs?limit=20 ${plan.connections} conns`,
      jobsList ? `${fmtHttp(jobsList)} (${fmtInt(jobsList.tableRows)} rows)` : "not measured",
      "~325 req/s",
      "≥ 3,200 req/s",
      verdict(jobsList && jobsList.rps >= TARGETS.jobs.rps),
    ],
    [
      `${plan.smallJobs} jobs, provider 1 s`,
      fmtE2e(small),
      "~31 s",
      "≤ 1.8 s",
      e2eMet(small, TARGETS.small.makespanS),
    ],
    [
      `${plan.largeJobs} jobs, provider instant`,
      fmtE2e(large),
      "~438 s",
      "≤ 5 s",
      e2eMet(large, TARGETS.large.makespanS),
    ],
    [
      "accepted retrievable",
      accepted
        ? `${accepted.percent} % (${fmtInt(accepted.ok)} of ${fmtInt(accepted.checked)})`
        : "not measured",
      "100 %",
      "100 %",
      verdict(accepted && accepted.checked > 0 && accepted.ok === accepted.checked),
    ],
    [
      "cold start to first /health answer",
      coldStart
        ? `${coldStart.medianMs} ms (median of ${coldStart.trialsMs.length})`
        : "not measured",
      "–",
      "–",
      "–",
    ],
    [
      "API RSS idle / peak",
      `${mb(rss.apiIdle)} / ${mb(peakOf(rss, "apiPeakHttp", "apiPeakLarge"))}`,
      "–",
      "–",
      "–",
    ],
    [
      "worker RSS idle / peak",
      `${mb(rss.workerIdle)} / ${
        mb(peakOf(rss, "workerPeakHttp", "workerPeakSmall", "workerPeakLarge"))
      }`,
      "–",
      "–",
      "–",
    ],
    [
      `worker RSS growth over ${fmtInt(plan.rssJobs)} jobs`,
      growth
        ? `${growth.workerGrowthMb >= 0 ? "+" : ""}${growth.workerGrowthMb} MB (${
          mb(growth.workerRssBeforeMb)
        } → ${mb(growth.workerRssAfterMb)}; ${growth.jobsPerS} jobs/s)`
        : "not measured",
      "–",
      "–",
      "–",
    ],
  ];
}

/** scenario | wall | machine busy | not ours | cores by process */
function cpuRows(r: Results): string[][] {
  const rows: string[][] = [];
  const add = (name: string, cpu: CpuSplit | undefined) => {
    if (!cpu) return;
    const parts = Object.entries(cpu.cores).filter(([, v]) => v >= 0.01)
      .sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${v.toFixed(2)}`);
    const others = Object.entries(cpu.cores)
      .filter(([k]) => k.startsWith("other:") || k === "unattributed")
      .reduce((a, [, v]) => a + v, 0);
    rows.push([
      name,
      `${cpu.wallS} s`,
      `${cpu.machineBusyPct} %`,
      `${others.toFixed(2)}${others >= 0.3 ? " (disturbed)" : ""}`,
      parts.join(", "),
    ]);
  };
  add("POST generate", r.post?.cpu);
  add("POST generate, worker stopped", r.postAlone?.cpu);
  add("GET status", r.status?.cpu);
  add("GET jobs?limit=20", r.jobsList?.cpu);
  add(`${r.plan.smallJobs} jobs, provider 1 s`, r.small?.cpu);
  add(`${r.plan.largeJobs} jobs, provider instant`, r.large?.cpu);
  add(`${r.plan.rssJobs} jobs, provider instant`, r.growth?.cpu);
  return rows;
}

async function printReport(r: Results, totalS: number, profileDir?: string): Promise<void> {
  const m = r.machine;
  const rows = summaryRows(r);
  console.log(`\nDarkroom benchmark (${r.plan.mode}), ${new Date().toISOString()}`);
  console.log(
    `machine: ${m.cpu}, ${m.cores} cores, ${m.memoryGb} GB; Deno ${m.deno}, ` +
      `Postgres ${m.postgres}, Redis ${m.redis}; load: ${m.loadGenerator}; revision ${m.revision}`,
  );
  const pg = m.postgresInsertsPerS as PostgresYardstick;
  const redis = m.redisOpsPerS as RedisYardstick;
  const bullmq = m.bullmqNoopJobsPerS as BullmqYardstick;
  console.log(
    `machine yardstick: Postgres single-row inserts ${fmtInt(pg.one)}/s on one connection, ` +
      `${fmtInt(pg.ten)}/s on ten (${pg.by}; the issue's machine: ${ISSUE_MACHINE.postgres}); ` +
      `Redis ${fmtInt(redis.set)} SET/s and ${fmtInt(redis.get)} GET/s (${redis.by}, 50 clients; ` +
      `${ISSUE_MACHINE.redis}); BullMQ no-op jobs ${fmtInt(bullmq.add)}/s added, ` +
      `${fmtInt(bullmq.process)}/s processed (${ISSUE_MACHINE.bullmq})`,
  );
  const background = Number(m.backgroundBusyPct);
  console.log(
    `machine ${background} % busy before the run${
      background >= 10 ? " (other processes are running: expect low, noisy figures)" : ""
    }\n`,
  );
  // What the command line changed (the RSS run's job count is in its row of the table).
  const { scenarios, roleEnv } = r.settings;
  const changed = [
    ...scenarios.length < Object.keys(SCENARIOS).length
      ? [`scenarios ${scenarios.join(", ")}`]
      : [],
    ...Object.entries(roleEnv).filter(([, env]) => Object.keys(env).length > 0)
      .map(([role, env]) => `${role} ${JSON.stringify(env)}`),
  ];
  if (changed.length > 0) console.log(`settings: ${changed.join("; ")}\n`);
  console.log(markdownTable(["measure", "measured", "old stack", "target", "met"], rows));
  console.log(`\nCPU by process during each scenario (cores busy; the machine has ${m.cores}):\n`);
  console.log(
    markdownTable(["scenario", "wall", "machine busy", "not ours", "cores by process"], cpuRows(r)),
  );
  if (profileDir) {
    for (const role of ["api", "worker"]) {
      console.log(`\nCPU profile of the ${role} (self time, top functions):`);
      const lines = await topFunctions(`${profileDir}/${role}`).catch((e) => [String(e)]);
      console.log(lines.join("\n"));
    }
  }
  if (r.failures.length > 0) console.log(`\nFAILED scenarios:\n${r.failures.join("\n")}`);
  console.log(`\ntotal ${totalS} s\n`);
  const { rss } = r;
  console.log(JSON.stringify({
    mode: r.plan.mode,
    at: new Date().toISOString(),
    totalS,
    settings: r.settings,
    machine: m,
    http: {
      connections: r.plan.connections,
      durationS: r.plan.httpS,
      post_generate: r.post,
      post_generate_api_alone: r.postAlone,
      get_status: r.status,
      get_jobs: r.jobsList,
      workerCompletedDuringPostFlood: r.workerCompletedDuringPostFlood,
    },
    accepted_retrievable: r.accepted,
    e2e: { small: r.small, large: r.large },
    rss: {
      apiIdleMb: rss.apiIdle,
      apiPeakMb: peakOf(rss, "apiPeakHttp", "apiPeakLarge"),
      workerIdleMb: rss.workerIdle,
      workerPeakMb: peakOf(rss, "workerPeakHttp", "workerPeakSmall", "workerPeakLarge"),
      workerGrowth: r.growth,
      byPhase: rss,
    },
    coldStart: r.coldStart,
    targetsMet: Object.fromEntries(rows.slice(0, 6).map((row) => [row[0], row[4]])),
    failures: r.failures,
  }));
}

// ---------------------------------------------------------------------------------------------
// Main

async function clockTicksPerSecond(): Promise<number> {
  const out = await new Deno.Command("getconf", { args: ["CLK_TCK"], stdout: "piped" }).output()
    .catch(() => null);
  return Number(new TextDecoder().decode(out?.stdout ?? new Uint8Array()).trim()) || 100;
}

function onInterrupt(): void {
  if (interrupted) {
    log("second signal: exiting without cleaning up");
    Deno.exit(130);
  }
  interrupted = true;
  log("interrupted: stopping the processes and dropping the databases (again to force)");
  interruption.abort();
  for (const stack of openStacks) void stack.close();
}

function positiveInt(value: string | undefined, name: string, min = 1): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw new Error(`${name} must be an integer ≥ ${min}`);
  return n;
}

function oneOf<T extends string>(
  value: string | undefined,
  allowed: readonly T[],
  name: string,
): T {
  if (!allowed.includes(value as T)) {
    throw new Error(`${name} must be one of ${allowed.join(", ")}`);
  }
  return value as T;
}

const SCENARIOS = { http: httpScenario, small: smallScenario, large: largeScenario };
type ScenarioName = keyof typeof SCENARIOS;

/**
 * The run's plan, scenarios (in order) and the roles' extra environment, from the command line:
 * `--quick`, `--only=http,small,large`, `--rss-jobs=N`, `--api-env=JSON`, `--worker-env=JSON`.
 * Throws a message naming the option on a bad value.
 */
export function runSettings(values: {
  quick?: boolean;
  only?: string;
  "rss-jobs"?: string;
  "api-env"?: string;
  "worker-env"?: string;
}): { plan: Plan; scenarios: ScenarioName[]; roleEnv: RoleEnv } {
  const plan = { ...PLANS[values.quick ? "quick" : "full"] };
  if (values["rss-jobs"] !== undefined) {
    plan.rssJobs = positiveInt(values["rss-jobs"], "--rss-jobs");
  }
  const names = Object.keys(SCENARIOS) as ScenarioName[];
  const only = values.only === undefined
    ? names
    : values.only.split(",").map((name) => oneOf(name.trim(), names, "--only"));
  return {
    plan,
    scenarios: names.filter((name) => only.includes(name)),
    roleEnv: {
      api: parseSetting(values["api-env"], undefined).env,
      worker: parseSetting(values["worker-env"], undefined).env,
    },
  };
}

/** `--ab`: alternating floods of two settings on one stack (see bench_ab.ts). */
async function abMain(options: AbOptions, ctx: { tmp: string; useWrk: boolean }): Promise<number> {
  const stack = await openStack("ab", { latencyMs: 1000 });
  try {
    const floods = await runAb({
      stack,
      tmp: ctx.tmp,
      body: JOB_BODY,
      start: (role, env, denoFlags) => startProcess(stack, role, { env, denoFlags }),
      stop: stopChecked,
      async ready(what, proc) {
        if (what === "api") {
          await firstAnswer(`${stack.base}${API}/health`, performance.now(), 60_000, proc);
        } else await waitForWorker(stack.base);
      },
      measure: (name, spec, roles, plan) =>
        measureHttp(
          { base: stack.base, plan, tmp: ctx.tmp, useWrk: ctx.useWrk },
          name,
          spec,
          roles,
        ),
    }, options);
    const summary = summarize(floods);
    console.log(abReport(options, floods, summary, markdownTable));
    const at = new Date().toISOString();
    const revision = await gitRevision();
    console.log(JSON.stringify({ mode: "ab", at, revision, options, floods, summary }));
    return 0;
  } catch (err) {
    if (interrupted) return 130;
    throw err;
  } finally {
    await stack.close();
  }
}

async function main(tmp: string): Promise<number> {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      quick: { type: "boolean", default: false },
      loadgen: { type: "string" },
      "cpu-prof": { type: "string" },
      ab: { type: "boolean", default: false },
      pairs: { type: "string", default: "5" },
      seconds: { type: "string", default: "5" },
      warmup: { type: "string", default: "3" },
      load: { type: "string", default: "post" },
      role: { type: "string", default: "api" },
      "no-worker": { type: "boolean", default: false },
      only: { type: "string" },
      "api-env": { type: "string" },
      "worker-env": { type: "string" },
      "rss-jobs": { type: "string" },
      "a-env": { type: "string" },
      "b-env": { type: "string" },
      "a-flags": { type: "string" },
      "b-flags": { type: "string" },
    },
  });
  const { plan, scenarios: chosen, roleEnv } = runSettings(values);
  let profileDir: string | undefined;
  if (values["cpu-prof"]) {
    await Deno.mkdir(values["cpu-prof"], { recursive: true });
    profileDir = await Deno.realPath(values["cpu-prof"]);
  }
  const useWrk = values.loadgen === "deno" ? false : await hasWrk();
  if (values.loadgen === "wrk" && !useWrk) {
    throw new Error("wrk is not installed (apt-get install -y wrk)");
  }
  if (!useWrk && values.loadgen !== "deno") {
    log("wrk not found (apt-get install -y wrk); using the Deno load generator (costs more CPU)");
  }
  clockTicks = await clockTicksPerSecond();
  if (values.ab) {
    return await abMain({
      pairs: positiveInt(values.pairs, "--pairs"),
      seconds: positiveInt(values.seconds, "--seconds"),
      warmupS: positiveInt(values.warmup, "--warmup", 0),
      connections: PLANS.full.connections,
      load: oneOf(values.load, ["post", "status"] as const, "--load"),
      role: oneOf(values.role, ["api", "worker"] as const, "--role"),
      worker: !values["no-worker"],
      a: parseSetting(values["a-env"], values["a-flags"]),
      b: parseSetting(values["b-env"], values["b-flags"]),
    }, { tmp, useWrk });
  }

  const started = performance.now();
  const scenarios = chosen.map((name) => [name, SCENARIOS[name]] as const);
  const results: Results = {
    plan,
    settings: { scenarios: chosen, roleEnv },
    machine: await machineInfo(useWrk ? "wrk (1 thread)" : "deno fetch (bench_load.ts)"),
    rss: {},
    failures: [],
  };
  const ctx: RunContext = { plan, tmp, useWrk, profileDir, roleEnv, results };
  for (const [name, run] of scenarios) {
    if (interrupted) break;
    try {
      await run(ctx);
    } catch (err) {
      if (!interrupted) {
        results.failures.push(`${name}: ${(err as Error).message}`);
        log(`${name} FAILED: ${(err as Error).stack}`);
      }
    } finally {
      await Promise.all([...openStacks].map((s) => s.close()));
    }
  }
  await printReport(results, round((performance.now() - started) / 1000), profileDir);
  return interrupted ? 130 : results.failures.length > 0 ? 1 : 0;
}

if (import.meta.main) {
  Deno.addSignalListener("SIGINT", onInterrupt);
  Deno.addSignalListener("SIGTERM", onInterrupt);
  const tmp = await Deno.makeTempDir({ prefix: "darkroom-bench-load-" });
  let code = 1;
  try {
    code = await main(tmp);
  } catch (err) {
    log(`bench failed: ${(err as Error).stack}`);
  } finally {
    await Promise.all([...openStacks].map((s) => s.close()));
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
  }
  Deno.exit(code);
}
