import assert from "node:assert/strict";
import { createApiKey, revokeApiKey } from "../shared/auth/api_keys.ts";
import { createMemoryRateLimiter } from "../shared/auth/rate_limit.ts";
import { createTestDeps, type TestDeps } from "../shared/testing/app_deps.ts";
import { createTestDatabase, runTask } from "../shared/testing/processes.ts";
import { collectSse } from "../shared/testing/sse.ts";
import { createApp } from "./app.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

interface Keys {
  alice: string;
  bob: string;
  admin: string;
}

interface Limits {
  perMinute: number;
  maxActive: number;
  reads?: number;
  streams?: number;
}

function withAuth(
  name: string,
  limits: Limits,
  fn: (deps: TestDeps, app: ReturnType<typeof createApp>, keys: Keys) => Promise<void>,
) {
  Deno.test({
    name,
    ...opts,
    fn: async () => {
      const deps = await createTestDeps();
      try {
        const app = createApp({
          ...deps,
          security: {
            authMode: "api_key",
            limiter: createMemoryRateLimiter(),
            submitsPerMinute: limits.perMinute,
            maxActiveJobs: limits.maxActive,
            readsPerMinute: limits.reads ?? 0,
            maxStreamsPerKey: limits.streams ?? 0,
          },
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

function call(
  app: ReturnType<typeof createApp>,
  path: string,
  key?: string,
  init: RequestInit = {},
) {
  const headers = new Headers(init.headers);
  if (key) headers.set("authorization", `Bearer ${key}`);
  return app.request(path, { ...init, headers });
}

function submit(app: ReturnType<typeof createApp>, key?: string) {
  return call(app, "/api/v1/generate", key, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ prompt: "mine", model: "local/abstract" }),
  });
}

withAuth(
  "auth: missing, wrong and revoked keys get 401 JSON",
  { perMinute: 0, maxActive: 0 },
  async (deps, app, keys) => {
    for (const key of [undefined, "nope", "dr_" + "x".repeat(32)]) {
      const res = await submit(app, key);
      assert.equal(res.status, 401);
      assert.match(res.headers.get("www-authenticate") ?? "", /Bearer/);
      assert.equal((await res.json()).error.code, "unauthorized");
    }
    assert.equal((await call(app, "/api/v1/jobs", "Basic abc")).status, 401);
    assert.equal((await submit(app, keys.alice)).status, 202);
    await revokeApiKey(
      deps.db,
      (await (await call(app, "/api/v1/me", keys.alice)).json()).key.prefix,
    );
    assert.equal((await submit(app, keys.alice)).status, 401);
    // Health, readiness and the UI shell stay public.
    assert.equal((await call(app, "/api/v1/health")).status, 200);
    assert.equal((await call(app, "/")).status, 200);
    const me = await (await call(app, "/api/v1/me")).json();
    assert.deepEqual(me, { auth_required: true, authenticated: false, key: null });
  },
);

withAuth("auth: a key sees, cancels and deletes only its own jobs; admin sees all", {
  perMinute: 0,
  maxActive: 0,
}, async (_deps, app, keys) => {
  const { job_id } = await (await submit(app, keys.alice)).json();
  assert.equal((await call(app, `/api/v1/status/${job_id}`, keys.alice)).status, 200);
  for (
    const [path, method] of [
      [`/api/v1/status/${job_id}`, "GET"],
      [`/api/v1/jobs/${job_id}`, "GET"],
      [`/api/v1/jobs/${job_id}/cancel`, "POST"],
      [`/api/v1/jobs/${job_id}/retry`, "POST"],
      [`/api/v1/jobs/${job_id}`, "DELETE"],
    ]
  ) {
    const res = await call(app, path, keys.bob, { method });
    assert.equal(res.status, 404, `${method} ${path}`);
  }
  const bobList = await call(app, "/api/v1/jobs", keys.bob);
  assert.deepEqual(await bobList.json(), []);
  assert.equal(bobList.headers.get("x-total-count"), "0");
  const adminList = await (await call(app, "/api/v1/jobs", keys.admin)).json();
  assert.deepEqual(adminList.map((j: { id: string }) => j.id), [job_id]);
  // Lists asked at the same moment by different keys are read for each key apart.
  const together = await Promise.all(
    [keys.alice, keys.bob, keys.admin, keys.bob, keys.alice].map(async (key) =>
      (await (await call(app, "/api/v1/jobs", key)).json()).map((j: { id: string }) => j.id)
    ),
  );
  assert.deepEqual(together, [[job_id], [], [job_id], [], [job_id]]);
  assert.equal((await call(app, `/api/v1/status/${job_id}`, keys.admin)).status, 200);
  // Metrics are for admins.
  assert.equal((await call(app, "/metrics")).status, 401);
  assert.equal((await call(app, "/metrics", keys.bob)).status, 403);
  assert.equal((await call(app, "/metrics", keys.admin)).status, 200);
  // Live events: bob's stream does not carry alice's job; the key can ride in the query.
  const bobEvents = await call(app, `/api/v1/events?access_token=${keys.bob}`);
  assert.equal(bobEvents.status, 200);
  const aliceEvents = await call(app, `/api/v1/events?access_token=${keys.alice}`);
  const aliceSeen = collectSse(aliceEvents, (evs) => evs.some((e) => e.event === "job"));
  const bobSeen = collectSse(bobEvents, (evs) => evs.some((e) => e.event === "job"), 1500)
    .catch((e) => e);
  await new Promise((r) => setTimeout(r, 100));
  await call(app, `/api/v1/jobs/${job_id}/cancel`, keys.alice, { method: "POST" });
  const seen = await aliceSeen;
  assert.equal(JSON.parse(seen.find((e) => e.event === "job")!.data).id, job_id);
  const bobResult = await bobSeen;
  assert.ok(bobResult instanceof Error, "bob saw no job event");
});

withAuth("rate limits: per-minute submits answer 429 with Retry-After and RateLimit headers", {
  perMinute: 3,
  maxActive: 0,
}, async (_deps, app, keys) => {
  for (let i = 0; i < 3; i++) {
    const ok = await submit(app, keys.alice);
    assert.equal(ok.status, 202);
    assert.equal(ok.headers.get("ratelimit-limit"), "3");
    assert.equal(ok.headers.get("ratelimit-remaining"), String(2 - i));
  }
  const limited = await submit(app, keys.alice);
  assert.equal(limited.status, 429);
  assert.equal((await limited.json()).error.code, "rate_limited");
  assert.ok(Number(limited.headers.get("retry-after")) >= 1);
  assert.equal(limited.headers.get("ratelimit-remaining"), "0");
  // Another key has its own budget.
  assert.equal((await submit(app, keys.bob)).status, 202);
});

withAuth(
  "rate limits: unfinished jobs per key are capped",
  { perMinute: 0, maxActive: 2 },
  async (_deps, app, keys) => {
    assert.equal((await submit(app, keys.alice)).status, 202);
    const second = await (await submit(app, keys.alice)).json();
    const third = await submit(app, keys.alice);
    assert.equal(third.status, 429);
    assert.match((await third.json()).error.message, /unfinished jobs/);
    await call(app, `/api/v1/jobs/${second.job_id}/cancel`, keys.alice, { method: "POST" });
    assert.equal((await submit(app, keys.alice)).status, 202);
  },
);

Deno.test({
  name: "keys task: create shows the key once, list hides it, revoke works",
  ...opts,
  fn: async () => {
    const database = await createTestDatabase();
    try {
      const env = { DATABASE_URL: database.url };
      assert.equal((await runTask(["migrate"], env)).code, 0);
      const created = await runTask(["keys", "create", "--name", "ci-bot"], env);
      assert.equal(created.code, 0, created.output);
      const key = /API key:\s+(dr_\S+)/.exec(created.output)?.[1];
      assert.ok(key, created.output);
      assert.match(created.output, /Webhook secret:\s+whsec_/);
      const listed = await runTask(["keys", "list"], env);
      assert.match(listed.output, /active .*ci-bot/);
      assert.ok(!listed.output.includes(key), "list never shows the secret");
      const prefix = key.slice(0, 10);
      assert.equal((await runTask(["keys", "revoke", prefix], env)).code, 0);
      assert.match((await runTask(["keys", "list"], env)).output, /revoked .*ci-bot/);
      assert.equal((await runTask(["keys", "revoke", prefix], env)).code, 1);
      assert.equal((await runTask(["keys", "bogus"], env)).code, 2);
    } finally {
      await database.drop();
    }
  },
});

withAuth(
  "auth: ?access_token= works only on GET /events; anywhere else it is refused with 401",
  { perMinute: 0, maxActive: 0 },
  async (_deps, app, keys) => {
    const token = `access_token=${keys.alice}`;
    const refusedAt: [string, string][] = [
      ["GET", `/api/v1/jobs?${token}`],
      ["GET", `/api/v1/stats?${token}`],
      ["GET", `/api/v1/me?${token}`],
      ["GET", `/api/v1/health?${token}`],
      ["POST", `/api/v1/generate?${token}`],
      ["GET", `/metrics?${token}`],
      ["POST", `/api/v1/events?${token}`],
    ];
    for (const [method, path] of refusedAt) {
      const res = await call(app, path, undefined, {
        method,
        headers: { "content-type": "application/json" },
        body: method === "POST" ? JSON.stringify({ prompt: "x", model: "local/abstract" }) : null,
      });
      assert.equal(res.status, 401, `${method} ${path}`);
      const body = await res.json();
      assert.equal(body.error.code, "unauthorized");
      assert.match(body.error.message, /Authorization: Bearer/);
    }
    // Even beside a valid header the query token is refused, not ignored.
    assert.equal((await call(app, `/api/v1/jobs?${token}`, keys.alice)).status, 401);
    const events = await call(app, `/api/v1/events?${token}`);
    assert.equal(events.status, 200);
    await events.body?.cancel();
  },
);

withAuth(
  "rate limits: reads per key answer 429 with Retry-After and RateLimit headers",
  { perMinute: 0, maxActive: 0, reads: 3 },
  async (_deps, app, keys) => {
    for (let i = 0; i < 3; i++) {
      const ok = await call(app, "/api/v1/jobs", keys.alice);
      assert.equal(ok.status, 200);
      assert.equal(ok.headers.get("ratelimit-limit"), "3");
      assert.equal(ok.headers.get("ratelimit-remaining"), String(2 - i));
      assert.equal(ok.headers.get("ratelimit-policy"), "3;w=60");
    }
    const limited = await call(
      app,
      "/api/v1/status/00000000-0000-4000-8000-000000000000",
      keys.alice,
    );
    assert.equal(limited.status, 429);
    const body = await limited.json();
    assert.equal(body.error.code, "rate_limited");
    assert.match(body.error.message, /Too many reads: at most 3 a minute/);
    assert.ok(Number(limited.headers.get("retry-after")) >= 1);
    // Another key has its own budget; probes and docs are not counted; submits are not reads.
    assert.equal((await call(app, "/api/v1/jobs", keys.bob)).status, 200);
    for (const path of ["/api/v1/health", "/api/v1/openapi.json"]) {
      assert.notEqual((await call(app, path, keys.alice)).status, 429, path);
    }
    assert.equal((await submit(app, keys.alice)).status, 202);
  },
);

Deno.test({
  name: "rate limits: with the API open, reads are limited per client address",
  ...opts,
  fn: async () => {
    const deps = await createTestDeps();
    try {
      const app = createApp({
        ...deps,
        security: {
          authMode: "none",
          limiter: createMemoryRateLimiter(),
          submitsPerMinute: 0,
          maxActiveJobs: 0,
          readsPerMinute: 2,
          maxStreamsPerKey: 0,
        },
      });
      assert.equal((await app.request("/api/v1/jobs")).status, 200);
      assert.equal((await app.request("/api/v1/models")).status, 200);
      const limited = await app.request("/api/v1/jobs");
      assert.equal(limited.status, 429);
      assert.ok(limited.headers.get("retry-after"));
    } finally {
      await deps.cleanup();
    }
  },
});
