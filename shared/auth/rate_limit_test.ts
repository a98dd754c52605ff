import assert from "node:assert/strict";
import { Redis } from "ioredis";
import { deleteQueueKeys, testQueuePrefix, testRedisUrl } from "../testing/db.ts";
import {
  createFallbackLimiter,
  createMemoryRateLimiter,
  createPrecountLimiter,
  createRedisRateLimiter,
  type RateLimiter,
} from "./rate_limit.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

async function slotContract(limiter: RateLimiter) {
  assert.equal(await limiter.acquireSlot("k", "a", 2, 30), true);
  assert.equal(await limiter.acquireSlot("k", "b", 2, 30), true);
  assert.equal(await limiter.acquireSlot("k", "c", 2, 30), false, "a third is refused");
  assert.equal(await limiter.acquireSlot("other", "c", 2, 30), true, "subjects are apart");
  await limiter.releaseSlot("k", "a");
  assert.equal(await limiter.acquireSlot("k", "c", 2, 30), true, "a released slot is free");
  await limiter.renewSlot("k", "b", 30);
  assert.equal(await limiter.acquireSlot("k", "d", 2, 30), false);
}

Deno.test("rate limiter (memory): counts per window, n at a time; slots expire unless renewed", async () => {
  let t = 1_000_000;
  const limiter = createMemoryRateLimiter(() => t);
  assert.equal((await limiter.hit("s", 3, 60)).remaining, 2);
  const d = await limiter.hit("s", 3, 60, 2);
  assert.deepEqual([d.count, d.allowed, d.remaining], [3, true, 0]);
  assert.equal((await limiter.hit("s", 3, 60)).allowed, false);
  await slotContract(limiter);
  // A holder that stops renewing (a crashed process) loses its slot after the TTL.
  assert.equal(await limiter.acquireSlot("ttl", "x", 1, 10), true);
  assert.equal(await limiter.acquireSlot("ttl", "y", 1, 10), false);
  t += 10_001;
  assert.equal(await limiter.acquireSlot("ttl", "y", 1, 10), true);
});

Deno.test({
  name: "rate limiter (redis): shared counts and slots; a slot left by a crash expires",
  ...opts,
  fn: async () => {
    const prefix = testQueuePrefix();
    const redis = new Redis(testRedisUrl(), { maxRetriesPerRequest: 1 });
    try {
      const one = createRedisRateLimiter(redis, prefix);
      const two = createRedisRateLimiter(redis, prefix);
      assert.equal((await one.hit("s", 3, 60, 2)).count, 2);
      assert.equal((await two.hit("s", 3, 60)).count, 3);
      assert.equal((await one.hit("s", 3, 60)).allowed, false);
      await slotContract(one);
      assert.equal(await two.acquireSlot("k", "e", 2, 30), false, "another instance sees them");
      assert.equal(await one.acquireSlot("crash", "x", 1, 1), true);
      assert.equal(await two.acquireSlot("crash", "y", 1, 1), false);
      await new Promise((r) => setTimeout(r, 1100));
      assert.equal(await two.acquireSlot("crash", "y", 1, 1), true, "the stale slot is dropped");
    } finally {
      redis.disconnect();
      await deleteQueueKeys(prefix);
    }
  },
});

Deno.test("precount limiter: exact alone, learns the others' hits at each flush", async () => {
  let t = 1_000_000;
  const shared = createMemoryRateLimiter(() => t);
  const a = createPrecountLimiter(shared, { flushMs: 100, now: () => t });
  const b = createPrecountLimiter(shared, { flushMs: 100, now: () => t });
  for (let i = 1; i <= 5; i++) {
    const d = await a.hit("s", 8, 60);
    assert.deepEqual([d.count, d.allowed], [i, true]);
  }
  await Promise.resolve(); // the first flush (sent at the first hit) has landed
  t += 100;
  await a.hit("s", 8, 60); // sends the rest: the shared count is now 6
  await Promise.resolve();
  t += 100;
  // b's first hit is decided before it hears from the shared counter; its flush brings back 7.
  assert.equal((await b.hit("s", 8, 60)).count, 1);
  await Promise.resolve();
  t += 100;
  const seen = await b.hit("s", 8, 60);
  assert.equal(seen.count, 8, "b counts a's hits once it has heard of them");
  await Promise.resolve();
  t += 100;
  assert.equal((await b.hit("s", 8, 60)).allowed, false);
  // A new window starts from zero.
  t += 60_000;
  assert.equal((await a.hit("s", 8, 60)).count, 1);
});

Deno.test("precount limiter: a failing shared counter leaves the count local (fail open)", async () => {
  const errors: unknown[] = [];
  const broken: RateLimiter = {
    ...createMemoryRateLimiter(),
    hit: () => Promise.reject(new Error("Connection is closed.")),
  };
  const limiter = createPrecountLimiter(broken, { flushMs: 0, onError: (e) => errors.push(e) });
  for (let i = 1; i <= 3; i++) assert.equal((await limiter.hit("s", 2, 60)).count, i);
  await new Promise((r) => setTimeout(r, 0));
  assert.equal((await limiter.hit("s", 2, 60)).allowed, false, "still limited in-process");
  assert.equal(errors.length, 1, "told once");
});

Deno.test("fallback limiter: the shared counts while they answer, this process's meanwhile", async () => {
  let up = true;
  let fail = false;
  const shared = createMemoryRateLimiter();
  const flaky: RateLimiter = {
    hit: (...args) =>
      fail ? Promise.reject(new Error("Connection is closed.")) : shared.hit(...args),
    acquireSlot: (...args) =>
      fail ? Promise.reject(new Error("Connection is closed.")) : shared.acquireSlot(...args),
    renewSlot: (...args) => shared.renewSlot(...args),
    releaseSlot: (...args) => shared.releaseSlot(...args),
  };
  const why: unknown[] = [];
  const limiter = createFallbackLimiter(flaky, createMemoryRateLimiter(), {
    available: () => up,
    onFallback: (err) => why.push(err),
  });
  assert.equal((await limiter.hit("s", 2, 60)).count, 1);
  assert.equal((await shared.hit("s", 2, 60, 0)).count, 1, "counted in the shared limiter");
  // A failing command: answered from this process, and said why.
  fail = true;
  const d = await limiter.hit("s", 2, 60);
  assert.equal(d.allowed, true);
  assert.equal(why.length, 1);
  // Known to be away: not even tried, and the limit still holds (per process).
  up = false;
  assert.equal((await limiter.hit("s", 2, 60)).count, 2);
  assert.equal((await limiter.hit("s", 2, 60)).allowed, false);
  assert.equal(why.length, 1);
  // Slots too; releasing frees it wherever it was taken.
  assert.equal(await limiter.acquireSlot("k", "a", 1, 30), true);
  assert.equal(await limiter.acquireSlot("k", "b", 1, 30), false);
  await limiter.releaseSlot("k", "a");
  assert.equal(await limiter.acquireSlot("k", "b", 1, 30), true);
  // Back: the shared counts again.
  up = true;
  fail = false;
  assert.equal((await limiter.hit("s", 2, 60)).count, 2);
});

Deno.test("fallback limiter: a shared counter that hangs is answered for after the timeout", async () => {
  const hanging: RateLimiter = {
    ...createMemoryRateLimiter(),
    hit: () => new Promise(() => {}),
  };
  const limiter = createFallbackLimiter(hanging, createMemoryRateLimiter(), { timeoutMs: 50 });
  const started = performance.now();
  assert.equal((await limiter.hit("s", 5, 60)).allowed, true);
  assert.ok(performance.now() - started < 1000);
});
