/**
 * The report of a run: the table beside the old stack's figures and the targets, the CPU by
 * process, the profiles' top functions, and one JSON object on the last line of stdout.
 */
import type { E2eMeasure, E2eResults } from "./e2e.ts";
import type { HttpMeasure, HttpResults } from "./http.ts";
import type { ImagesResults } from "./images.ts";
import { round } from "./load.ts";
import type { CpuSplit } from "./proc.ts";
import { DEFAULT_SCENARIOS, type Plan, type RoleEnv } from "./run.ts";
import { SEARCH_P99_TARGET_MS, type SearchResults } from "./search.ts";
import {
  type BullmqYardstick,
  ISSUE_MACHINE,
  type PostgresYardstick,
  type RedisYardstick,
} from "./yardstick.ts";

/** Everything a run measured, filled in by the scenarios as they go. */
export interface Results extends HttpResults, E2eResults, ImagesResults, SearchResults {
  plan: Plan;
  /** What the command line chose: the scenarios run and the roles' extra environment. */
  settings: { scenarios: string[]; roleEnv: RoleEnv };
  machine: Record<string, unknown>;
  /** RSS figures by phase (MB): apiIdle, workerIdle, apiPeakHttp, workerPeakHttp, ... */
  rss: Record<string, number>;
  failures: string[];
}

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
  const calls = m.provider ? `; ${m.provider.getsPerJob} provider GETs a job` : "";
  return `${m.makespanS.toFixed(2)} s makespan; per job p50 ${m.perJobS.p50.toFixed(2)} s, p95 ${
    m.perJobS.p95.toFixed(2)
  } s${calls}${bad}`;
}

function verdict(ok: boolean | undefined): string {
  return ok === undefined ? "–" : ok ? "yes" : "NO";
}

/** A Markdown table with padded columns. */
export function markdownTable(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(" | ")} |`;
  return [line(header), `| ${widths.map((w) => "-".repeat(w)).join(" | ")} |`, ...rows.map(line)]
    .join("\n");
}

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
  for (const row of r.images?.rows ?? []) add(`GET image, ${row.label}`, row.measure?.cpu);
  return rows;
}

/** delivery | answer | req/s | p50 | p99 | max | errors: one row per way of serving. */
function imageRows(images: NonNullable<Results["images"]>): string[][] {
  return images.rows.map((row) => {
    const m = row.measure;
    const ms = (n: number | undefined) => n === undefined ? "–" : `${n.toFixed(1)} ms`;
    return [
      row.label,
      row.status === 302 ? "302 (not followed)" : `200, ${fmtInt(images.bytes)} bytes`,
      m ? fmtInt(m.rps) : "not measured",
      ms(m?.latencyMs.p50),
      ms(m?.latencyMs.p99),
      ms(m?.latencyMs.max),
      m ? fmtInt(m.errors) : "–",
    ];
  });
}

/** Prints the report and the JSON line to stdout; `profileDir` adds the profiles' top functions. */
export async function printReport(r: Results, totalS: number, profileDir?: string): Promise<void> {
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
  const usual = scenarios.length === DEFAULT_SCENARIOS.length &&
    DEFAULT_SCENARIOS.every((name) => scenarios.includes(name));
  const changed = [
    ...usual ? [] : [`scenarios ${scenarios.join(", ")}`],
    ...Object.entries(roleEnv).filter(([, env]) => Object.keys(env).length > 0)
      .map(([role, env]) => `${role} ${JSON.stringify(env)}`),
  ];
  if (changed.length > 0) console.log(`settings: ${changed.join("; ")}\n`);
  // A run of the image scenario alone has nothing for the main table.
  if (scenarios.some((name) => name !== "images")) {
    console.log(markdownTable(["measure", "measured", "old stack", "target", "met"], rows));
  }
  if (r.images) {
    const { file, width, height } = r.images;
    console.log(
      `\nImage serving through the API: GET /images/${file} (${width}×${height} WebP), ` +
        `${r.plan.connections} connections, ${r.plan.httpS} s each:\n`,
    );
    console.log(
      markdownTable(
        ["delivery", "answer", "req/s", "p50", "p99", "max", "errors"],
        imageRows(r.images),
      ),
    );
  }
  console.log(`\nCPU by process during each scenario (cores busy; the machine has ${m.cores}):\n`);
  console.log(
    markdownTable(["scenario", "wall", "machine busy", "not ours", "cores by process"], cpuRows(r)),
  );
  if (r.search) printSearch(r.search);
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
    images: r.images,
    rss: {
      apiIdleMb: rss.apiIdle,
      apiPeakMb: peakOf(rss, "apiPeakHttp", "apiPeakLarge"),
      workerIdleMb: rss.workerIdle,
      workerPeakMb: peakOf(rss, "workerPeakHttp", "workerPeakSmall", "workerPeakLarge"),
      workerGrowth: r.growth,
      byPhase: rss,
    },
    coldStart: r.coldStart,
    search: r.search,
    targetsMet: Object.fromEntries(rows.slice(0, 6).map((row) => [row[0], row[4]])),
    failures: r.failures,
  }));
}

/** The search scenario's table: each kind of search, then every request together. */
function printSearch(s: NonNullable<SearchResults["search"]>): void {
  console.log(
    `\nSearch over ${fmtInt(s.jobs)} jobs (filled in ${s.fillS} s; jobs ${s.tableMb.jobs} MB, ` +
      `job_search ${s.tableMb.job_search} MB), GET /api/v1/jobs one request at a time:\n`,
  );
  const rows = s.kinds.filter((k) => !k.worstCase).map((k) => [
    k.name,
    `${fmtInt(k.matches)}${k.estimated ? " (estimate)" : ""}`,
    `${k.p50Ms.toFixed(1)} ms`,
    `${k.p99Ms.toFixed(1)} ms`,
    `${k.maxMs.toFixed(0)} ms`,
  ]);
  rows.push([
    "every search above",
    "–",
    `${s.allP50Ms.toFixed(1)} ms`,
    `${s.allP99Ms.toFixed(1)} ms`,
    `target p99 ≤ ${SEARCH_P99_TARGET_MS} ms: ${verdict(s.allP99Ms <= SEARCH_P99_TARGET_MS)}`,
  ]);
  for (const k of s.kinds.filter((k) => k.worstCase)) {
    rows.push([
      `(not above) ${k.name}`,
      `${fmtInt(k.matches)}${k.estimated ? " (estimate)" : ""}`,
      `${k.p50Ms.toFixed(1)} ms`,
      `${k.p99Ms.toFixed(1)} ms`,
      `${k.maxMs.toFixed(0)} ms`,
    ]);
  }
  console.log(markdownTable(["search", "matches", "p50", "p99", "max"], rows));
}

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
