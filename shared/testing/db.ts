/** Test helper: a Postgres schema of the test's own, migrated, dropped afterwards. */
import { Redis } from "ioredis";
import { connectPostgres, type Db } from "../db/db.ts";
import { migrate } from "../db/migrations.ts";

/** The database tests use (the machine's `test` database unless TEST_DATABASE_URL says else). */
export function testDatabaseUrl(): string {
  return Deno.env.get("TEST_DATABASE_URL") ?? "postgres://postgres@127.0.0.1:5432/test";
}

/** The Redis tests use. */
export function testRedisUrl(): string {
  return Deno.env.get("TEST_REDIS_URL") ?? "redis://127.0.0.1:6379";
}

export interface TestDb {
  db: Db;
  schema: string;
  url: string;
  /** Drops the schema and closes connections. */
  cleanup(): Promise<void>;
}

/** Creates a fresh schema, optionally migrated, and a Db whose search_path points at it. */
export async function createTestDb(options: { migrate?: boolean } = {}): Promise<TestDb> {
  const url = testDatabaseUrl();
  const schema = `t_${crypto.randomUUID().replaceAll("-", "").slice(0, 16)}`;
  const admin = connectPostgres(url, { max: 1 });
  await admin.exec(`CREATE SCHEMA "${schema}"`);
  await admin.close();
  const db = connectPostgres(url, { schema, max: 5 });
  if (options.migrate !== false) await migrate(db);
  return {
    db,
    schema,
    url,
    async cleanup() {
      await db.close();
      const dropper = connectPostgres(url, { max: 1 });
      await dropper.exec(`DROP SCHEMA "${schema}" CASCADE`);
      await dropper.close();
    },
  };
}

/** A unique BullMQ prefix for one test. */
export function testQueuePrefix(): string {
  return `darkroom-test-${crypto.randomUUID().slice(0, 8)}`;
}

/** Removes every Redis key under a queue prefix (a test's or a benchmark's); returns how many. */
export async function deleteQueueKeys(prefix: string): Promise<number> {
  const redis = new Redis(testRedisUrl(), { maxRetriesPerRequest: 1, lazyConnect: true });
  try {
    await redis.connect();
    let cursor = "0";
    let deleted = 0;
    do {
      const [next, keys] = await redis.scan(cursor, "MATCH", `${prefix}:*`, "COUNT", 1000);
      cursor = next;
      if (keys.length > 0) deleted += await redis.del(...keys);
    } while (cursor !== "0");
    return deleted;
  } finally {
    redis.disconnect();
  }
}
