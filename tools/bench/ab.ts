/**
 * `deno task bench --ab`: is setting B faster than setting A on this (noisy, shared) machine?
 * Alternating floods A, B, A, B… on one stack, each against a freshly started api (or worker), and
 * the pairs B won. The method, the options and the columns: docs/benchmarks.md (`--ab`).
 */
import { type LoadResult, type LoadSpec, round } from "./load.ts";
import type { ServiceProcess } from "../../shared/testing/processes.ts";

export interface AbOptions {
  pairs: number;
  /** Seconds of each measured flood, and of the warm-up before it (0: none). */
  seconds: number;
  warmupS: number;
  connections: number;
  load: "post" | "status";
  /** The process whose settings differ. */
  role: "api" | "worker";
  worker: boolean;
  a: Setting;
  b: Setting;
}

export interface Setting {
  env: Record<string, string>;
  denoFlags: string[];
}

/** One measured flood. */
export interface Flood {
  label: "A" | "B";
  rps: number;
  p50: number;
  p99: number;
  max: number;
  errors: number;
  statuses: Record<string, number>;
  /** Cores by process during the flood (as in the full benchmark). */
  cores: Record<string, number>;
  /** The API's CPU (all its threads) per request, µs. */
  apiUsPerRequest: number;
  /** The API's main thread: cores it ran, and seconds a second it waited for a core. */
  mainThread: { run: number; wait: number } | null;
}

/** What the run needs from the benchmark (bench.ts passes its own stack and load functions). */
export interface AbDeps {
  /** A fresh database, queue prefix, storage and fake provider (1 s); closed by the caller. */
  stack: { base: string; env: Record<string, string> };
  start(role: "api" | "worker", env: Record<string, string>, denoFlags: string[]): Promise<
    ServiceProcess
  >;
  stop(proc: ServiceProcess): Promise<void>;
  /** Waits until the API answers /health, and for `worker`, until a worker is online. */
  ready(what: "api" | "worker", proc: ServiceProcess): Promise<void>;
  /** A load (after a warm-up of `plan.warmupS`, when not 0), with the CPU by process. */
  measure(
    name: string,
    spec: Omit<LoadSpec, "url" | "connections" | "durationS"> & { path: string },
    roles: Record<string, number | undefined>,
    plan: { connections: number; httpS: number; warmupS: number },
  ): Promise<LoadResult & { cpu: { cores: Record<string, number> } }>;
  /** Where job ids of the seed flood go. */
  tmp: string;
  /** The job a POST submits. */
  body: string;
}

/** Runs the alternating floods; returns them in order (A, B, A, B, …). */
export async function runAb(deps: AbDeps, options: AbOptions): Promise<Flood[]> {
  if (options.role === "worker" && !options.worker) {
    throw new Error("--role=worker compares workers: drop --no-worker");
  }
  const plan = {
    connections: options.connections,
    httpS: options.seconds,
    warmupS: options.warmupS,
  };
  const post = { path: "/api/v1/generate", method: "POST", body: deps.body };
  const idsFile = `${deps.tmp}/ab_ids.txt`;
  if (options.load === "status") {
    // The jobs to read: one POST flood against an api with A's settings, no worker.
    const api = await deps.start("api", settingEnv(deps, options, "api", "A"), []);
    try {
      await deps.ready("api", api);
      await deps.measure("ab seed", { ...post, idsOut: idsFile }, { api: api.child.pid }, {
        ...plan,
        warmupS: 0,
      });
    } finally {
      await deps.stop(api);
    }
  }
  const floods: Flood[] = [];
  for (let i = 0; i < options.pairs * 2; i++) {
    const label = i % 2 === 0 ? "A" : "B";
    const flags = (role: "api" | "worker") =>
      role === options.role ? (label === "A" ? options.a : options.b).denoFlags : [];
    const api = await deps.start("api", settingEnv(deps, options, "api", label), flags("api"));
    let worker: ServiceProcess | undefined;
    try {
      await deps.ready("api", api);
      if (options.worker) {
        worker = await deps.start(
          "worker",
          settingEnv(deps, options, "worker", label),
          flags("worker"),
        );
        await deps.ready("worker", worker);
      }
      const spec = options.load === "status"
        ? { path: "/api/v1/status/{id}", idsIn: idsFile }
        : post;
      const pid = api.child.pid;
      const roles = { api: pid, worker: worker?.child.pid };
      if (plan.warmupS > 0) {
        // The JIT compiles the hot path first; only the flood after it is measured.
        await deps.measure(`ab ${i + 1} ${label} warm-up`, spec, roles, {
          ...plan,
          httpS: plan.warmupS,
          warmupS: 0,
        });
      }
      const before = await mainThread(pid);
      const result = await deps.measure(`ab ${i + 1} ${label}`, spec, roles, {
        ...plan,
        warmupS: 0,
      });
      const after = await mainThread(pid);
      floods.push(toFlood(
        label,
        result,
        before && after
          ? {
            run: round((after.runNs - before.runNs) / 1e9 / ((after.at - before.at) / 1000), 2),
            wait: round((after.waitNs - before.waitNs) / 1e9 / ((after.at - before.at) / 1000), 2),
          }
          : null,
      ));
    } finally {
      if (worker) await deps.stop(worker);
      await deps.stop(api);
    }
  }
  return floods;
}

function settingEnv(
  deps: AbDeps,
  options: AbOptions,
  role: "api" | "worker",
  label: "A" | "B",
): Record<string, string> {
  if (role !== options.role) return deps.stack.env;
  return { ...deps.stack.env, ...(label === "A" ? options.a : options.b).env };
}

