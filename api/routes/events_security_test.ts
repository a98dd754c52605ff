/**
 * The live event stream under API keys: tenancy (deletions included), revocation across API
 * processes, per-key stream limits and per-key figures. Real Postgres and Redis; "two processes"
 * are two apps with their own connection pools and event hubs on one database.
 */
import assert from "node:assert/strict";
import { Redis } from "ioredis";
import { createApiKey, revokeApiKey } from "../../shared/auth/api_keys.ts";
import {
  createMemoryRateLimiter,
  createRedisRateLimiter,
  type RateLimiter,
} from "../../shared/auth/rate_limit.ts";
import { connectPostgres, type Db, sql } from "../../shared/db/db.ts";
import { createJobEventHub, type JobEventHub } from "../../shared/jobs/events.ts";
import { silentLogger } from "../../shared/logger.ts";
import { createTestDeps, type TestDeps } from "../../shared/testing/app_deps.ts";
import { testDatabaseUrl } from "../../shared/testing/db.ts";
import type { SseEvent } from "../../shared/testing/sse.ts";
import { type AppDeps, createApp, type Security } from "../app.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };
type App = ReturnType<typeof createApp>;

function security(over: Partial<Security> = {}): Security {
  return {
    authMode: "api_key",
    limiter: createMemoryRateLimiter(),
    submitsPerMinute: 0,
    maxActiveJobs: 0,
    readsPerMinute: 0,
    maxStreamsPerKey: 0,
    ...over,
  };
}

interface Keys {
  alice: { key: string; id: string; prefix: string };
  bob: { key: string; id: string; prefix: string };
  admin: { key: string; id: string; prefix: string };
}

async function makeKeys(db: Db): Promise<Keys> {
  const make = async (name: string, admin = false) => {
    const { key, record } = await createApiKey(db, { name, admin });
    return { key, id: record.id, prefix: record.prefix };
  };
  return { alice: await make("alice"), bob: await make("bob"), admin: await make("ops", true) };
}

function call(app: App, path: string, key: string, init: RequestInit = {}) {
  const headers = new Headers(init.headers);
  headers.set("authorization", `Bearer ${key}`);
  return Promise.resolve(app.request(path, { ...init, headers }));
}

async function submit(app: App, key: string, prompt = "mine"): Promise<string> {
  const res = await call(app, "/api/v1/generate", key, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ prompt, model: "local/abstract" }),
  });
  assert.equal(res.status, 202);
  return (await res.json()).job_id;
}

/** Reads a stream in the background: every event with when it came, and when the stream ended. */
interface Watch {
  events: (SseEvent & { at: number })[];
  /** Resolves with performance.now() when the server ends the stream. */
  ended: Promise<number>;
  endedAt: number | null;
  /** Ids of every job mentioned. */
  ids(): Set<string>;
  stop(): Promise<void>;
}

async function watch(app: App, key: string): Promise<Watch> {
  const res = await call(app, "/api/v1/events", key);
  if (res.status !== 200) assert.fail(`events answered ${res.status}: ${await res.text()}`);
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  const events: Watch["events"] = [];
  let ready!: () => void;
  const isReady = new Promise<void>((resolve) => ready = resolve);
  let endedAt: number | null = null;
  const pump = async () => {
    let buffer = "";
    try {
      while (true) {
        const { done, value } = await reader.read();
        if (done) break;
        buffer += decoder.decode(value, { stream: true });
        let end;
        while ((end = buffer.indexOf("\n\n")) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const event: SseEvent & { at: number } = { event: "", data: "", at: performance.now() };
          for (const line of block.split("\n")) {
            if (line.startsWith("event: ")) event.event = line.slice(7);
            else if (line.startsWith("data: ")) event.data = line.slice(6);
            else if (line.startsWith("id: ")) event.id = line.slice(4);
          }
          if (event.event === "ready") ready();
          if (event.event) events.push(event);
        }
      }
    } catch { /* cancelled by stop() */ }
    endedAt = performance.now();
    return endedAt;
  };
  const ended = pump();
  await isReady;
  return {
    events,
    ended,
    get endedAt() {
      return endedAt;
    },
    ids() {
      return new Set(
        events.filter((e) => e.event === "job" || e.event === "job_deleted")
          .map((e) => JSON.parse(e.data).id as string),
      );
    },
    async stop() {
      await reader.cancel().catch(() => {});
      await ended;
    },
  };
}

