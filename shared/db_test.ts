import assert from "node:assert/strict";
import { fragment, join, sql } from "./db.ts";
import { createTestDb } from "./testing/db.ts";

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
