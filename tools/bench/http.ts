/**
 * The HTTP scenario: the api's cold start, then the POST / status / list floods on one stack, and
 * every accepted job read back (what each step measures: docs/benchmarks.md, "Method").
 */
import { freePort } from "../../shared/testing/processes.ts";
import { countJobs, pool } from "./client.ts";
import { type LoadResult, type LoadSpec, quantile, round, runLoadProcess } from "./load.ts";
import { cpuSnapshot, type CpuSplit, cpuSplit, peakMb, rssMb, watchRss } from "./proc.ts";
import {
  type BenchRun,
  checkInterrupted,
  log,
  type Plan,
  type ScenarioContext,
  sleep,
} from "./run.ts";
import {
  API,
  firstAnswer,
  JOB_BODY,
  openStack,
  type Stack,
  startApi,
  startProcess,
  startWorker,
  stopChecked,
  waitForWorker,
} from "./stack.ts";

/** One measured load and where the CPU went during it. */
export interface HttpMeasure extends LoadResult {
  cpu: CpuSplit;
}

/** How many accepted jobs answered GET /status with 200. */
export interface Accepted {
  percent: number;
  checked: number;
  ok: number;
  statuses: Record<string, number>;
}

/** The api's start-up: ms from spawn to its first /health answer. */
export interface ColdStart {
  medianMs: number;
  trialsMs: number[];
  firstStatus: number;
}

/** What the HTTP scenario measures. */
export interface HttpResults {
  coldStart?: ColdStart;
  post?: HttpMeasure;
  /** The POST flood again with the worker stopped (orientation; no target). */
  postAlone?: HttpMeasure;
  status?: HttpMeasure;
  jobsList?: HttpMeasure & { tableRows: number };
  accepted?: Accepted;
  workerCompletedDuringPostFlood?: number;
}

/** Runs one load (`spec` without connections and duration: the plan's) and where the CPU went. */
export async function measureHttp(
  ctx: {
    base: string;
    plan: Pick<Plan, "connections" | "httpS" | "warmupS">;
    tmp: string;
    useWrk: boolean;
    run: BenchRun;
  },
  name: string,
  spec: Omit<LoadSpec, "url" | "connections" | "durationS"> & { path: string },
  roles: Record<string, number | undefined>,
): Promise<HttpMeasure> {
  checkInterrupted(ctx.run);
  const { clockTicks, signal } = ctx.run;
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
    }, { useWrk: ctx.useWrk, tmp: ctx.tmp, name: `${name}_warmup`, signal });
  }
  log(`${name}: ${ctx.plan.connections} connections for ${ctx.plan.httpS} s`);
  const before = await cpuSnapshot(roles);
  const result = await runLoadProcess({
    ...rest,
    url: `${ctx.base}${path}`,
    connections: ctx.plan.connections,
    durationS: ctx.plan.httpS,
  }, { useWrk: ctx.useWrk, tmp: ctx.tmp, name, signal });
  const after = await cpuSnapshot(roles);
  const cpu = cpuSplit(before, after, { clockTicks, loadgen: result.tool });
  log(
    `${name}: ${Math.round(result.rps)} req/s, p50 ${result.latencyMs.p50.toFixed(1)} ms, ` +
      `p99 ${result.latencyMs.p99.toFixed(1)} ms, errors ${result.errors}; cpu ${
        JSON.stringify(cpu.cores)
      }`,
  );
  return { ...result, cpu };
}

/** Spawns extra api processes on the stack's database and times each to its first answer. */
async function measureColdStart(stack: Stack, trials: number): Promise<ColdStart> {
  const times: number[] = [];
  let firstStatus = 0;
  for (let i = 0; i < trials; i++) {
    const port = freePort();
    const t0 = performance.now();
    const api = await startProcess(stack, "api", {
      env: { ...stack.env, ...stack.roleEnv.api, PORT: String(port) },
    });
    try {
      const first = await firstAnswer(stack, `http://127.0.0.1:${port}${API}/health`, {
        since: t0,
        timeoutMs: 60_000,
        proc: api,
      });
      times.push(round(first.ms));
      firstStatus = first.status;
    } finally {
      await stopChecked(stack.run, api);
    }
  }
  times.sort((a, b) => a - b);
  log(`cold start to first /health answer: ${times.join(", ")} ms`);
  return { medianMs: quantile(times, 0.5), trialsMs: times, firstStatus };
}

/** GET /status for every id; how many answered 200. */
async function readBack(stack: Stack, ids: string[]): Promise<Accepted> {
  log(`reading back ${ids.length} accepted jobs`);
  const codes = await pool(ids, { limit: 32, run: stack.run }, async (id) => {
    try {
      const res = await fetch(`${stack.base}${API}/status/${id}`);
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
export async function httpScenario(ctx: ScenarioContext<HttpResults>): Promise<void> {
  const { plan, results: r } = ctx;
  const stack = await openStack(ctx.run, "http", { latencyMs: 1000, roleEnv: ctx.roleEnv });
  await startWorker(stack, ctx.profileDir); // the first start also builds the UI if stale
  r.coldStart = await measureColdStart(stack, plan.coldStartTrials);

  await startApi(stack, ctx.profileDir);
  await waitForWorker(stack);
  await sleep(1500);
  const apiPid = stack.api!.child.pid;
  const workerPid = stack.worker!.child.pid;
  r.rss.apiIdle = await rssMb(apiPid);
  r.rss.workerIdle = await rssMb(workerPid);
  log(`idle RSS: api ${r.rss.apiIdle} MB, worker ${r.rss.workerIdle} MB`);
  const watcher = watchRss({ api: apiPid, worker: workerPid });
  const load = { base: stack.base, plan, tmp: ctx.tmp, useWrk: ctx.useWrk, run: ctx.run };

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
  await stopChecked(ctx.run, stack.worker);
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
  r.accepted = await readBack(stack, [
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
