/**
 * The library through the API: search over all history with cursor pages, filters, stars,
 * collections and bulk actions, each key seeing only its own; the seed always present; local
 * steps beyond the provider's maximum refused.
 */
import assert from "node:assert/strict";
import { createApiKey } from "../../shared/auth/api_keys.ts";
import { sql } from "../../shared/db/db.ts";
import type { JobJson } from "../../shared/jobs/json.ts";
import { createTestDeps, type TestDeps, testSecurity } from "../../shared/testing/app_deps.ts";
import { spaceOut } from "../../shared/testing/search_suite.ts";
import { createApp } from "../app.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };
type App = ReturnType<typeof createApp>;

interface Keys {
  alice: string;
  bob: string;
  admin: string;
}

function withKeys(name: string, fn: (deps: TestDeps, app: App, keys: Keys) => Promise<void>) {
  Deno.test({
    name,
    ...opts,
    fn: async () => {
      const deps = await createTestDeps();
      try {
        const app = createApp({
          ...deps,
          security: testSecurity(),
        });
        const keys = {
          alice: (await createApiKey(deps.db, { name: "alice" })).key,
          bob: (await createApiKey(deps.db, { name: "bob" })).key,
          admin: (await createApiKey(deps.db, { name: "ops", admin: true })).key,
        };
        await fn(deps, app, keys);
      } finally {
        await deps.cleanup();
      }
    },
  });
}

