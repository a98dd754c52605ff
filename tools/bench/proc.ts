/**
 * Memory and CPU of the benchmark's processes and of the machine, read from /proc (how they are
 * counted: docs/benchmarks.md, "Method").
 */
import { round } from "./load.ts";
import { sleep } from "./run.ts";

/** VmRSS and VmHWM (peak RSS) of a process, in MB; null once it has exited. */
export async function memoryOf(pid: number): Promise<{ rssMb: number; peakMb: number } | null> {
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

/** Busy and total ticks of all cores since boot, from /proc/stat. */
async function machineTicks(): Promise<{ busy: number; total: number }> {
  const line = (await Deno.readTextFile("/proc/stat")).split("\n")[0];
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  const idle = v[3] + (v[4] ?? 0);
  const total = v.reduce((a, b) => a + b, 0);
  return { busy: total - idle, total };
}

/** CPU ticks of the roles, of every other process, of this one and of the machine at one moment. */
export interface CpuSnapshot {
  at: number;
  roles: Record<string, number>;
  pids: number[];
  others: Map<number, { comm: string; ticks: number }>;
  self: { ticks: number; childTicks: number };
  machine: { busy: number; total: number };
}

/** Where the CPU went between two snapshots, in cores (1.0 = one core busy all the time). */
export interface CpuSplit {
  wallS: number;
  cores: Record<string, number>;
  machineBusyPct: number;
}

/** Reads a snapshot; `roles` names the processes to report by name (api, worker). */
export async function cpuSnapshot(roles: Record<string, number | undefined>): Promise<CpuSnapshot> {
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

/**
 * Where the CPU went between two snapshots; `clockTicks` is the run's, `loadgen` names the load
 * generator (a child of this process) when one ran in the window.
 */
export function cpuSplit(
  a: CpuSnapshot,
  b: CpuSnapshot,
  options: { clockTicks: number; loadgen?: string },
): CpuSplit {
  const { clockTicks, loadgen } = options;
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
export function watchRss(
  pids: Record<string, number>,
): { stop(): Promise<Record<string, number>> } {
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

/** VmRSS of a process in MB; NaN once it has exited. */
export async function rssMb(pid: number): Promise<number> {
  return (await memoryOf(pid))?.rssMb ?? NaN;
}

/** VmHWM (peak RSS) of a process in MB; NaN once it has exited. */
export async function peakMb(pid: number): Promise<number> {
  return (await memoryOf(pid))?.peakMb ?? NaN;
}

/** How busy the machine is with nothing of ours running (percent of all cores). */
export async function backgroundBusyPct(ms = 1000): Promise<number> {
  const a = await machineTicks();
  await sleep(ms);
  const b = await machineTicks();
  return round(((b.busy - a.busy) / (b.total - a.total)) * 100);
}

/** Clock ticks per second of /proc's CPU times (`getconf CLK_TCK`; 100 when it cannot say). */
export async function clockTicksPerSecond(): Promise<number> {
  const out = await new Deno.Command("getconf", { args: ["CLK_TCK"], stdout: "piped" }).output()
    .catch(() => null);
  return Number(new TextDecoder().decode(out?.stdout ?? new Uint8Array()).trim()) || 100;
}
