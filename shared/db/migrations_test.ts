import assert from "node:assert/strict";
import { sql } from "./db.ts";
import { migrate, type Migration, migrationStatus, readMigrations } from "./migrations.ts";
import { createTestDb } from "../testing/db.ts";
import { sha256Hex } from "../hash.ts";

async function m(version: number, name: string, text: string): Promise<Migration> {
  const checksum = await sha256Hex(text);
  return { version, name: `${String(version).padStart(5, "0")}_${name}.sql`, sql: text, checksum };
}

Deno.test("migrations: the shipped files are numbered and readable", async () => {
  const files = await readMigrations();
  assert.ok(files.length >= 1);
  assert.equal(files[0].name, "00001_create_jobs.sql");
  assert.deepEqual(
    files.map((f) => f.version),
    [...files.map((f) => f.version)].sort((a, b) => a - b),
  );
});

Deno.test("migrations: apply once, record checksums, second run is a no-op", async () => {
  const t = await createTestDb({ migrate: false });
  try {
    const first = await migrate(t.db);
    assert.ok(first.includes("00001_create_jobs.sql"));
    assert.deepEqual(await migrate(t.db), []);
    const status = await migrationStatus(t.db);
    assert.ok(status.every((s) => s.applied));
    const [{ n }] = await t.db.query<{ n: number }>(sql`SELECT count(*)::int AS n FROM jobs`);
    assert.equal(n, 0);
  } finally {
    await t.cleanup();
  }
});

Deno.test("migrations: two runners at once apply each file exactly once", async () => {
  const t = await createTestDb({ migrate: false });
  const files = [
    await m(1, "a", "CREATE TABLE a (id int); SELECT pg_sleep(0.2);"),
    await m(2, "b", "CREATE TABLE b (id int);"),
  ];
  try {
    const [x, y] = await Promise.all([migrate(t.db, files), migrate(t.db, files)]);
    assert.deepEqual([...x, ...y].sort(), ["00001_a.sql", "00002_b.sql"]);
    const rows = await t.db.query(sql`SELECT version FROM schema_migrations ORDER BY version`);
    assert.deepEqual(rows.map((r) => r.version), [1, 2]);
  } finally {
    await t.cleanup();
  }
});

Deno.test("migrations: an edited applied file is refused; a failing file rolls back", async () => {
  const t = await createTestDb({ migrate: false });
  try {
    await migrate(t.db, [await m(1, "a", "CREATE TABLE a (id int);")]);
    await assert.rejects(
      migrate(t.db, [await m(1, "a", "CREATE TABLE a (id bigint);")]),
      /was edited after it was applied/,
    );
    await assert.rejects(
      migrate(t.db, [
        await m(1, "a", "CREATE TABLE a (id int);"),
        await m(2, "bad", "CREATE TABLE c (id int); SELECT nope FROM nowhere;"),
      ]),
      /Cannot apply migration 00002_bad.sql/,
    );
    const tables = await t.db.query(sql`
      SELECT table_name FROM information_schema.tables
      WHERE table_schema = ${t.schema} ORDER BY table_name`);
    assert.deepEqual(tables.map((r) => r.table_name), ["a", "schema_migrations"]);
    const status = await migrationStatus(t.db, [
      await m(1, "a", "CREATE TABLE a (id int);"),
      await m(2, "b", "CREATE TABLE b (id int);"),
    ]);
    assert.deepEqual(status.map((s) => s.applied), [true, false]);
  } finally {
    await t.cleanup();
  }
});