function toFlood(
  label: "A" | "B",
  r: LoadResult & { cpu: { cores: Record<string, number> } },
  mainThread: Flood["mainThread"],
): Flood {
  return {
    label,
    rps: Math.round(r.rps),
    p50: round(r.latencyMs.p50, 1),
    p99: round(r.latencyMs.p99, 1),
    max: round(r.latencyMs.max, 1),
    errors: r.errors,
    statuses: r.statuses,
    cores: r.cpu.cores,
    apiUsPerRequest: r.rps > 0 ? Math.round((r.cpu.cores.api ?? NaN) / r.rps * 1e6) : NaN,
    mainThread,
  };
}

/** Run time and run-queue wait of a process's main thread (ns), from schedstat. */
async function mainThread(pid: number) {
  try {
    const [runNs, waitNs] = (await Deno.readTextFile(`/proc/${pid}/task/${pid}/schedstat`))
      .trim().split(" ").map(Number);
    return { runNs, waitNs, at: performance.now() };
  } catch {
    return null; // no schedstat (kernel without schedstats)
  }
}

export interface AbSummary {
  pairs: number;
  /** Pairs where B was better than the A before it. */
  bWins: { rps: number; p99: number; apiUsPerRequest: number };
  median: {
    a: { rps: number; p99: number; apiUsPerRequest: number };
    b: { rps: number; p99: number; apiUsPerRequest: number };
  };
}

/** Pairs B won (more req/s, lower p99, less API CPU per request) and the medians of each side. */
export function summarize(floods: Flood[]): AbSummary {
  const pairs: [Flood, Flood][] = [];
  for (let i = 0; i + 1 < floods.length; i += 2) {
    if (floods[i].label === "A" && floods[i + 1].label === "B") {
      pairs.push([floods[i], floods[i + 1]]);
    }
  }
  const wins = (better: (a: Flood, b: Flood) => boolean) =>
    pairs.filter(([a, b]) => better(a, b)).length;
  const side = (label: "A" | "B") => {
    const of = floods.filter((f) => f.label === label);
    return {
      rps: median(of.map((f) => f.rps)),
      p99: median(of.map((f) => f.p99)),
      apiUsPerRequest: median(of.map((f) => f.apiUsPerRequest)),
    };
  };
  return {
    pairs: pairs.length,
    bWins: {
      rps: wins((a, b) => b.rps > a.rps),
      p99: wins((a, b) => b.p99 < a.p99),
      apiUsPerRequest: wins((a, b) => b.apiUsPerRequest < a.apiUsPerRequest),
    },
    median: { a: side("A"), b: side("B") },
  };
}

/** The middle value (the mean of the two middle ones for an even count); NaN when empty. */
export function median(values: number[]): number {
  const v = values.filter((x) => Number.isFinite(x)).sort((x, y) => x - y);
  if (v.length === 0) return NaN;
  const mid = Math.floor(v.length / 2);
  return v.length % 2 === 1 ? v[mid] : round((v[mid - 1] + v[mid]) / 2, 1);
}

/** The report: one row per flood (as a table made by `table`), then the summary lines. */
export function abReport(
  options: AbOptions,
  floods: Flood[],
  summary: AbSummary,
  table: (header: string[], rows: string[][]) => string,
): string {
  const rows = floods.map((f, i) => [
    `${Math.floor(i / 2) + 1}`,
    f.label,
    f.rps.toLocaleString("en-US"),
    `${f.p50} / ${f.p99} / ${f.max}`,
    String(f.errors),
    Number.isFinite(f.apiUsPerRequest) ? String(f.apiUsPerRequest) : "–",
    f.mainThread ? `${f.mainThread.run} / ${f.mainThread.wait}` : "–",
    Object.entries(f.cores).filter(([, c]) => c >= 0.05).map(([k, c]) => `${k} ${c}`).join(", "),
  ]);
  const header = [
    "pair",
    "side",
    "req/s",
    "p50 / p99 / max ms",
    "errors",
    "api µs/req",
    "main thread run / wait",
    "cores by process",
  ];
  const { a, b } = summary.median;
  const describe = (s: Setting) =>
    JSON.stringify({ env: s.env, ...(s.denoFlags.length ? { denoFlags: s.denoFlags } : {}) });
  return [
    `A/B on the ${options.role}: A ${describe(options.a)}, B ${describe(options.b)}; ` +
    `${options.load === "status" ? "GET /status/{id}" : "POST /generate"}, ` +
    `${options.connections} connections, ${options.seconds} s a flood, ` +
    `worker ${options.worker ? "running" : "stopped"}`,
    "",
    table(header, rows),
    "",
    `B won ${summary.bWins.rps} of ${summary.pairs} pairs on req/s, ${summary.bWins.p99} on p99, ` +
    `${summary.bWins.apiUsPerRequest} on API CPU per request`,
    `median A: ${a.rps} req/s, p99 ${a.p99} ms, ${a.apiUsPerRequest} µs/req; ` +
    `median B: ${b.rps} req/s, p99 ${b.p99} ms, ${b.apiUsPerRequest} µs/req`,
  ].join("\n");
}

/** Parses `--a-env` / `--b-env` (a JSON object of strings) and `--a-flags` / `--b-flags`. */
export function parseSetting(env: string | undefined, flags: string | undefined): Setting {
  let parsed: unknown = {};
  if (env) {
    try {
      parsed = JSON.parse(env);
    } catch {
      throw new Error(`not JSON: ${env}`);
    }
  }
  if (
    parsed === null || typeof parsed !== "object" || Array.isArray(parsed) ||
    Object.values(parsed).some((v) => typeof v !== "string")
  ) {
    throw new Error(`an environment must be a JSON object of strings: ${env}`);
  }
  return {
    env: parsed as Record<string, string>,
    denoFlags: (flags ?? "").split(/\s+/).filter(Boolean),
  };
}
