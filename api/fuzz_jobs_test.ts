/**
 * Property-based fuzz tests of the job endpoints (read, cancel, retry, delete, list), run against
 * the real app (its own Postgres schema and BullMQ prefix). Odd ids and query strings must never
 * produce a 5xx, a hang or a non-JSON error, and the answers follow the job's state. Set FUZZ_SEED
 * to replay a run; every test prints how many cases it ran. The generators live in
 * shared/testing/fuzz/.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { countJobs } from "../shared/jobs/repo.ts";
import {
  assertStatusIn,
  CaseCounter,
  describe,
  footprint,
  fuzzParams,
  PREFIX,
  send,
  type Sent,
  submit,
} from "../shared/testing/fuzz/harness.ts";
import { oddHeaders } from "../shared/testing/fuzz/http.ts";
import {
  type IdSpelling,
  idSpelling,
  normalizedPath,
  pathSegment,
  spell,
} from "../shared/testing/fuzz/paths.ts";
import {
  FUZZ_COLLECTION,
  type KnownKey,
  queryEntry,
  type QueryValue,
} from "../shared/testing/fuzz/query.ts";
import { sql } from "../shared/db/db.ts";
import { withApp } from "./app_testing.ts";

const FC_PARAMS = fuzzParams();

/** Each fuzz test gets its own real dependencies and app (the shared test harness). */
const fuzzTest = withApp;

// ---------------------------------------------------------------------------------------------
// Tests: GET /status/{id}, GET /jobs/{id}
// ---------------------------------------------------------------------------------------------

fuzzTest("fuzz: GET /status/{id} and /jobs/{id} answer 404 JSON to any odd id", async (
  deps,
  app,
) => {
  const counter = new CaseCounter();
  const ids = [await submit(app, "one"), await submit(app, "two"), await submit(app, "three")];
  try {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          {
            weight: 5,
            arbitrary: pathSegment().map((segment) => ({ segment, found: false, real: "" })),
          },
          {
            weight: 1,
            arbitrary: fc.tuple(fc.constantFrom(...ids), idSpelling).map(([id, s]) => ({
              ...spell(id, s),
              real: id,
            })),
          },
        ),
        async (target) => {
          const before = await countJobs(deps.db);
          for (const base of ["status", "jobs"]) {
            counter.hit(`GET /api/v1/${base}/{id}`);
            const req: Sent = {
              method: "GET",
              path: `${PREFIX}/${base}/${target.segment}`,
              headers: {},
            };
            const answer = await send(app, req);
            const normalized = normalizedPath(req.path);
            if (target.found) {
              assertStatusIn(answer, [200], req);
              assert.equal((answer.json as { id: string }).id, target.real);
            } else if (normalized.startsWith(`${PREFIX}/${base}/`)) {
              assertStatusIn(answer, [404], req);
            }
          }
          assert.equal(await countJobs(deps.db), before, "a GET changed the job count");
        },
      ),
      FC_PARAMS,
    );
  } finally {
    counter.report("job reads");
  }
});

// ---------------------------------------------------------------------------------------------
// Tests: POST /jobs/{id}/cancel, POST /jobs/{id}/retry, DELETE /jobs/{id}
// ---------------------------------------------------------------------------------------------

type Op = "cancel" | "retry" | "delete" | "get";
type Model = "pending" | "canceled" | "gone";

function controlRequest(op: Op, segment: string): Sent {
  switch (op) {
    case "cancel":
      return { method: "POST", path: `${PREFIX}/jobs/${segment}/cancel`, headers: {} };
    case "retry":
      return { method: "POST", path: `${PREFIX}/jobs/${segment}/retry`, headers: {} };
    case "delete":
      return { method: "DELETE", path: `${PREFIX}/jobs/${segment}`, headers: {} };
    case "get":
      return { method: "GET", path: `${PREFIX}/jobs/${segment}`, headers: {} };
  }
}