async function call(
  app: App,
  method: string,
  path: string,
  key: string,
  body?: unknown,
): Promise<{ status: number; json: unknown; headers: Headers }> {
  const headers = new Headers({ authorization: `Bearer ${key}` });
  if (body !== undefined) headers.set("content-type", "application/json");
  const res = await app.request(`/api/v1${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : null, headers: res.headers };
}

async function submit(app: App, key: string, body: Record<string, unknown>): Promise<string> {
  const res = await call(app, "POST", "/generate", key, { model: "local/aurora", ...body });
  assert.equal(res.status, 202, JSON.stringify(res.json));
  return (res.json as { job_id: string }).job_id;
}

withKeys("library API: the 46th newest job is found by a word; cursor pages; filters", async (
  deps,
  app,
  keys,
) => {
  const ids: string[] = [];
  for (let i = 0; i < 60; i++) {
    const prompt = i === 60 - 46 ? "the Zanzibar spice market" : `a quiet harbour, study ${i}`;
    ids.push(
      await submit(app, keys.alice, {
        prompt,
        model: i % 2 ? "local/aurora" : "local/plasma",
        ...(i % 4 === 0 ? { negative_prompt: "fog" } : {}),
      }),
    );
  }
  const bobs = await submit(app, keys.bob, { prompt: "Zanzibar at night" });
  await spaceOut(deps.db, [...ids, bobs], "2025-03-01T00:00:00Z", 1000);
  const newest = [...ids].reverse();

  // Page 1 of the plain list cannot show it; the search finds it over all history.
  const first = await call(app, "GET", "/jobs?limit=20", keys.alice);
  assert.ok(!(first.json as JobJson[]).some((j) => j.id === ids[14]));
  const found = await call(app, "GET", "/jobs?q=zanzibar", keys.alice);
  assert.equal(found.status, 200);
  assert.deepEqual((found.json as JobJson[]).map((j) => j.id), [ids[14]]);
  assert.equal(found.headers.get("x-total-count"), "1");
  assert.equal(found.headers.get("x-next-cursor"), null);
  // Bob's own job, not Alice's; the admin sees both.
  const bob = await call(app, "GET", "/jobs?q=zanzibar", keys.bob);
  assert.deepEqual((bob.json as JobJson[]).map((j) => j.id), [bobs]);
  const admin = await call(app, "GET", "/jobs?q=zanzibar&sort=oldest", keys.admin);
  assert.deepEqual((admin.json as JobJson[]).map((j) => j.id), [ids[14], bobs]);

  // Cursor pages: Link and X-Next-Cursor lead through every job once.
  const seen: string[] = [];
  let path: string | null = "/api/v1/jobs?limit=25";
  while (path) {
    const res: Response = await app.request(path, {
      headers: { authorization: `Bearer ${keys.alice}` },
    });
    assert.equal(res.status, 200);
    seen.push(...(await res.json() as JobJson[]).map((j) => j.id));
    assert.equal(res.headers.get("x-total-count"), "60");
    const link = res.headers.get("link");
    path = link ? /^<([^>]+)>; rel="next"$/.exec(link)![1] : null;
    if (path) assert.ok(path.includes(`cursor=${res.headers.get("x-next-cursor")}`));
  }
  assert.deepEqual(seen, newest);

  // Filters: model, negative prompt words, dates, sort.
  const plasma = await call(app, "GET", "/jobs?model=local/plasma&limit=100", keys.alice);
  assert.deepEqual(
    (plasma.json as JobJson[]).map((j) => j.id),
    newest.filter((_, i) => ids.indexOf(newest[i]) % 2 === 0),
  );
  const fog = await call(app, "GET", "/jobs?q=fog&limit=100", keys.alice);
  assert.equal((fog.json as JobJson[]).length, 15);
  const window = await call(
    app,
    "GET",
    "/jobs?after=2025-03-01T00:00:10Z&before=2025-03-01T00:00:13Z&sort=oldest",
    keys.alice,
  );
  assert.deepEqual((window.json as JobJson[]).map((j) => j.id), ids.slice(10, 13));
  const day = await call(app, "GET", "/jobs?after=2025-03-01&before=2025-03-02", keys.alice);
  assert.equal(day.headers.get("x-total-count"), "60");
  // skip/limit still work as before.
  const skipped = await call(app, "GET", "/jobs?skip=5&limit=3", keys.alice);
  assert.deepEqual((skipped.json as JobJson[]).map((j) => j.id), newest.slice(5, 8));
});

withKeys("library API: bad search parameters are 422 naming the parameter", async (
  _deps,
  app,
  keys,
) => {
  const cursor = (await call(app, "GET", "/jobs?limit=1", keys.alice)).headers.get(
    "x-next-cursor",
  );
  const cases: [string, string][] = [
    [`q=${"x".repeat(201)}`, "q"],
    ["q=%00", "q"],
    ["model=NOT A MODEL", "model"],
    ["starred=yes", "starred"],
    ["collection=42", "collection"],
    ["collection=5b7c3f0e-8a1d-4c2b-9e6f-0123456789ab", "collection"],
    ["after=2025-02-30", "after"],
    ["before=yesterday", "before"],
    ["after=2025-03-02&before=2025-03-01", "after"],
    ["sort=random", "sort"],
    ["cursor=nonsense", "cursor"],
    ["cursor=%F0%9F%98%80", "cursor"],
    ["limit=0", "limit"],
  ];
  for (const [query, field] of cases) {
    const res = await call(app, "GET", `/jobs?${query}`, keys.alice);
    assert.equal(res.status, 422, query);
    const error = (res.json as { error: { code: string; details: { field: string }[] } }).error;
    assert.equal(error.code, "validation_error");
    assert.ok(error.details.some((d) => d.field === field), `${query}: ${JSON.stringify(error)}`);
  }
  await submit(app, keys.alice, { prompt: "one" });
  await submit(app, keys.alice, { prompt: "two" });
  const next = (await call(app, "GET", "/jobs?limit=1", keys.alice)).headers.get("x-next-cursor");
  assert.ok(next);
  for (const query of [`cursor=${next}&sort=oldest`, `cursor=${next}&skip=1`]) {
    const res = await call(app, "GET", `/jobs?${query}`, keys.alice);
    assert.equal(res.status, 422, query);
  }
  assert.equal(cursor, null, "a single page has no next cursor");
});

withKeys("library API: stars, collections and bulk actions, per key", async (deps, app, keys) => {
  const mine = [
    await submit(app, keys.alice, { prompt: "red fox" }),
    await submit(app, keys.alice, { prompt: "blue whale" }),
    await submit(app, keys.alice, { prompt: "green frog" }),
  ];
  const theirs = await submit(app, keys.bob, { prompt: "bob's owl" });

  // Stars.
  const starred = await call(app, "POST", `/jobs/${mine[0]}/star`, keys.alice);
  assert.equal(starred.status, 200);
  assert.equal((starred.json as JobJson).starred, true);
  assert.equal((await call(app, "POST", `/jobs/${theirs}/star`, keys.alice)).status, 404);
  assert.equal((await call(app, "POST", `/jobs/nope/star`, keys.alice)).status, 404);
  const list = await call(app, "GET", "/jobs?starred=true", keys.alice);
  assert.deepEqual((list.json as JobJson[]).map((j) => j.id), [mine[0]]);
  assert.equal(
    ((await call(app, "GET", `/jobs/${mine[1]}`, keys.alice)).json as JobJson).starred,
    false,
  );
  const unstarred = await call(app, "DELETE", `/jobs/${mine[0]}/star`, keys.alice);
  assert.equal((unstarred.json as JobJson).starred, false);

  // Collections: create, unique names per key, list, rename, add, filter, remove, delete.
  const made = await call(app, "POST", "/collections", keys.alice, { name: " Animals " });
  assert.equal(made.status, 201);
  const board = made.json as { id: string; name: string; job_count: number };
  assert.equal(board.name, "Animals");
  assert.equal(made.headers.get("location"), `/api/v1/collections/${board.id}`);
  assert.equal(
    (await call(app, "POST", "/collections", keys.alice, { name: "animals" })).status,
    409,
  );
  assert.equal(
    (await call(app, "POST", "/collections", keys.bob, { name: "Animals" })).status,
    201,
  );
  assert.equal((await call(app, "POST", "/collections", keys.alice, { name: "  " })).status, 422);
  assert.equal((await call(app, "GET", `/collections/${board.id}`, keys.bob)).status, 404);
  const added = await call(app, "POST", `/collections/${board.id}/jobs`, keys.alice, {
    ids: [mine[0], mine[2], theirs, "not-an-id"],
  });
  assert.equal(added.status, 200);
  assert.deepEqual(added.json, {
    action: "add_to",
    succeeded: 2,
    failed: 2,
    results: [
      { id: mine[0], ok: true },
      { id: mine[2], ok: true },
      { id: theirs, ok: false, error: { code: "not_found", message: `Job ${theirs} not found` } },
      {
        id: "not-an-id",
        ok: false,
        error: { code: "not_found", message: "Job not-an-id not found" },
      },
    ],
  });
  const filtered = await call(app, "GET", `/jobs?collection=${board.id}`, keys.alice);
  assert.deepEqual((filtered.json as JobJson[]).map((j) => j.id), [mine[2], mine[0]]);
  assert.equal((await call(app, "GET", `/jobs?collection=${board.id}`, keys.bob)).status, 422);
  const renamed = await call(app, "PATCH", `/collections/${board.id}`, keys.alice, { name: "Zoo" });
  assert.equal((renamed.json as { name: string; job_count: number }).name, "Zoo");
  assert.equal((renamed.json as { job_count: number }).job_count, 2);
  const all = await call(app, "GET", "/collections", keys.alice);
  assert.deepEqual((all.json as { name: string }[]).map((c) => c.name), ["Zoo"]);
  assert.equal(
    (await call(app, "DELETE", `/collections/${board.id}/jobs/${mine[0]}`, keys.alice)).status,
    204,
  );
  assert.equal(
    (await call(app, "DELETE", `/collections/${board.id}/jobs/${theirs}`, keys.alice)).status,
    404,
  );

  // Bulk: star, add_to, remove_from and delete, each id on its own; another key's job untouched.
  const bulkStar = await call(app, "POST", "/jobs/bulk", keys.alice, {
    ids: [mine[1], theirs, mine[1]],
    action: "star",
  });
  assert.deepEqual(bulkStar.json, {
    action: "star",
    succeeded: 1,
    failed: 1,
    results: [
      { id: mine[1], ok: true },
      { id: theirs, ok: false, error: { code: "not_found", message: `Job ${theirs} not found` } },
    ],
  });
  const [{ bobStar }] = await deps.db.query<{ bobStar: boolean }>(
    sql`SELECT starred AS "bobStar" FROM jobs WHERE id = ${theirs}`,
  );
  assert.equal(bobStar, false);
  const toBoard = await call(app, "POST", "/jobs/bulk", keys.alice, {
    ids: [mine[1]],
    action: "add_to",
    collection: board.id,
  });
  assert.equal((toBoard.json as { succeeded: number }).succeeded, 1);
  const noBoard = await call(app, "POST", "/jobs/bulk", keys.alice, {
    ids: [mine[1]],
    action: "add_to",
  });
  assert.equal(noBoard.status, 422);
  const othersBoard = await call(app, "POST", "/jobs/bulk", keys.bob, {
    ids: [theirs],
    action: "add_to",
    collection: board.id,
  });
  assert.equal(othersBoard.status, 422, "another key's collection is not found");
  for (
    const bad of [{}, { ids: [], action: "star" }, { ids: [mine[0]], action: "explode" }, {
      ids: Array(101).fill(mine[0]),
      action: "star",
    }]
  ) {
    assert.equal((await call(app, "POST", "/jobs/bulk", keys.alice, bad)).status, 422);
  }
  const deleted = await call(app, "POST", "/jobs/bulk", keys.alice, {
    ids: [mine[1], theirs],
    action: "delete",
  });
  assert.deepEqual((deleted.json as { results: { ok: boolean }[] }).results.map((r) => r.ok), [
    true,
    false,
  ]);
  assert.equal((await call(app, "GET", `/jobs/${mine[1]}`, keys.alice)).status, 404);
  assert.equal((await call(app, "GET", `/jobs/${theirs}`, keys.bob)).status, 200);
  // The admin acts on any job, but has collections of its own.
  const adminStar = await call(app, "POST", "/jobs/bulk", keys.admin, {
    ids: [theirs],
    action: "star",
  });
  assert.equal((adminStar.json as { succeeded: number }).succeeded, 1);
  assert.deepEqual((await call(app, "GET", "/collections", keys.admin)).json, []);
  assert.equal((await call(app, "DELETE", `/collections/${board.id}`, keys.alice)).status, 204);
  assert.equal((await call(app, "GET", `/jobs/${mine[2]}`, keys.alice)).status, 200);
});

withKeys("library API: every job gets a seed; local steps beyond 100 are refused", async (
  deps,
  app,
  keys,
) => {
  const picked = await submit(app, keys.alice, { prompt: "no seed given" });
  const kept = await submit(app, keys.alice, { prompt: "seed given", parameters: { seed: 7 } });
  const sized = await submit(app, keys.alice, { prompt: "sized", parameters: { width: 512 } });
  const shown = async (id: string) =>
    (await call(app, "GET", `/jobs/${id}`, keys.alice)).json as JobJson;
  for (const id of [picked, sized]) {
    const seed = (await shown(id)).parameters.seed;
    assert.ok(Number.isInteger(seed) && (seed as number) >= 0 && (seed as number) <= 2 ** 32 - 1);
  }
  assert.equal((await shown(kept)).parameters.seed, 7);
  const pending = await shown(picked);
  assert.equal(pending.eta_s, null, "nothing known of this model's runs yet");
  assert.ok(pending.queue_position === null || (pending.queue_position ?? 0) >= 1);
  assert.ok("queue_position" in pending && "eta_s" in pending && "starred" in pending);

  const tooMany = await call(app, "POST", "/generate", keys.alice, {
    prompt: "p",
    model: "local/aurora",
    parameters: { num_inference_steps: 250 },
  });
  assert.equal(tooMany.status, 422);
  assert.deepEqual((tooMany.json as { error: { details: unknown } }).error.details, [
    { field: "parameters.num_inference_steps", message: "must be from 1 to 100 (got 250)" },
  ]);
  const [{ n }] = await deps.db.query<{ n: number }>(sql`SELECT count(*)::int AS n FROM jobs`);
  assert.equal(n, 3, "nothing stored for the refused submit");
});