async function until(what: string, ok: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A second "API process" on the same database: its own pool, LISTEN connection and hub. */
async function secondProcess(deps: TestDeps): Promise<{ db: Db; events: JobEventHub }> {
  const [{ s }] = await deps.db.query<{ s: string }>(sql`SELECT current_schema() AS s`);
  const db = connectPostgres(testDatabaseUrl(), { schema: s, max: 3 });
  const events = createJobEventHub(db, silentLogger, { pollMs: 10 });
  await events.start();
  return { db, events };
}

function withKeys(
  name: string,
  fn: (deps: TestDeps, keys: Keys) => Promise<void>,
) {
  Deno.test({
    name,
    ...opts,
    fn: async () => {
      const deps = await createTestDeps();
      try {
        await fn(deps, await makeKeys(deps.db));
      } finally {
        await deps.cleanup();
      }
    },
  });
}

withKeys(
  "events: a revoked key's streams end within 5 s on every API process; others keep flowing",
  async (deps, keys) => {
    const other = await secondProcess(deps);
    try {
      const appA = createApp({ ...deps, security: security() });
      const appB = createApp({ ...deps, db: other.db, events: other.events, security: security() });
      const alice = [await watch(appA, keys.alice.key), await watch(appB, keys.alice.key)];
      const admin = [await watch(appA, keys.admin.key), await watch(appB, keys.admin.key)];
      const before = await submit(appA, keys.alice.key, "before");
      await until(
        "every stream sees alice's job",
        () => [...alice, ...admin].every((w) => w.ids().has(before)),
      );

      const revokedAt = performance.now();
      assert.equal(await revokeApiKey(deps.db, keys.alice.prefix), 1);
      const ended = await Promise.race([
        Promise.all(alice.map((w) => w.ended)),
        new Promise<null>((r) => setTimeout(() => r(null), 5000)),
      ]);
      assert.ok(ended, "alice's streams ended within 5 s on both processes");
      for (const at of ended) assert.ok(at - revokedAt < 5000, `ended after ${at - revokedAt} ms`);

      const after = await submit(appB, keys.admin.key, "after");
      await until("admin streams keep flowing", () => admin.every((w) => w.ids().has(after)));
      assert.ok(admin.every((w) => w.endedAt === null), "admin streams stay open");
      for (const w of alice) {
        assert.ok(!w.ids().has(after), "nothing reaches a revoked key");
        assert.ok(w.events.every((e) => e.at <= w.endedAt!));
      }
      // The revoked key cannot open a new stream (the browser's reconnect gets 401).
      assert.equal((await call(appA, "/api/v1/events", keys.alice.key)).status, 401);
      await Promise.all(admin.map((w) => w.stop()));
    } finally {
      await other.events.close();
      await other.db.close();
    }
  },
);

withKeys(
  "events: a lost revocation notice still ends the stream at the next key check",
  async (deps, keys) => {
    // A hub that never passes the revocation on, as if the notification were lost.
    const deaf: JobEventHub = {
      ...deps.events,
      subscribe: (listener, options) => deps.events.subscribe(listener, { keyId: options?.keyId }),
    };
    const app = createApp({ ...deps, events: deaf, security: security(), eventHeartbeatMs: 300 });
    const stream = await watch(app, keys.alice.key);
    const revokedAt = performance.now();
    await revokeApiKey(deps.db, keys.alice.id);
    const at = await stream.ended;
    assert.ok(at - revokedAt < 2000, `ended after ${at - revokedAt} ms`);
  },
);

withKeys(
  "events: no key's stream carries another key's job id, deletions included; admins see all",
  async (deps, keys) => {
    const app = createApp({ ...deps, security: security() });
    const alice = await watch(app, keys.alice.key);
    const bob = await watch(app, keys.bob.key);
    const admin = await watch(app, keys.admin.key);
    const aliceJob = await submit(app, keys.alice.key, "alice");
    const bobJob = await submit(app, keys.bob.key, "bob");
    const remove = (id: string, key: string) =>
      call(app, `/api/v1/jobs/${id}`, key, { method: "DELETE" });
    assert.equal((await remove(aliceJob, keys.alice.key)).status, 204);
    assert.equal((await remove(bobJob, keys.bob.key)).status, 204);
    const deletedIn = (w: Watch) =>
      w.events.filter((e) => e.event === "job_deleted").map((e) => JSON.parse(e.data).id);
    await until("admin sees both deletions", () => deletedIn(admin).length === 2);
    await until(
      "each owner sees its deletion",
      () => deletedIn(alice).includes(aliceJob) && deletedIn(bob).includes(bobJob),
    );
    await new Promise((r) => setTimeout(r, 200)); // anything late would arrive by now
    await Promise.all([alice, bob, admin].map((w) => w.stop()));
    assert.deepEqual([...alice.ids()], [aliceJob]);
    assert.deepEqual([...bob.ids()], [bobJob]);
    assert.deepEqual(deletedIn(bob), [bobJob], "bob never hears of alice's deletion");
    assert.deepEqual(new Set(deletedIn(admin)), new Set([aliceJob, bobJob]));
  },
);

async function assertStreamLimit(appA: App, appB: App, keys: Keys) {
  const first = await watch(appA, keys.alice.key);
  const second = await watch(appB, keys.alice.key);
  const refused = await call(appB, "/api/v1/events", keys.alice.key);
  assert.equal(refused.status, 429);
  assert.ok(Number(refused.headers.get("retry-after")) >= 1);
  const body = await refused.json();
  assert.equal(body.error.code, "rate_limited");
  assert.match(body.error.message, /at most 2/);
  const bob = await watch(appA, keys.bob.key); // another key has its own allowance
  await first.stop(); // the slot comes back when a stream ends
  let reopened: Response | undefined;
  for (let i = 0; i < 50 && reopened?.status !== 200; i++) {
    await reopened?.body?.cancel();
    reopened = await call(appA, "/api/v1/events", keys.alice.key);
    if (reopened.status !== 200) await new Promise((r) => setTimeout(r, 50));
  }
  assert.equal(reopened?.status, 200);
  await reopened?.body?.cancel();
  await Promise.all([second.stop(), bob.stop()]);
}

withKeys(
  "events: concurrent streams per key are limited (429 + Retry-After)",
  async (deps, keys) => {
    const app = createApp({ ...deps, security: security({ maxStreamsPerKey: 2 }) });
    await assertStreamLimit(app, app, keys);
  },
);

withKeys(
  "events: with the Redis limiter the stream limit holds across API processes",
  async (deps, keys) => {
    const redis = new Redis(deps.redisUrl, { maxRetriesPerRequest: 1 });
    const other = await secondProcess(deps);
    try {
      const limiter = (): RateLimiter => createRedisRateLimiter(redis, deps.prefix);
      const make = (extra: Partial<AppDeps>) =>
        createApp({
          ...deps,
          ...extra,
          security: security({ limiter: limiter(), maxStreamsPerKey: 2 }),
        });
      await assertStreamLimit(make({}), make({ db: other.db, events: other.events }), keys);
    } finally {
      redis.disconnect();
      await other.events.close();
      await other.db.close();
    }
  },
);

withKeys(
  "stats: admin keys get instance figures; other keys their own jobs and streams",
  async (deps, keys) => {
    const app = createApp({ ...deps, security: security() });
    await submit(app, keys.alice.key);
    await submit(app, keys.alice.key);
    await submit(app, keys.bob.key);
    const stream = await watch(app, keys.alice.key);
    const bobStream = await watch(app, keys.bob.key);
    const stats = async (key: string) => {
      const res = await call(app, "/api/v1/stats", key);
      assert.equal(res.status, 200);
      return await res.json();
    };
    const alice = await stats(keys.alice.key);
    assert.equal(alice.scope, "key");
    assert.deepEqual(alice.jobs_last_hour, { total: 2, by_status: { pending: 2 } });
    assert.equal(alice.live_clients, 1);
    assert.deepEqual(alice.queue, { backend: "bullmq" }, "no instance-wide queue counts");
    assert.equal(alice.workers, undefined);
    const bob = await stats(keys.bob.key);
    assert.deepEqual(bob.jobs_last_hour, { total: 1, by_status: { pending: 1 } });
    const admin = await stats(keys.admin.key);
    assert.equal(admin.scope, "instance");
    assert.equal(admin.jobs_last_hour.total, 3);
    assert.equal(admin.queue.waiting, 3);
    assert.equal(admin.live_clients, 2);
    assert.ok(admin.workers);
    await Promise.all([stream.stop(), bobStream.stop()]);
  },
);
