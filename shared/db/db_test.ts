import assert from "node:assert/strict";
import { connectPostgres, fragment, join, sql } from "./db.ts";
import { createTestDb, testDatabaseUrl } from "../testing/db.ts";

Deno.test("sql tag: values become numbered parameters, fragments are spliced", () => {
  const where = join([sql`a = ${1}`, sql`b = ${"x"}`], " AND ");
  const q = sql`SELECT * FROM t WHERE ${where} AND c = ${true} ${fragment(sql`LIMIT ${5}`)}`;
  assert.equal(q.text, "SELECT * FROM t WHERE a = $1 AND b = $2 AND c = $3 LIMIT $4");
  assert.deepEqual(q.values, [1, "x", true, 5]);
});

Deno.test("db: jsonb round-trips objects (not JSON strings), transactions roll back", async () => {
  const t = await createTestDb({ migrate: false });
  try {
    await t.db.exec("CREATE TABLE kv (k text PRIMARY KEY, v jsonb)");
    await t.db.query(sql`INSERT INTO kv VALUES (${"a"}, ${{ n: 1, list: [1, "two"] }})`);
    const [row] = await t.db.query<{ v: unknown; kind: string }>(
      sql`SELECT v, jsonb_typeof(v) AS kind FROM kv WHERE k = ${"a"}`,
    );
    assert.deepEqual(row.v, { n: 1, list: [1, "two"] });
    assert.equal(row.kind, "object");
    await assert.rejects(
      t.db.transaction(async (tx) => {
        await tx.query(sql`INSERT INTO kv VALUES (${"b"}, ${{}})`);
        throw new Error("boom");
      }),
      /boom/,
    );
    const rows = await t.db.query(sql`SELECT k FROM kv ORDER BY k`);
    assert.deepEqual(rows.map((r) => r.k), ["a"]);
  } finally {
    await t.cleanup();
  }
});

Deno.test("db: a missed deadline retires the pool; new statements run on new connections", async () => {
  const url = testDatabaseUrl();
  const application = `darkroom-retire-${crypto.randomUUID().slice(0, 8)}`;
  let recycled = 0;
  const db = connectPostgres(url, { max: 2, application, onRecycle: () => recycled++ });
  const admin = connectPostgres(url, { max: 1 });
  const key = Math.floor(Math.random() * 1e9);
  const backends = async () =>
    (await admin.query<{ pid: number }>(
      sql`SELECT pid FROM pg_stat_activity WHERE application_name = ${application}`,
    )).map((r) => r.pid).sort();
  try {
    await db.query(sql`SELECT 1`);
    const before = await backends();
    assert.ok(before.length >= 1);
    await admin.query(sql`SELECT pg_advisory_lock(${key})`);
    await assert.rejects(
      db.query({ ...sql`SELECT pg_advisory_lock(${key})`, timeoutMs: 300 }),
      /did not finish within 300 ms/,
    );
    assert.equal(recycled, 1);
    // A second miss right after does not retire the fresh pool as well.
    await assert.rejects(
      db.query({ ...sql`SELECT pg_advisory_lock(${key})`, timeoutMs: 300 }),
      /did not finish within 300 ms/,
    );
    assert.equal(recycled, 1);
    await admin.query(sql`SELECT pg_advisory_unlock(${key})`);
    // The retired pool's connections close after their grace; the new pool answers meanwhile.
    assert.deepEqual(await db.query(sql`SELECT 1 AS one`), [{ one: 1 }]);
    const until = Date.now() + 15_000;
    let left = before;
    while (Date.now() < until) {
      const now = await backends();
      left = before.filter((pid) => now.includes(pid));
      if (left.length === 0) break;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    assert.deepEqual(left, [], "the retired pool's connections are still open");
  } finally {
    await db.close(1);
    await admin.close(1);
  }
});
