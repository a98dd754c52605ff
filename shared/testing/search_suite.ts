/**
 * The library's data access checked on a migrated database, the same on Postgres
 * (shared/jobs/search_test.ts) and PGlite (shared/jobs/search_pglite_test.ts): word search over
 * all history, filters, both page orders and their cursors, totals, stars, collections.
 */
import assert from "node:assert/strict";
import { type Db, sql } from "../db/db.ts";
import { addJobs, type JobRow, markFailed, type NewJob } from "../jobs/repo.ts";
import {
  countMatching,
  decodeCursor,
  encodeCursor,
  flushSearchIndex,
  type PageRequest,
  searchJobs,
} from "../jobs/search.ts";
import {
  addToCollection,
  createCollection,
  removeFromCollection,
  setStarred,
} from "../library/collections.ts";

const PROMPTS = ["a red fox in snow", "a lighthouse at dusk", "neon city rain", "calm sea"];

function job(n: number, extra: Partial<NewJob> = {}): NewJob {
  return {
    id: crypto.randomUUID(),
    prompt: `${PROMPTS[n % PROMPTS.length]} number${n}`,
    negative_prompt: n % 5 === 0 ? "blurry watermark" : null,
    model: n % 3 === 0 ? "local/aurora" : "acme/flux:" + "a".repeat(64),
    parameters: { seed: n },
    provider: "local",
    ...extra,
  };
}

/**
 * Gives jobs distinct creation times in the order given, `stepMs` apart from `start`, in jobs
 * and job_search alike (PGlite's clock gives a whole batch one time; tests need an order).
 */
export async function spaceOut(db: Db, ids: string[], start: string, stepMs: number) {
  const order = JSON.stringify(ids.map((id, n) => ({ id, n })));
  const tables = [["jobs", "id", "created_at"], ["job_search", "job_id", "made_at"]];
  for (const [table, id, at] of tables) {
    await db.exec(`UPDATE ${table} t SET ${at} = '${start}'::timestamptz +
                     v.n * interval '${stepMs} millisecond'
                   FROM jsonb_to_recordset('${order}'::jsonb) AS v(id uuid, n int)
                   WHERE t.${id} = v.id`);
  }
}

/** Every page of a search, following cursors; checks that pages do not overlap. */
async function allPages(
  db: Db,
  request: Omit<PageRequest, "skip" | "cursor">,
  options: { gatherMaxRows?: number } = {},
): Promise<JobRow[]> {
  const out: JobRow[] = [];
  let cursor: PageRequest["cursor"];
  for (let guard = 0; guard < 100; guard++) {
    const page = await searchJobs(db, { ...request, skip: 0, cursor }, options);
    out.push(...page.rows);
    assert.ok(page.rows.length <= request.limit);
    if (page.next === null) break;
    assert.equal(page.rows.length, request.limit, "only the last page is short");
    cursor = decodeCursor(page.next) ?? undefined;
    assert.ok(cursor, "the cursor decodes");
  }
  assert.equal(new Set(out.map((r) => r.id)).size, out.length, "no job twice");
  return out;
}

