/**
 * `deno task bench [--quick] [--loadgen=wrk|deno] [--cpu-prof=DIR]
 * [--only=http,small,large,images,search] [--rss-jobs=N] [--api-env=JSON] [--worker-env=JSON]`,
 * or `deno task bench --ab [...]`: the entry of the benchmark (options, plan, the scenarios in
 * order, clean-up on Ctrl-C). What it measures and how: docs/benchmarks.md. The stack is started
 * by stack.ts, the scenarios are http.ts, e2e.ts, images.ts and search.ts, the report is
 * report.ts; progress goes to stderr, the report to stdout.
 */
import { parseArgs } from "node:util";
import { type AbOptions, abReport, parseSetting, runAb, summarize } from "./ab.ts";
import { largeScenario, smallScenario } from "./e2e.ts";
import { searchScenario } from "./search.ts";
import { httpScenario, measureHttp } from "./http.ts";
import { imagesScenario } from "./images.ts";
import { hasWrk, round } from "./load.ts";
import { gitRevision, machineInfo } from "./machine.ts";
import { clockTicksPerSecond } from "./proc.ts";
import { markdownTable, printReport, type Results } from "./report.ts";
import {
  type BenchRun,
  type Closable,
  DEFAULT_SCENARIOS,
  log,
  type Plan,
  PLANS,
  type RoleEnv,
  SCENARIO_NAMES,
  type ScenarioContext,
  type ScenarioName,
} from "./run.ts";
import {
  API,
  firstAnswer,
  JOB_BODY,
  openStack,
  startProcess,
  stopChecked,
  waitForWorker,
} from "./stack.ts";

const SCENARIOS: Record<ScenarioName, (ctx: ScenarioContext<Results>) => Promise<void>> = {
  http: httpScenario,
  small: smallScenario,
  large: largeScenario,
  images: imagesScenario,
  search: searchScenario,
};

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

/**
 * The run's plan, scenarios (in order) and the roles' extra environment, from the command line:
 * `--quick`, `--only=http,small,large,images,search` (without it: every scenario but images and
 * search), `--rss-jobs=N`, `--api-env=JSON`, `--worker-env=JSON`. Throws a message naming the
 * option on a bad value.
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
  const only: readonly ScenarioName[] = values.only === undefined
    ? DEFAULT_SCENARIOS
    : values.only.split(",").map((name) => oneOf(name.trim(), SCENARIO_NAMES, "--only"));
  return {
    plan,
    scenarios: SCENARIO_NAMES.filter((name) => only.includes(name)),
    roleEnv: {
      api: parseSetting(values["api-env"], undefined).env,
      worker: parseSetting(values["worker-env"], undefined).env,
    },
  };
}

/** `--ab`: alternating floods of two settings on one stack (see ab.ts). */
async function abMain(
  options: AbOptions,
  ctx: { tmp: string; useWrk: boolean; run: BenchRun },
): Promise<number> {
  const { run } = ctx;
  const stack = await openStack(run, "ab", { latencyMs: 1000 });
  try {
    const floods = await runAb({
      stack,
      tmp: ctx.tmp,
      body: JOB_BODY,
      start: (role, env, denoFlags) => startProcess(stack, role, { env, denoFlags }),
      stop: (proc) => stopChecked(run, proc),
      async ready(what, proc) {
        if (what === "api") {
          await firstAnswer(stack, `${stack.base}${API}/health`, {
            since: performance.now(),
            timeoutMs: 60_000,
            proc,
          });
        } else await waitForWorker(stack);
      },
      measure: (name, spec, roles, plan) =>
        measureHttp(
          { base: stack.base, plan, tmp: ctx.tmp, useWrk: ctx.useWrk, run },
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
    if (run.signal.aborted) return 130;
    throw err;
  } finally {
    await stack.close();
  }
}

/** Runs what the command line asks; returns the exit code. */
async function main(
  ctx: { tmp: string; signal: AbortSignal; open: Set<Closable> },
): Promise<number> {
  const { tmp } = ctx;
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
  const run: BenchRun = {
    signal: ctx.signal,
    open: ctx.open,
    clockTicks: await clockTicksPerSecond(),
  };
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
    }, { tmp, useWrk, run });
  }

  const started = performance.now();
  const scenarios = chosen.map((name) => [name, SCENARIOS[name]] as const);
  const results: Results = {
    plan,
    settings: { scenarios: chosen, roleEnv },
    machine: await machineInfo(useWrk ? "wrk (1 thread)" : "deno fetch (tools/bench/load.ts)"),
    rss: {},
    failures: [],
  };
  const scenarioCtx = { plan, tmp, useWrk, profileDir, roleEnv, run, results };
  for (const [name, scenario] of scenarios) {
    if (run.signal.aborted) break;
    try {
      await scenario(scenarioCtx);
    } catch (err) {
      if (!run.signal.aborted) {
        results.failures.push(`${name}: ${(err as Error).message}`);
        log(`${name} FAILED: ${(err as Error).stack}`);
      }
    } finally {
      await closeAll(run.open);
    }
  }
  await printReport(results, round((performance.now() - started) / 1000), profileDir);
  return run.signal.aborted ? 130 : results.failures.length > 0 ? 1 : 0;
}

function closeAll(open: Set<Closable>): Promise<unknown> {
  return Promise.all([...open].map((s) => s.close()));
}

/** Ctrl-C / SIGTERM: nothing new starts and everything open is undone; a second one exits. */
function onInterrupt(interruption: AbortController, open: Set<Closable>): void {
  if (interruption.signal.aborted) {
    log("second signal: exiting without cleaning up");
    Deno.exit(130);
  }
  interruption.abort();
  log("interrupted: stopping the processes and dropping the databases (again to force)");
  for (const closable of open) void closable.close();
}

if (import.meta.main) {
  const interruption = new AbortController();
  const open = new Set<Closable>();
  Deno.addSignalListener("SIGINT", () => onInterrupt(interruption, open));
  Deno.addSignalListener("SIGTERM", () => onInterrupt(interruption, open));
  const tmp = await Deno.makeTempDir({ prefix: "darkroom-bench-load-" });
  let code = 1;
  try {
    code = await main({ tmp, signal: interruption.signal, open });
  } catch (err) {
    log(`bench failed: ${(err as Error).stack}`);
  } finally {
    await closeAll(open);
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
  }
  Deno.exit(code);
}
