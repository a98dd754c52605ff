import assert from "node:assert/strict";
import { connectPostgres, sql } from "../../shared/db/db.ts";
import {
  deleteQueueKeys,
  testDatabaseUrl,
  testQueuePrefix,
  testRedisUrl,
} from "../../shared/testing/db.ts";
import { Redis } from "ioredis";
import { bullmqYardstick, postgresYardstick, redisYardstick } from "./yardstick.ts";

const MISSING = "darkroom-no-such-command";

async function calibrationTables(): Promise<string[]> {
  const db = connectPostgres(testDatabaseUrl(), { max: 1 });
  try {
    const rows = await db.query<{ name: string }>(
      sql`SELECT tablename AS name FROM pg_tables WHERE tablename LIKE 'bench_calibrate_%'`,
    );
    return rows.map((r) => r.name);
  } finally {
    await db.close();
  }
}

async function keysUnder(prefix: string): Promise<string[]> {
  const redis = new Redis(testRedisUrl());
  try {
    return await redis.keys(`${prefix}:*`);
  } finally {
    redis.disconnect();
  }
}

Deno.test("yardstick: Postgres commits a second, by pgbench and by postgres.js, table dropped", async () => {
  const before = await calibrationTables();
  for (const [command, by] of [["pgbench", "pgbench"], [MISSING, "postgres.js"]] as const) {
    const result = await postgresYardstick(testDatabaseUrl(), { seconds: 1, pgbench: command });
    if (command === "pgbench" && result.by === "postgres.js") continue; // pgbench not installed here
    assert.equal(result.by, by);
    assert.ok(result.one > 0 && result.ten > 0, JSON.stringify(result));
  }
  assert.deepEqual(await calibrationTables(), before);
});

Deno.test("yardstick: Redis SET and GET a second, by redis-benchmark and by ioredis, no key left", async () => {
  const prefix = testQueuePrefix();
  for (const command of ["redis-benchmark", MISSING]) {
    const result = await redisYardstick(testRedisUrl(), prefix, {
      requests: 2000,
      redisBenchmark: command,
    });
    if (command === MISSING) assert.equal(result.by, "ioredis");
    assert.ok(result.set > 0 && result.get > 0, JSON.stringify(result));
  }
  assert.deepEqual(await keysUnder(prefix), []);
  const redis = new Redis(testRedisUrl());
  assert.equal(await redis.exists("key:__rand_int__"), 0);
  redis.disconnect();
});

Deno.test("yardstick: BullMQ no-op jobs are all added and processed; the prefix is then emptied", async () => {
  const prefix = testQueuePrefix();
  const result = await bullmqYardstick(testRedisUrl(), prefix, 1000);
  assert.ok(result.add > 0 && result.process > 0, JSON.stringify(result));
  const redis = new Redis(testRedisUrl());
  // Every job ran and was removed on completion: nothing waits, nothing is kept.
  assert.equal(await redis.llen(`${prefix}:yardstick:wait`), 0);
  assert.equal(await redis.zcard(`${prefix}:yardstick:completed`), 0);
  redis.disconnect();
  assert.ok(await deleteQueueKeys(prefix) > 0);
  assert.deepEqual(await keysUnder(prefix), []);
});
