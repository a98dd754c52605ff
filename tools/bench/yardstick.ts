/**
 * The benchmark's measures of the machine itself: the three limits the performance issue gives
 * "for orientation" (its machine: Postgres single-row inserts 3.4k/s on one connection and 16–17k
 * on ten, Redis ~100k simple ops/s, BullMQ ~16k no-op jobs/s in Deno). Measured before the
 * scenarios, they tell a slow machine from slow code: the same code gives lower figures
 * everywhere on a machine whose yardsticks are lower.
 */
import { Queue, Worker } from "bullmq";
import { Redis } from "ioredis";
import { connectPostgres } from "../../shared/db/db.ts";

export interface PostgresYardstick {
  /** Single-row INSERT commits per second on one connection and on ten. */
  one: number;
  ten: number;
  by: "pgbench" | "postgres.js";
}

export interface RedisYardstick {
  /** SET and GET per second, 50 clients, 3-byte values (redis-benchmark's defaults). */
  set: number;
  get: number;
  by: "redis-benchmark" | "ioredis";
}

export interface BullmqYardstick {
  /** Empty jobs added per second (addBulk, 500 a call). */
  add: number;
  /** Empty jobs completed per second by one Worker (concurrency 100, a handler that returns). */
  process: number;
}

/** What the issue's machine gave, for the report. */
export const ISSUE_MACHINE = {
  postgres: "3,400 and 16,000–17,000",
  redis: "~100,000 simple ops/s",
  bullmq: "~16,000 no-op jobs/s",
} as const;

/** Runs a command; null when it is not installed or fails. */
async function output(command: string, args: string[], env: Record<string, string> = {}) {
  try {
    const out = await new Deno.Command(command, { args, env, stdout: "piped", stderr: "null" })
      .output();
    return out.success ? new TextDecoder().decode(out.stdout) : null;
  } catch {
    return null; // not installed
  }
}

/**
 * Single-row INSERT commits per second on one connection and on ten, with pgbench when it is
 * installed (else postgres.js, whose client side costs more), in a table of its own that is
 * dropped afterwards. `pgbench` names the command (tests name a missing one for the fallback).
 */
export async function postgresYardstick(
  databaseUrl: string,
  options: { seconds?: number; pgbench?: string } = {},
): Promise<PostgresYardstick> {
  const seconds = options.seconds ?? 2;
  const table = `bench_calibrate_${crypto.randomUUID().replaceAll("-", "").slice(0, 12)}`;
  const admin = connectPostgres(databaseUrl, { max: 1 });
  await admin.exec(`CREATE TABLE "${table}" (id bigserial PRIMARY KEY, v text NOT NULL)`);
  const insert = `INSERT INTO "${table}" (v) VALUES ('x')`;
  const script = await Deno.makeTempFile({ suffix: ".sql" });
  await Deno.writeTextFile(script, `${insert};\n`);
  const url = new URL(databaseUrl);
  const pgbench = async (connections: number): Promise<number | null> => {
    const out = await output(options.pgbench ?? "pgbench", [
      ...["-h", url.hostname, "-p", url.port || "5432", "-U", decodeURIComponent(url.username)],
      ...["-n", "-f", script, "-c", String(connections), "-j", "2", "-T", String(seconds)],
      decodeURIComponent(url.pathname.slice(1)),
    ], url.password ? { PGPASSWORD: decodeURIComponent(url.password) } : {});
    const tps = out === null ? undefined : /tps = ([\d.]+)/.exec(out)?.[1];
    return tps ? Math.round(Number(tps)) : null;
  };
  const postgresJs = async (connections: number) => {
    const db = connectPostgres(databaseUrl, { max: connections });
    const query = { text: insert, values: [] };
    await Promise.all(Array.from({ length: connections }, () => db.query(query))); // connect
    let done = 0;
    const until = performance.now() + seconds * 1000;
    await Promise.all(Array.from({ length: connections }, async () => {
      while (performance.now() < until) {
        await db.query(query);
        done++;
      }
    }));
    await db.close();
    return Math.round(done / seconds);
  };
  try {
    const one = await pgbench(1);
    const ten = one === null ? null : await pgbench(10);
    if (one !== null && ten !== null) return { one, ten, by: "pgbench" };
    return { one: await postgresJs(1), ten: await postgresJs(10), by: "postgres.js" };
  } finally {
    await Deno.remove(script).catch(() => {});
    await admin.exec(`DROP TABLE "${table}"`).catch(() => {});
    await admin.close();
  }
}

