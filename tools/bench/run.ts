/**
 * What every part of one `deno task bench` run shares: its plan, the roles' extra environment, the
 * interruption (Ctrl-C / SIGTERM) and the progress log (stderr). See docs/benchmarks.md.
 */

/** A process role of the stack. */
export type Role = "api" | "worker";
/** Extra environment for one role's processes (`--api-env`, `--worker-env`). */
export type RoleEnv = Partial<Record<Role, Record<string, string>>>;

/** The sizes of one run (`full`, or `quick` with `--quick`). */
export interface Plan {
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

/** The two plans; `--rss-jobs` changes a copy. */
export const PLANS: Record<Plan["mode"], Plan> = {
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

/** The scenarios in the order they run (`--only` picks some). */
export const SCENARIO_NAMES = ["http", "small", "large", "images", "search"] as const;
/** One scenario's name. */
export type ScenarioName = typeof SCENARIO_NAMES[number];
/**
 * The scenarios of a run without `--only`: `images` (about a minute) and `search` (fills a million
 * jobs first, minutes) run only when asked for.
 */
export const DEFAULT_SCENARIOS: readonly ScenarioName[] = ["http", "small", "large"];

/** Something to undo when the run ends or is interrupted (a stack). */
export interface Closable {
  close(): Promise<void>;
}

/** The run itself: its interruption, what is open, and how /proc counts CPU time. */
export interface BenchRun {
  /** Aborted by Ctrl-C / SIGTERM: nothing new starts, everything started is undone. */
  signal: AbortSignal;
  /** What is open now (the stacks); each removes itself once closed. */
  open: Set<Closable>;
  /** Clock ticks per second of the CPU times in /proc (`getconf CLK_TCK`). */
  clockTicks: number;
}

/** What a scenario gets: the plan, the run, and the results it fills in as it goes. */
export interface ScenarioContext<R> {
  plan: Plan;
  tmp: string;
  useWrk: boolean;
  profileDir?: string;
  /** `--api-env` / `--worker-env`. */
  roleEnv: RoleEnv;
  run: BenchRun;
  /** Filled in as the scenario goes, so a failure keeps what was measured before it. */
  results: R & { rss: Record<string, number> };
}

/** Thrown when a step would start after an interruption. */
export class Interrupted extends Error {
  constructor() {
    super("interrupted");
  }
}

/** Throws `Interrupted` once the run is interrupted. */
export function checkInterrupted(run: Pick<BenchRun, "signal">): void {
  if (run.signal.aborted) throw new Interrupted();
}

/** One line of progress on stderr. */
export function log(line: string): void {
  console.error(`[bench ${new Date().toISOString().slice(11, 19)}] ${line}`);
}

/** Resolves after `ms`. */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
