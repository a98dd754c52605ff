import assert from "node:assert/strict";
import { join } from "node:path";
import { type Db, sql } from "./db.ts";
import { openPglite } from "./pglite.ts";

/** Resolves with the first `n` payloads delivered to `received`, or rejects after `ms`. */
function waitFor(received: string[], n: number, ms = 2000): Promise<string[]> {
  const deadline = Date.now() + ms;
  return new Promise((resolve, reject) => {
    const poll = () => {
      if (received.length >= n) return resolve(received.slice(0, n));
      if (Date.now() > deadline) {
        return reject(new Error(`Got ${received.length} of ${n} notifications`));
      }
      setTimeout(poll, 5);
    };
    poll();
  });
}

/** Lets pending callbacks and timers run. */
function settle(ms = 50): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// One in-memory instance for the whole contract (creating one costs ~2.5 s and ~600 MB).
Deno.test("PGlite Db: the same contract as the postgres.js handle", async (t) => {
  const db = await openPglite(undefined);
  try {
    await t.step("query returns a plain array of rows with parsed types", async () => {
      const rows = await db.query(sql`
        SELECT now() AS ts, count(*) AS big, count(*)::int AS n, 1.50::numeric AS num,
               ${"x"}::text AS s, ${true}::boolean AS b, ${[1, 2]}::int[] AS arr,
               0.25::real AS r, NULL AS nothing
        FROM generate_series(1, 3)`);
      assert.ok(Array.isArray(rows));
      assert.equal(Object.getPrototypeOf(rows), Array.prototype);
      assert.equal(rows.length, 1);
      const row = rows[0];
      assert.ok(row.ts instanceof Date);
      assert.ok(Math.abs((row.ts as Date).getTime() - Date.now()) < 60_000);
      assert.equal(row.big, 3); // bigint as number, as with postgres.js
      assert.equal(row.n, 3);
      assert.equal(row.num, "1.50"); // numeric stays a string, as with postgres.js
      assert.equal(row.s, "x");
      assert.equal(row.b, true);
      assert.deepEqual(row.arr, [1, 2]);
      assert.equal(row.r, 0.25);
      assert.equal(row.nothing, null);
    });

    await t.step("exec runs a multi-statement script", async () => {
      await db.exec(`
        CREATE TABLE kv (k text PRIMARY KEY, v jsonb);
        CREATE TABLE counter (id int PRIMARY KEY, n int NOT NULL);
        INSERT INTO counter VALUES (1, 0);`);
      const [row] = await db.query<{ n: number }>(sql`SELECT n FROM counter WHERE id = 1`);
      assert.equal(row.n, 0);
    });

    await t.step(
      "jsonb stores JS objects and arrays as JSON, strings as JSON strings",
      async () => {
        const obj = { n: 1, list: [1, "two"], nested: { ok: true } };
        await db.query(sql`INSERT INTO kv VALUES (${"obj"}, ${obj})`);
        await db.query(sql`INSERT INTO kv VALUES (${"arr"}, ${[{ a: 1 }, 2]})`);
        // Like postgres.js: a JS string is a JSON string, never re-parsed as JSON text.
        await db.query(sql`INSERT INTO kv VALUES (${"str"}, ${'{"a":1}'})`);
        await db.query(sql`INSERT INTO kv VALUES (${"nul"}, ${null})`);
        const rows = await db.query<{ k: string; v: unknown; kind: string | null }>(
          sql`SELECT k, v, jsonb_typeof(v) AS kind FROM kv ORDER BY k`,
        );
        assert.deepEqual(rows, [
          { k: "arr", v: [{ a: 1 }, 2], kind: "array" },
          { k: "nul", v: null, kind: null },
          { k: "obj", v: obj, kind: "object" },
          { k: "str", v: '{"a":1}', kind: "string" },
        ]);
        const [path] = await db.query(
          sql`SELECT v #>> '{nested,ok}' AS ok FROM kv WHERE k = 'obj'`,
        );
        assert.equal(path.ok, "true");
      },
    );

    await t.step("errors reject with the Postgres code and leave the handle usable", async () => {
      await assert.rejects(
        db.query(sql`SELECT nope FROM kv`),
        (err: Error & { code?: string }) => {
          assert.equal(err.code, "42703");
          assert.match(err.message, /column "nope" does not exist/);
          return true;
        },
      );
      await assert.rejects(db.exec("SELECT 1; SELECT 1/0;"), /division by zero/);
      const [row] = await db.query(sql`SELECT 1 AS one`);
      assert.equal(row.one, 1);
    });

    await t.step("a transaction commits, or rolls back when fn throws", async () => {
      const result = await db.transaction(async (tx) => {
        await tx.query(sql`INSERT INTO kv VALUES (${"tx-ok"}, ${{}})`);
        return "done";
      });
      assert.equal(result, "done");
      await assert.rejects(
        db.transaction(async (tx) => {
          await tx.query(sql`INSERT INTO kv VALUES (${"tx-boom"}, ${{}})`);
          await tx.exec("UPDATE counter SET n = 99");
          throw new Error("boom");
        }),
        /boom/,
      );
      // A failing statement aborts the transaction: it rolls back and the error surfaces.
      await assert.rejects(
        db.transaction(async (tx) => {
          await tx.query(sql`INSERT INTO kv VALUES (${"tx-dup"}, ${{}})`);
          await tx.query(sql`INSERT INTO kv VALUES (${"tx-dup"}, ${{}})`);
        }),
        /duplicate key/,
      );
      const keys = await db.query(sql`SELECT k FROM kv WHERE k LIKE 'tx-%' ORDER BY k`);
      assert.deepEqual(keys.map((r) => r.k), ["tx-ok"]);
      const [c] = await db.query(sql`SELECT n FROM counter`);
      assert.equal(c.n, 0);
    });

    await t.step("a nested transaction runs on the same transaction", async () => {
      await assert.rejects(
        db.transaction(async (tx) => {
          const inner = await tx.transaction(async (tx2) => {
            assert.equal(tx2, tx);
            await tx2.query(sql`INSERT INTO kv VALUES (${"nested"}, ${{}})`);
            return 7;
          });
          assert.equal(inner, 7);
          throw new Error("outer fails");
        }),
        /outer fails/,
      );
      assert.deepEqual(await db.query(sql`SELECT k FROM kv WHERE k = 'nested'`), []);
    });

    await t.step("using the outer handle inside its transaction fails fast", async () => {
      await assert.rejects(
        db.transaction(async () => {
          await db.query(sql`SELECT 1`);
        }),
        /inside one of its own transactions/,
      );
      await assert.rejects(
        db.transaction(() => db.transaction(() => Promise.resolve())),
        /use the transaction's `tx`/,
      );
      await assert.rejects(
        db.transaction((tx) => tx.listen("x", () => {})),
        /Cannot LISTEN inside a transaction/,
      );
      // Once committed, work started inside may use the handle again.
      let later: Promise<unknown> = Promise.resolve();
      await db.transaction(() => {
        later = settle(1).then(() => db.query(sql`SELECT 1 AS one`));
        return Promise.resolve();
      });
      assert.deepEqual(await later, [{ one: 1 }]);
    });

    await t.step("pg_advisory_xact_lock works and is released at commit", async () => {
      await db.transaction(async (tx) => {
        await tx.query(sql`SELECT pg_advisory_xact_lock(${0x6461726b})`);
        const held = await tx.query(sql`SELECT count(*)::int AS n FROM pg_locks
                                        WHERE locktype = 'advisory'`);
        assert.equal(held[0].n, 1);
      });
      const [after] = await db.query(
        sql`SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory'`,
      );
      assert.equal(after.n, 0);
    });

    await t.step(
      "concurrent callers: read-modify-write transactions never interleave",
      async () => {
        const callers = 25;
        await Promise.all(Array.from({ length: callers }, (_, i) =>
          db.transaction(async (tx) => {
            const [row] = await tx.query<{ n: number }>(sql`SELECT n FROM counter WHERE id = 1`);
            await settle(i % 3); // yield so other callers get a chance to cut in
            await tx.query(sql`UPDATE counter SET n = ${row.n + 1} WHERE id = 1`);
            await tx.query(sql`INSERT INTO kv VALUES (${`rmw-${i}`}, ${{ saw: row.n }})`);
          })));
        const [row] = await db.query<{ n: number }>(sql`SELECT n FROM counter WHERE id = 1`);
        assert.equal(row.n, callers);
        const seen = await db.query<{ saw: number }>(
          sql`SELECT (v->>'saw')::int AS saw FROM kv WHERE k LIKE 'rmw-%' ORDER BY 1`,
        );
        assert.deepEqual(seen.map((r) => r.saw), Array.from({ length: callers }, (_, i) => i));
      },
    );

    await t.step("concurrent plain queries wait for an open transaction", async () => {
      let release!: () => void;
      const gate = new Promise<void>((resolve) => release = resolve);
      const writer = db.transaction(async (tx) => {
        await tx.query(sql`UPDATE counter SET n = -1 WHERE id = 1`);
        await gate;
        await tx.query(sql`UPDATE counter SET n = 1000 WHERE id = 1`);
      });
      await settle(10);
      const readers = Array.from(
        { length: 10 },
        () => db.query<{ n: number }>(sql`SELECT n FROM counter WHERE id = 1`),
      );
      await settle(10);
      release();
      await writer;
      // Never the uncommitted -1: they ran after the commit.
      for (const [row] of await Promise.all(readers)) assert.equal(row.n, 1000);
      await db.query(sql`UPDATE counter SET n = 0`);
    });

    await t.step("listen: NOTIFY from the same instance arrives, at commit", async () => {
      const received: string[] = [];
      const stop = await db.listen("jobs_changed", (p) => received.push(p));
      await db.query(sql`SELECT pg_notify('jobs_changed', ${"plain"})`);
      assert.deepEqual(await waitFor(received, 1), ["plain"]);

      let seenBeforeCommit = -1;
      await db.transaction(async (tx) => {
        await tx.query(sql`SELECT pg_notify('jobs_changed', ${"from-tx"})`);
        await settle(20);
        seenBeforeCommit = received.length;
      });
      assert.equal(seenBeforeCommit, 1, "delivered only at commit");
      assert.deepEqual(await waitFor(received, 2), ["plain", "from-tx"]);

      await assert.rejects(db.transaction(async (tx) => {
        await tx.exec("NOTIFY jobs_changed, 'rolled-back'");
        throw new Error("abort");
      }));
      await db.exec("NOTIFY jobs_changed, 'via-exec'");
      assert.deepEqual(await waitFor(received, 3), ["plain", "from-tx", "via-exec"]);

      await stop();
      await stop(); // idempotent
      await db.query(sql`SELECT pg_notify('jobs_changed', 'after-stop')`);
      await settle();
      assert.deepEqual(received, ["plain", "from-tx", "via-exec"]);
    });

    await t.step("listen: several listeners, exact channel names", async () => {
      const a: string[] = [];
      const b: string[] = [];
      const mixed: string[] = [];
      const stopA = await db.listen("chan", (p) => a.push(p));
      const stopB = await db.listen("chan", (p) => b.push(p));
      const stopMixed = await db.listen('Job "Events"', (p) => mixed.push(p));
      await db.query(sql`SELECT pg_notify('chan', '1')`);
      await db.query(sql`SELECT pg_notify(${'Job "Events"'}, '2')`);
      assert.deepEqual(await waitFor(a, 1), ["1"]);
      assert.deepEqual(await waitFor(b, 1), ["1"]);
      assert.deepEqual(await waitFor(mixed, 1), ["2"]);
      await stopA();
      await db.query(sql`SELECT pg_notify('chan', '3')`);
      assert.deepEqual(await waitFor(b, 2), ["1", "3"]);
      assert.deepEqual(a, ["1"]);
      await stopB();
      await stopMixed();
      const [listening] = await db.query(sql`SELECT count(*)::int AS n
                                              FROM pg_listening_channels()`);
      assert.equal(listening.n, 0);
    });

    await t.step("a listener may query the handle when a notification arrives", async () => {
      const counts: string[] = [];
      const stop = await db.listen("counted", () => {
        db.query<{ n: number }>(sql`SELECT n FROM counter WHERE id = 1`)
          .then(([row]) => counts.push(String(row.n)), (err) => counts.push(err.message));
      });
      await db.transaction(async (tx) => {
        await tx.query(sql`UPDATE counter SET n = 42 WHERE id = 1`);
        await tx.query(sql`SELECT pg_notify('counted', '')`);
      });
      assert.deepEqual(await waitFor(counts, 1), ["42"]);
      await stop();
    });
  } finally {
    await db.close();
  }
});