fuzzTest("fuzz: cancel, retry and delete follow the job's state and refuse odd ids", async (
  deps,
  app,
) => {
  const counter = new CaseCounter();
  const pool: { id: string; state: Model }[] = [];
  for (let i = 0; i < 6; i++) pool.push({ id: await submit(app, `job ${i}`), state: "pending" });
  try {
    await fc.assert(
      fc.asyncProperty(
        pathSegment(),
        fc.array(
          fc.record({
            op: fc.constantFrom<Op>("cancel", "retry", "delete", "get"),
            slot: fc.nat(),
            spelling: fc.constantFrom<IdSpelling["kind"]>("same", "upper", "encoded"),
            index: fc.nat(),
          }),
          { minLength: 1, maxLength: 4 },
        ),
        oddHeaders,
        async (segment, ops, extra) => {
          // 1. Random ids: 404 (or some JSON 4xx when the path normalises elsewhere); no writes.
          const before = await footprint(deps);
          for (const op of ["cancel", "retry", "delete"] as const) {
            counter.hit(`${controlRequest(op, "{id}").method} ${controlRequest(op, "{id}").path}`);
            const req = controlRequest(op, segment);
            req.headers = { ...extra };
            const answer = await send(app, req);
            const normalized = normalizedPath(req.path);
            const route = op === "delete"
              ? /^\/api\/v1\/jobs\/[^/]*$/
              : new RegExp(`^/api/v1/jobs/[^/]*/${op}$`);
            if (route.test(normalized)) assertStatusIn(answer, [404], req);
          }
          assert.deepEqual(await footprint(deps), before, `odd id ${segment} changed something`);

          // 2. Real jobs: answers follow a model of the job's state (no worker runs here).
          for (const { op, slot, spelling, index } of ops) {
            const job = pool[slot % pool.length];
            const { segment: idText } = spell(job.id, { kind: spelling, junk: "", index });
            const req = controlRequest(op, idText);
            const answer = await send(app, req);
            const expected: Record<Op, Record<Model, number>> = {
              cancel: { pending: 200, canceled: 409, gone: 404 },
              retry: { pending: 409, canceled: 202, gone: 404 },
              delete: { pending: 204, canceled: 204, gone: 404 },
              get: { pending: 200, canceled: 200, gone: 404 },
            };
            assertStatusIn(answer, [expected[op][job.state]], req);
            if (answer.status === 200 || answer.status === 202) {
              const shown = answer.json as { id: string; status: string };
              assert.equal(shown.id, job.id);
              if (op === "cancel") job.state = "canceled";
              if (op === "retry") job.state = "pending";
              assert.equal(shown.status, job.state);
            }
            if (answer.status === 204) {
              assert.equal(answer.bytes.byteLength, 0);
              job.state = "gone";
            }
          }
          for (const job of pool) {
            if (job.state === "gone") {
              job.id = await submit(app, "replacement");
              job.state = "pending";
            }
          }
        },
      ),
      FC_PARAMS,
    );
  } finally {
    counter.report("job control");
  }
});

// ---------------------------------------------------------------------------------------------
// Tests: GET /jobs?...
// ---------------------------------------------------------------------------------------------
/**
 * What GET /jobs must answer: 422 when a value is refused on its own or two values contradict
 * each other (a cursor with skip > 0 or with the other sort; after not before before), 200 or 422
 * when a value may be read either way, 200 otherwise.
 */
function expectedStatuses(winners: Map<KnownKey, QueryValue>): number[] {
  const validities = [...winners.values()].map((v) => v.validity);
  if (validities.includes("invalid")) return [422];
  const cursor = winners.get("cursor");
  const skip = winners.get("skip");
  const sort = winners.get("sort");
  const after = winners.get("after");
  const before = winners.get("before");
  let clash: "no" | "yes" | "maybe" = "no";
  if (cursor) {
    if (skip?.validity === "either") clash = "maybe";
    if (skip?.validity === "valid" && (skip.num ?? 0) > 0) clash = "yes";
    const order = sort === undefined ? 1 : sort.raw === "newest" ? 1 : 2;
    if (order !== cursor.num) clash = "yes";
  }
  if (after && before && (after.num ?? 0) >= (before.num ?? 0)) clash = "yes";
  if (clash === "yes") return [422];
  return clash === "maybe" || validities.includes("either") ? [200, 422] : [200];
}

