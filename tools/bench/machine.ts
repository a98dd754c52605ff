/**
 * The facts about the machine a run prints beside its figures: hardware, versions, revision,
 * background load and the yardsticks (`yardstick.ts`).
 */
import { Redis } from "ioredis";
import { connectPostgres, sql } from "../../shared/db/db.ts";
import { deleteQueueKeys, testDatabaseUrl, testRedisUrl } from "../../shared/testing/db.ts";
import { round } from "./load.ts";
import { backgroundBusyPct } from "./proc.ts";
import { bullmqYardstick, postgresYardstick, redisYardstick } from "./yardstick.ts";

const ROOT = new URL("../../", import.meta.url);

/** The checked-out commit, short, with "+ uncommitted changes" when the tree is dirty. */
export async function gitRevision(): Promise<string> {
  const git = (args: string[]) =>
    new Deno.Command("git", { args, cwd: ROOT, stdout: "piped", stderr: "null" }).output()
      .then((o) => new TextDecoder().decode(o.stdout).trim()).catch(() => "");
  const [head, dirty] = await Promise.all([
    git(["rev-parse", "--short", "HEAD"]),
    git(["status", "--porcelain", "--untracked-files=no"]),
  ]);
  return head ? `${head}${dirty ? " + uncommitted changes" : ""}` : "unknown";
}

/** The machine facts of the report and the JSON (`loadgen` names the load generator). */
export async function machineInfo(loadgen: string): Promise<Record<string, unknown>> {
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