Deno.test("PGlite Db: a data folder keeps its data across close, reopen and a killed process", async () => {
  const dir = join(await Deno.makeTempDir(), "pgdata");
  try {
    // A separate process creates the folder, commits a row, and exits without closing PGlite.
    const module = new URL("./pglite.ts", import.meta.url).href;
    const script = `
      import { openPglite } from ${JSON.stringify(module)};
      const db = await openPglite(${JSON.stringify(dir)});
      await db.exec("CREATE TABLE notes (id int PRIMARY KEY, body jsonb NOT NULL)");
      await db.query({ text: "INSERT INTO notes VALUES (1, $1)", values: [{ by: "child" }] });
      Deno.exit(0);`;
    const child = await new Deno.Command(Deno.execPath(), {
      args: [
        "eval",
        "--no-lock",
        `--config=${new URL("../../deno.json", import.meta.url).pathname}`,
        script,
      ],
      env: { RUST_BACKTRACE: "0", NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(child.code, 0, new TextDecoder().decode(child.stderr));

    let db: Db = await openPglite(dir);
    assert.deepEqual(await db.query(sql`SELECT id, body FROM notes`), [
      { id: 1, body: { by: "child" } },
    ]);
    await db.query(sql`INSERT INTO notes VALUES (2, ${{ by: "parent" }})`);
    await db.close();
    await db.close(); // idempotent
    await assert.rejects(db.query(sql`SELECT 1`));

    db = await openPglite(dir);
    const rows = await db.query(sql`SELECT id, body->>'by' AS by FROM notes ORDER BY id`);
    assert.deepEqual(rows, [{ id: 1, by: "child" }, { id: 2, by: "parent" }]);
    await db.close();
  } finally {
    await Deno.remove(join(dir, ".."), { recursive: true });
  }
});