/** Keys that narrow or move the page: the totals and page sizes below do not apply. */
const NARROWING: KnownKey[] = [
  "provider",
  "q",
  "model",
  "starred",
  "collection",
  "after",
  "before",
  "cursor",
];

fuzzTest("fuzz: GET /jobs answers 200 or 422 JSON to any query", async (deps, app) => {
  const counter = new CaseCounter();
  // The one collection the generators name as valid (the open API's collections have no owner).
  await deps.db.query(sql`INSERT INTO collections (id, name) VALUES (${FUZZ_COLLECTION}, 'fuzz')`);
  const ids: string[] = [];
  for (let i = 0; i < 25; i++) ids.push(await submit(app, `listed ${i}`));
  for (const id of ids.slice(0, 7)) {
    const answer = await send(app, {
      method: "POST",
      path: `${PREFIX}/jobs/${id}/cancel`,
      headers: {},
    });
    assert.equal(answer.status, 200);
  }
  const totals: Record<string, number> = { "": 25, pending: 18, canceled: 7 };
  try {
    await fc.assert(
      fc.asyncProperty(
        fc.array(queryEntry, { maxLength: 8 }),
        oddHeaders,
        async (entries, extra) => {
          counter.hit("GET /api/v1/jobs");
          const req: Sent = {
            method: "GET",
            path: `${PREFIX}/jobs?${entries.map((e) => e.text).join("&")}`,
            headers: extra,
          };
          const winners = new Map<KnownKey, QueryValue>();
          for (const e of entries) {
            if (e.key && e.value && !winners.has(e.key)) winners.set(e.key, e.value);
          }
          const answer = await send(app, req);
          assertStatusIn(answer, expectedStatuses(winners), req);
          if (answer.status !== 200) return;
          const rows = answer.json as { id: string; status: string }[];
          assert.ok(Array.isArray(rows));
          const limit = winners.get("limit");
          assert.ok(rows.length <= (limit?.num ?? 100));
          if (NARROWING.some((key) => winners.has(key))) {
            const wanted = winners.get("status")?.raw;
            if (wanted) { for (const row of rows) assert.equal(row.status, wanted); }
            return;
          }
          const status = winners.get("status");
          const filter = status?.validity === "valid" ? status.raw : "";
          const total = Number(answer.headers.get("x-total-count"));
          if (!status || status.validity === "valid") {
            assert.equal(total, totals[filter] ?? 0, `${describe(req)}: X-Total-Count`);
          }
          if (filter) { for (const row of rows) assert.equal(row.status, filter); }
          const skip = winners.get("skip");
          const skipN = skip === undefined ? 0 : skip.num;
          const limitN = limit === undefined ? 20 : limit.num;
          assert.ok(rows.length <= 100);
          if (skipN !== undefined && limitN !== undefined && (!status || filter)) {
            assert.equal(
              rows.length,
              Math.max(0, Math.min(limitN, total - skipN)),
              `${describe(req)}: page size`,
            );
          }
        },
      ),
      FC_PARAMS,
    );
  } finally {
    counter.report("job list");
  }
});

// ---------------------------------------------------------------------------------------------
// Targeted regressions
// ---------------------------------------------------------------------------------------------

fuzzTest("regression: limit=1e400 and skip=99999999999999999999 are 422", async (_deps, app) => {
  for (const query of ["limit=1e400", "skip=99999999999999999999"]) {
    const answer = await send(app, { method: "GET", path: `${PREFIX}/jobs?${query}`, headers: {} });
    assert.equal(answer.status, 422, query);
    assert.equal((answer.json as { error: { code: string } }).error.code, "validation_error");
  }
});