/** Runs the suite on `db` (migrated, empty), as `t.step`s. */
export async function checkLibrary(db: Db, t: Deno.TestContext): Promise<void> {
  const owner = crypto.randomUUID();
  const other = crypto.randomUUID();
  await db.query(sql`
    INSERT INTO api_keys (id, name, prefix, key_hash, webhook_secret)
    VALUES (${owner}, 'mine', 'dr_mine', ${owner}, 'whsec_x'),
           (${other}, 'other', 'dr_other', ${other}, 'whsec_y')`);
  // 60 jobs of `owner` in one batch (created_at in this order), the 46th newest with a word of
  // its own; then the boundary; then 5 more of `owner` and 3 of `other`.
  const first = Array.from({ length: 60 }, (_, i) =>
    job(i, {
      owner_key_id: owner,
      ...(i === 60 - 46 ? { prompt: "an old Zanzibar harbour at noon" } : {}),
    }));
  const later = Array.from({ length: 5 }, (_, i) => job(100 + i, { owner_key_id: owner }));
  const theirs = Array.from({ length: 3 }, (_, i) => job(200 + i, { owner_key_id: other }));
  await addJobs(db, [...first, ...later, ...theirs]);
  // The index copies each job's creation time (checked here), then every job gets one a
  // millisecond after the one before.
  const [{ copied }] = await db.query<{ copied: number }>(sql`
    SELECT count(*)::int AS copied FROM jobs JOIN job_search s ON s.job_id = jobs.id
    WHERE s.made_at = jobs.created_at AND s.owner = jobs.owner_key_id AND s.model = jobs.model`);
  assert.equal(copied, 68);
  await spaceOut(db, [...first, ...later, ...theirs].map((j) => j.id), "2025-01-01T00:00:00Z", 1);
  const boundary = "2025-01-01T00:00:00.060Z";
  const mine = [...first, ...later].reverse(); // newest first
  const base = { owner, sort: "newest" as const, limit: 20, skip: 0 };

  await t.step(
    "the 46th newest job is found by a word of its prompt, any case, by prefix",
    async () => {
      const target = first[60 - 46];
      assert.equal(mine.findIndex((j) => j.id === target.id), 45 + later.length);
      for (const q of ["zanzibar", "ZANZIBAR", "zanz", "harbour zanzibar", "  Zanzibar!  "]) {
        const page = await searchJobs(db, { ...base, q });
        assert.deepEqual(page.rows.map((r) => r.id), [target.id], q);
        assert.equal(page.next, null);
      }
      // Every word must match; another key's jobs are never found.
      assert.deepEqual((await searchJobs(db, { ...base, q: "zanzibar fox" })).rows, []);
      assert.deepEqual((await searchJobs(db, { ...base, owner: other, q: "zanzibar" })).rows, []);
      // A text without a word is no filter.
      assert.equal((await searchJobs(db, { ...base, q: "!!!" })).rows.length, 20);
      // The negative prompt is searched too.
      const blurry = await allPages(db, { ...base, q: "watermark" });
      assert.deepEqual(
        blurry.map((r) => r.id),
        mine.filter((j) => j.negative_prompt).map((j) => j.id),
      );
    },
  );

  await t.step("cursor pages cover every match once, newest or oldest first", async () => {
    for (const gatherMaxRows of [0, 1_000_000]) {
      const newest = await allPages(db, { ...base, limit: 7 }, { gatherMaxRows });
      assert.deepEqual(newest.map((r) => r.id), mine.map((j) => j.id));
      const oldest = await allPages(db, { ...base, sort: "oldest", limit: 7 }, { gatherMaxRows });
      assert.deepEqual(oldest.map((r) => r.id), [...mine].reverse().map((j) => j.id));
      // A word search, walking (0) and gathering (1,000,000).
      const fox = mine.filter((j) => j.prompt.includes("fox")).map((j) => j.id);
      const foxes = await allPages(db, { ...base, q: "fox", limit: 4 }, { gatherMaxRows });
      assert.deepEqual(foxes.map((r) => r.id), fox, `gatherMaxRows ${gatherMaxRows}`);
      const old = await allPages(db, { ...base, q: "fox", sort: "oldest", limit: 4 }, {
        gatherMaxRows,
      });
      assert.deepEqual(old.map((r) => r.id), [...fox].reverse());
      // Words with a status: walked by the status, each probed for the words.
      const pending = await allPages(db, { ...base, q: "fox", status: "pending", limit: 4 }, {
        gatherMaxRows,
      });
      assert.deepEqual(pending.map((r) => r.id), fox);
    }
    // skip still works (the old contract), and a cursor of its last row continues it.
    const skipped = await searchJobs(db, { ...base, skip: 10, limit: 5 });
    assert.deepEqual(skipped.rows.map((r) => r.id), mine.slice(10, 15).map((j) => j.id));
    const after = await searchJobs(db, { ...base, limit: 5, cursor: decodeCursor(skipped.next!)! });
    assert.deepEqual(after.rows.map((r) => r.id), mine.slice(15, 20).map((j) => j.id));
  });

  await t.step("model, status, date filters; totals exact or estimated", async () => {
    const aurora = await allPages(db, { ...base, model: "local/aurora" });
    assert.deepEqual(
      aurora.map((r) => r.id),
      mine.filter((j) => j.model === "local/aurora").map((j) => j.id),
    );
    // owner/name matches its versions; a full version only itself.
    const flux = mine.filter((j) => j.model.startsWith("acme/flux")).map((j) => j.id);
    assert.deepEqual((await allPages(db, { ...base, model: "acme/flux" })).map((r) => r.id), flux);
    assert.deepEqual(
      (await allPages(db, { ...base, model: `acme/flux:${"a".repeat(64)}` })).map((r) => r.id),
      flux,
    );
    assert.deepEqual((await searchJobs(db, { ...base, model: "acme/flu" })).rows, []);
    await markFailed(db, mine[3].id, "boom");
    const failed = await searchJobs(db, { ...base, status: "failed" });
    assert.deepEqual(failed.rows.map((r) => r.id), [mine[3].id]);
    const words = await searchJobs(db, { ...base, status: "failed", q: PROMPTS[0].split(" ")[2] });
    assert.deepEqual(
      words.rows.map((r) => r.id),
      mine[3].prompt.includes("fox") ? [mine[3].id] : [],
    );
    // Dates: after is inclusive, before exclusive.
    const at = new Date(boundary);
    const afterIt = await allPages(db, { ...base, after: at });
    assert.deepEqual(afterIt.map((r) => r.id), [...later].reverse().map((j) => j.id));
    const beforeIt = await allPages(db, { ...base, before: at, q: "number" });
    assert.equal(beforeIt.length, 59, "the 60 first but the Zanzibar one (no 'number')");
    // Totals.
    assert.deepEqual(await countMatching(db, { owner }), { total: 65, estimated: false });
    assert.deepEqual(await countMatching(db, { owner, q: "zanzibar" }), {
      total: 1,
      estimated: false,
    });
    assert.deepEqual(await countMatching(db, { owner: other }), { total: 3, estimated: false });
    const rough = await countMatching(db, { owner }, { exactUpTo: 0 });
    assert.equal(rough.estimated, true);
    assert.ok(rough.total >= 1);
  });

  await t.step("stars: set and cleared per visible job; the starred filter", async () => {
    const theirs = await db.query<{ id: string }>(
      sql`SELECT id FROM jobs WHERE owner_key_id = ${other} LIMIT 1`,
    );
    const starred = await setStarred(db, [mine[0].id, mine[7].id, theirs[0].id], true, { owner });
    assert.deepEqual(starred, new Set([mine[0].id, mine[7].id]), "another key's job is skipped");
    const [{ updated }] = await db.query<{ updated: Date }>(
      sql`SELECT updated_at AS updated FROM jobs WHERE id = ${mine[0].id}`,
    );
    await setStarred(db, [mine[0].id], true, { owner });
    const [{ again }] = await db.query<{ again: Date }>(
      sql`SELECT updated_at AS again FROM jobs WHERE id = ${mine[0].id}`,
    );
    assert.equal(again.getTime(), updated.getTime(), "no change, no new updated_at");
    const page = await searchJobs(db, { ...base, starred: true });
    assert.deepEqual(page.rows.map((r) => [r.id, r.starred]), [
      [mine[0].id, true],
      [mine[7].id, true],
    ]);
    assert.equal((await searchJobs(db, { ...base, starred: false, limit: 100 })).rows.length, 63);
    await setStarred(db, [mine[7].id], false, {});
    assert.deepEqual(
      (await searchJobs(db, { ...base, starred: true })).rows.map((r) => r.id),
      [mine[0].id],
    );
    assert.ok(
      (await searchJobs(db, { ...base, starred: true, q: mine[0].prompt.split(" ")[1] })).rows
        .length === 1,
    );
  });

  await t.step("collections: add, filter, remove; a job deleted leaves them", async () => {
    const board = await createCollection(db, owner, "Favourites");
    assert.equal(board.job_count, 0);
    const added = await addToCollection(db, board.id, [mine[2].id, mine[9].id, mine[9].id], {
      owner,
    });
    assert.deepEqual(added, new Set([mine[2].id, mine[9].id]));
    const inside = await searchJobs(db, { ...base, collection: board.id });
    assert.deepEqual(inside.rows.map((r) => r.id), [mine[2].id, mine[9].id]);
    const combined = await searchJobs(db, { ...base, collection: board.id, model: mine[9].model });
    assert.ok(combined.rows.every((r) => r.model === mine[9].model));
    await removeFromCollection(db, board.id, [mine[2].id], { owner });
    assert.deepEqual(
      (await searchJobs(db, { ...base, collection: board.id })).rows.map((r) => r.id),
      [mine[9].id],
    );
    await db.query(sql`DELETE FROM jobs WHERE id = ${mine[9].id}`);
    assert.deepEqual((await searchJobs(db, { ...base, collection: board.id })).rows, []);
    const [{ n }] = await db.query<{ n: number }>(
      sql`SELECT count(*)::int AS n FROM job_search WHERE job_id = ${mine[9].id}`,
    );
    assert.equal(n, 0, "its search row went with it");
  });

  await t.step("the word index's pending entries merge; searches find the same", async () => {
    const before = await searchJobs(db, { ...base, q: "fox", limit: 100 });
    assert.ok(await flushSearchIndex(db) >= 0);
    assert.equal(await flushSearchIndex(db), 0, "nothing left to merge");
    const after = await searchJobs(db, { ...base, q: "fox", limit: 100 });
    assert.deepEqual(after.rows.map((r) => r.id), before.rows.map((r) => r.id));
  });

  await t.step("cursors are opaque and checked", () => {
    const cursor = {
      sort: "oldest" as const,
      at: "2025-01-02T03:04:05.123456",
      id: "5b7c3f0e-8a1d-4c2b-9e6f-0123456789ab",
    };
    assert.deepEqual(decodeCursor(encodeCursor(cursor)), cursor);
    for (
      const bad of [
        "",
        "x",
        "!!",
        btoa("n.2025-02-30T00:00:00.000000.5b7c3f0e-8a1d-4c2b-9e6f-0123456789ab"),
        btoa("n.2025-01-01T24:00:00.000000.5b7c3f0e-8a1d-4c2b-9e6f-0123456789ab"),
        btoa("q.2025-01-01T00:00:00.000000.5b7c3f0e-8a1d-4c2b-9e6f-0123456789ab"),
        btoa("n.2025-01-01T00:00:00.000000.not-a-uuid"),
        "A".repeat(300),
      ]
    ) {
      assert.equal(decodeCursor(bad.replace(/=+$/, "")), null, bad);
    }
  });
}
