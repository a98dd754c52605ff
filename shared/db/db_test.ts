import assert from "node:assert/strict";
import { connectPostgres, fragment, join, neverSent, reconnectBackoffS, sql } from "./db.ts";
import { createTestDb, testDatabaseUrl } from "../testing/db.ts";
import { startPrivatePostgres } from "../testing/private_services.ts";

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

Deno.test({
  name: "db: after a Postgres restart the first statement succeeds (no reconnect backoff)",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const pg = await startPrivatePostgres();
    const db = connectPostgres(pg.url, { max: 4 });
    try {
      await db.exec("CREATE TABLE t (id int PRIMARY KEY)");
      await db.query(sql`INSERT INTO t VALUES (1)`);
      await pg.stop("fast");
      // Many failures while it is away: postgres.js's own backoff would now wait seconds.
      let refused = 0;
      const until = Date.now() + 3000;
      while (Date.now() < until) {
        const failed = await db.query({ ...sql`SELECT 1`, timeoutMs: 2000 }).then(
          () => false,
          () => true,
        );
        if (failed) refused++;
        await new Promise((r) => setTimeout(r, 20));
      }
      assert.ok(refused >= 5, `only ${refused} refusals`);
      await pg.start();
      // Once it accepts connections, the very next statements go through, within a deadline far
      // shorter than the backoff would have been.
      const started = performance.now();
      await db.query({ ...sql`INSERT INTO t VALUES (2)`, timeoutMs: 1500 });
      const rows = await db.query<{ n: number }>(
        { ...sql`SELECT count(*)::int AS n FROM t`, timeoutMs: 1500 },
      );
      assert.equal(rows[0].n, 2);
      console.log(
        `first statements after the restart took ${Math.round(performance.now() - started)} ms`,
      );
    } finally {
      await db.close(1).catch(() => {});
      await pg.close();
    }
  },
});

Deno.test("db: only errors of statements that never reached Postgres may be sent again", () => {
  for (const code of ["ECONNREFUSED", "CONNECT_TIMEOUT", "57P03"]) {
    assert.equal(neverSent(Object.assign(new Error("x"), { code })), true, code);
  }
  for (const code of ["ECONNRESET", "CONNECTION_CLOSED", "57P01", "QUERY_TIMEOUT", "23505"]) {
    assert.equal(neverSent(Object.assign(new Error("x"), { code })), false, code);
  }
  assert.equal(neverSent(null), false);
  assert.ok(reconnectBackoffS(100) <= 0.25, "reconnects wait at most 250 ms");
});