/**
 * SET and GET per second with redis-benchmark's defaults (50 clients, 3-byte values) when it is
 * installed (`redisBenchmark` names the command), else the same through ioredis (50 connections,
 * one command each at a time). Its keys carry `prefix` and are removed afterwards.
 */
export async function redisYardstick(
  redisUrl: string,
  prefix: string,
  options: { requests?: number; redisBenchmark?: string } = {},
): Promise<RedisYardstick> {
  const requests = options.requests ?? 100_000;
  const url = new URL(redisUrl);
  const key = `${prefix}:yardstick`;
  const db = url.pathname.slice(1);
  // redis-benchmark speaks plain TCP only: a TLS Redis is measured through ioredis.
  const csv = url.protocol === "rediss:" ? null : await output(
    options.redisBenchmark ?? "redis-benchmark",
    [
      ...["-h", url.hostname, "-p", url.port || "6379"],
      ...(url.username ? ["--user", decodeURIComponent(url.username)] : []),
      ...(url.password ? ["-a", decodeURIComponent(url.password)] : []),
      ...(/^\d+$/.test(db) ? ["--dbnum", db] : []),
      ...["-t", "set,get", "-n", String(requests), "--csv"],
    ],
  );
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 1 });
  try {
    if (csv !== null) {
      const rate = (test: string) =>
        Math.round(Number(new RegExp(`^"${test}","([\\d.]+)"`, "m").exec(csv)?.[1] ?? NaN));
      const result = { set: rate("SET"), get: rate("GET") };
      // redis-benchmark writes the key "key:__rand_int__" of its own.
      await redis.del("key:__rand_int__");
      if (Number.isFinite(result.set) && Number.isFinite(result.get)) {
        return { ...result, by: "redis-benchmark" };
      }
    }
    const clients = Array.from({ length: 50 }, () => new Redis(redisUrl));
    try {
      const timed = async (command: (client: Redis) => Promise<unknown>) => {
        let left = requests;
        const started = performance.now();
        await Promise.all(clients.map(async (client) => {
          while (left-- > 0) await command(client);
        }));
        return Math.round(requests / ((performance.now() - started) / 1000));
      };
      await Promise.all(clients.map((c) => c.ping()));
      const set = await timed((c) => c.set(key, "xxx"));
      const get = await timed((c) => c.get(key));
      return { set, get, by: "ioredis" };
    } finally {
      for (const client of clients) client.disconnect();
    }
  } finally {
    await redis.del(key).catch(() => 0);
    redis.disconnect();
  }
}

/**
 * Empty BullMQ jobs through Redis in this process: `jobs` added with addBulk (500 a call), then
 * completed by one Worker at concurrency 100. The queue lives under `prefix`; the caller removes
 * its keys.
 */
export async function bullmqYardstick(
  redisUrl: string,
  prefix: string,
  jobs = 10_000,
): Promise<BullmqYardstick> {
  const connection = new Redis(redisUrl, { maxRetriesPerRequest: null });
  const workerConnection = new Redis(redisUrl, { maxRetriesPerRequest: null });
  const queue = new Queue("yardstick", { connection, prefix });
  let worker: Worker | undefined;
  try {
    let started = performance.now();
    for (let n = 0; n < jobs; n += 500) {
      const size = Math.min(500, jobs - n);
      await queue.addBulk(
        Array.from({ length: size }, (_, i) => ({
          name: "noop",
          data: { n: n + i },
          opts: { removeOnComplete: true },
        })),
      );
    }
    const add = Math.round(jobs / ((performance.now() - started) / 1000));
    let completed = 0;
    const allDone = Promise.withResolvers<void>();
    started = performance.now();
    worker = new Worker("yardstick", async () => {}, {
      connection: workerConnection,
      prefix,
      concurrency: 100,
    });
    worker.on("completed", () => {
      if (++completed === jobs) allDone.resolve();
    });
    worker.on("failed", (_job, err) => allDone.reject(err));
    await allDone.promise;
    const process = Math.round(jobs / ((performance.now() - started) / 1000));
    return { add, process };
  } finally {
    await worker?.close();
    await queue.close();
    connection.disconnect();
    workerConnection.disconnect();
  }
}
