/**
 * The job scenarios end to end: `plan.smallJobs` jobs with a 1 s provider, `plan.largeJobs` with
 * an instant one, then the worker's RSS over `plan.rssJobs` more (what each measures:
 * docs/benchmarks.md, "Method").
 */
import { allJobs, countJobs, pool, submit, waitForJobs } from "./client.ts";
import { quantile, round } from "./load.ts";
import { cpuSnapshot, type CpuSplit, cpuSplit, memoryOf, peakMb, rssMb } from "./proc.ts";
import { checkInterrupted, log, type ScenarioContext, sleep } from "./run.ts";
import { openStack, type Stack, startApi, startWorker, waitForWorker } from "./stack.ts";

/** p50 / p95 / max of seconds, rounded to ms. */
function spread(values: number[]): { p50: number; p95: number; max: number } {
  const sorted = Float64Array.from(values).sort();
  return {
    p50: round(quantile(sorted, 0.5), 3),
    p95: round(quantile(sorted, 0.95), 3),
    max: round(sorted[sorted.length - 1], 3),
  };
}

/** One batch of jobs end to end. */
export interface E2eMeasure {
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
  /** Calls the fake provider answered during the batch: creates, and GETs of one prediction. */
  provider: { creates: number; gets: number; getsPerJob: number };
  cpu: CpuSplit;
}

/** Creates and prediction GETs the stack's fake provider has answered so far. */
function providerCalls(stack: Stack): { creates: number; gets: number } {
  const fake = stack.fake;
  if (!fake) return { creates: 0, gets: 0 };
  return {
    creates: fake.createdCount,
    gets: fake.requestsTo("GET", /^\/v1\/predictions\/[^/]+$/).length,
  };
}

/** Submits `n` jobs at once and times them to completed. */
async function measureE2e(stack: Stack, n: number, providerLatencyMs: number): Promise<E2eMeasure> {
  checkInterrupted(stack.run);
  log(`e2e: ${n} jobs at once, provider ${providerLatencyMs} ms`);
  const roles = { api: stack.api?.child.pid, worker: stack.worker?.child.pid };
  const before = await cpuSnapshot(roles);
  const calls0 = providerCalls(stack);
  const t0 = Date.now();
  await Promise.all(Array.from({ length: n }, () => submit(stack.base)));
  const submitS = (Date.now() - t0) / 1000;
  const done = await waitForJobs(stack, n, { timeoutMs: 120_000, pollMs: 20 });
  const after = await cpuSnapshot(roles);
  const calls = providerCalls(stack);
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
    provider: {
      creates: calls.creates - calls0.creates,
      gets: calls.gets - calls0.gets,
      getsPerJob: round((calls.gets - calls0.gets) / n, 2),
    },
    cpu: cpuSplit(before, after, { clockTicks: stack.run.clockTicks }),
  };
  log(
    `e2e ${n}: makespan ${result.makespanS} s, per job p50 ${result.perJobS.p50} s / p95 ${result.perJobS.p95} s ` +
      `(queue wait p50 ${result.queueWaitS.p50} s, run p50 ${result.runS.p50} s), ` +
      `${result.completed} completed, ${result.failed} failed; provider ${result.provider.creates} ` +
      `creates, ${result.provider.gets} GETs (${result.provider.getsPerJob} a job); cpu ${
        JSON.stringify(result.cpu.cores)
      }`,
  );
  return result;
}

/** The worker's RSS over `plan.rssJobs` jobs. */
export interface Growth {
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

/** What the job scenarios measure. */
export interface E2eResults {
  small?: E2eMeasure;
  large?: E2eMeasure;
  growth?: Growth;
}

/** `plan.smallJobs` jobs at once, provider 1 s. */
export async function smallScenario(ctx: ScenarioContext<E2eResults>): Promise<void> {
  const stack = await openStack(ctx.run, "small", { latencyMs: 1000, roleEnv: ctx.roleEnv });
  await startWorker(stack);
  await startApi(stack);
  await waitForWorker(stack);
  await sleep(500);
  ctx.results.small = await measureE2e(stack, ctx.plan.smallJobs, 1000);
  ctx.results.rss.workerPeakSmall = await peakMb(stack.worker!.child.pid);
}

/** `plan.largeJobs` jobs at once, provider instant; then the worker's RSS over rssJobs more. */
export async function largeScenario(ctx: ScenarioContext<E2eResults>): Promise<void> {
  const { plan, results: r } = ctx;
  const stack = await openStack(ctx.run, "large", { latencyMs: 0, roleEnv: ctx.roleEnv });
  await startWorker(stack);
  await startApi(stack);
  await waitForWorker(stack);
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
    ids = await pool(
      Array.from({ length: plan.rssJobs }),
      { limit: 32, run: ctx.run },
      () => submit(stack.base),
    );
    // At least 50 jobs a second, and never less than three minutes.
    const waitMs = Math.max(180_000, plan.rssJobs * 20);
    done = await waitForJobs(stack, plan.largeJobs + ids.length, {
      timeoutMs: waitMs,
      pollMs: 250,
    });
  } finally {
    sampling = false;
    await sampler;
  }
  const wallS = (performance.now() - t0) / 1000;
  const cpu = cpuSplit(cpu0, await cpuSnapshot({ api: apiPid, worker: workerPid }), {
    clockTicks: ctx.run.clockTicks,
  });
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
