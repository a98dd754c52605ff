/** The behaviour every queue backend must show; each backend's test file runs it. */
import assert from "node:assert/strict";
import type { JobQueue, QueueMessage } from "../queue/queue.ts";
import type { RetryPolicy } from "../queue/retry.ts";
import { RetryLaterError } from "../queue/queue.ts";

export type QueueFactory = (retry: RetryPolicy) => Promise<JobQueue>;

/** Waits until `check` is true or fails after `timeoutMs`. */
export async function waitFor(
  check: () => boolean | Promise<boolean>,
  timeoutMs = 10_000,
  label = "condition",
): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`Timed out waiting for ${label}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const opts = { sanitizeOps: false, sanitizeResources: false };

/** Registers the contract tests for one backend. */
export function defineQueueContract(name: string, factory: QueueFactory): void {
  const fast: RetryPolicy = { maxRetries: 2, backoffBase: 1 };

  Deno.test({
    name: `${name}: delivers each message once, deduplicated by id`,
    ...opts,
    fn: async () => {
      const q = await factory(fast);
      const seen: string[] = [];
      const listener = q.listenQueue((m) => {
        seen.push(m.jobId);
        return Promise.resolve();
      }, { concurrency: 4 });
      try {
        await q.enqueue({ jobId: "a" });
        await q.enqueue({ jobId: "a" });
        await q.enqueue({ jobId: "b", requestId: "r1" });
        await waitFor(() => seen.length >= 2, 10_000, "two deliveries");
        await new Promise((r) => setTimeout(r, 300));
        assert.deepEqual([...seen].sort(), ["a", "b"]);
      } finally {
        await listener.close();
        await q.close();
      }
    },
  });

  Deno.test({
    name: `${name}: never runs more handlers than the concurrency limit`,
    ...opts,
    fn: async () => {
      const q = await factory(fast);
      let running = 0;
      let peak = 0;
      let done = 0;
      const listener = q.listenQueue(async () => {
        running++;
        peak = Math.max(peak, running);
        await new Promise((r) => setTimeout(r, 50));
        running--;
        done++;
      }, { concurrency: 3 });
      try {
        for (let i = 0; i < 12; i++) await q.enqueue({ jobId: `c${i}` });
        await waitFor(() => done === 12, 15_000, "12 handled");
        assert.equal(peak, 3);
      } finally {
        await listener.close();
        await q.close();
      }
    },
  });

  Deno.test({
    name: `${name}: retries a throwing handler with backoff, then dead-letters it`,
    ...opts,
    fn: async () => {
      const q = await factory(fast);
      const attempts: { attempt: number; max: number; at: number }[] = [];
      const listener = q.listenQueue((_m, ctx) => {
        attempts.push({ attempt: ctx.attempt, max: ctx.maxAttempts, at: Date.now() });
        return Promise.reject(new Error("always fails"));
      }, { concurrency: 2 });
      try {
        await q.enqueue({ jobId: "r1" });
        await waitFor(() => attempts.length === 3, 15_000, "three attempts");
        assert.deepEqual(attempts.map((a) => a.attempt), [1, 2, 3]);
        assert.ok(attempts.every((a) => a.max === 3));
        // Backoff base 1 s with ±25% jitter: each retry waits at least ~0.7 s.
        assert.ok(attempts[1].at - attempts[0].at >= 700, "first retry waited");
        await waitFor(async () => (await q.stats()).failed === 1, 5000, "dead letter");
        await new Promise((r) => setTimeout(r, 1500));
        assert.equal(attempts.length, 3, "no fourth attempt");
      } finally {
        await listener.close();
        await q.close();
      }
    },
  });

  Deno.test({
    name: `${name}: RetryLaterError sets the retry delay; a later success acknowledges`,
    ...opts,
    fn: async () => {
      const q = await factory({ maxRetries: 3, backoffBase: 1 });
      const at: number[] = [];
      const listener = q.listenQueue((_m, ctx) => {
        at.push(Date.now());
        if (ctx.attempt === 1) return Promise.reject(new RetryLaterError("slow down", 1500));
        return Promise.resolve();
      }, { concurrency: 1 });
      try {
        await q.enqueue({ jobId: "late" });
        await waitFor(() => at.length === 2, 10_000, "second attempt");
        assert.ok(at[1] - at[0] >= 1400, `waited ${at[1] - at[0]} ms`);
        await waitFor(
          async () => {
            const s = await q.stats();
            return s.waiting + s.active + s.delayed === 0;
          },
          5000,
          "queue empty",
        );
        assert.equal((await q.stats()).failed, 0);
      } finally {
        await listener.close();
        await q.close();
      }
    },
  });

  Deno.test({
    name: `${name}: delayed messages wait; stats count them`,
    ...opts,
    fn: async () => {
      const q = await factory(fast);
      const got: { m: QueueMessage; at: number }[] = [];
      const start = Date.now();
      await q.enqueue({ jobId: "d1" }, { delayMs: 1000 });
      assert.equal((await q.stats()).delayed, 1);
      const listener = q.listenQueue((m) => {
        got.push({ m, at: Date.now() });
        return Promise.resolve();
      }, { concurrency: 1 });
      try {
        await waitFor(() => got.length === 1, 10_000, "delayed delivery");
        assert.ok(got[0].at - start >= 950, `delivered after ${got[0].at - start} ms`);
      } finally {
        await listener.close();
        await q.close();
      }
    },
  });

  Deno.test({
    name: `${name}: close waits for running handlers to finish`,
    ...opts,
    fn: async () => {
      const q = await factory(fast);
      let finished = false;
      let started = false;
      const listener = q.listenQueue(async () => {
        started = true;
        await new Promise((r) => setTimeout(r, 400));
        finished = true;
      }, { concurrency: 1 });
      try {
        await q.enqueue({ jobId: "g1" });
        await waitFor(() => started, 10_000, "handler start");
        assert.equal(listener.active(), 1);
        await listener.close();
        assert.equal(finished, true);
      } finally {
        await q.close();
      }
    },
  });

  Deno.test({
    name: `${name}: remove takes back waiting, delayed and dead messages, not running ones`,
    ...opts,
    fn: async () => {
      const q = await factory({ maxRetries: 0, backoffBase: 1 });
      const seen: string[] = [];
      let release: () => void = () => {};
      const blocker = new Promise<void>((r) => (release = r));
      try {
        await q.enqueue({ jobId: "w" });
        await q.enqueue({ jobId: "d" }, { delayMs: 60_000 });
        assert.equal(await q.remove("w"), true);
        assert.equal(await q.remove("d"), true);
        assert.equal(await q.remove("nothing"), false);
        assert.deepEqual(await q.stats(), {
          waiting: 0,
          active: 0,
          delayed: 0,
          failed: 0,
          completed: (await q.stats()).completed,
        });
        const listener = q.listenQueue(async (m) => {
          seen.push(m.jobId);
          if (m.jobId === "run") await blocker;
          if (m.jobId === "bad") throw new Error("fails");
        }, { concurrency: 2 });
        await q.enqueue({ jobId: "run" });
        await q.enqueue({ jobId: "bad" });
        await waitFor(async () => (await q.stats()).failed === 1, 10_000, "dead letter");
        assert.equal(await q.remove("run"), false, "a running message stays");
        assert.equal(await q.remove("bad"), true, "a dead letter can be removed");
        assert.equal((await q.stats()).failed, 0);
        await q.enqueue({ jobId: "bad" });
        await waitFor(() => seen.filter((s) => s === "bad").length === 2, 10_000, "re-run");
        release();
        await listener.close();
        assert.deepEqual(seen.filter((s) => s === "w" || s === "d"), []);
      } finally {
        release();
        await q.close();
      }
    },
  });

  Deno.test({
    name: `${name}: pauseAll holds every listener off for a while`,
    ...opts,
    fn: async () => {
      const q = await factory(fast);
      const at: Record<string, number> = {};
      const listener = q.listenQueue(async (m, ctx) => {
        at[m.jobId] = Date.now();
        if (m.jobId === "throttled") await ctx.pauseAll(1200);
      }, { concurrency: 4 });
      try {
        await q.enqueue({ jobId: "throttled" });
        await waitFor(() => "throttled" in at, 10_000, "first delivery");
        await new Promise((r) => setTimeout(r, 50));
        await q.enqueue({ jobId: "after" });
        await waitFor(() => "after" in at, 10_000, "delivery after the pause");
        const waited = at.after - at.throttled;
        assert.ok(waited >= 1000, `the next message waited ${waited} ms`);
      } finally {
        await listener.close();
        await q.close();
      }
    },
  });

  Deno.test({
    name: `${name}: ping answers and stats start at zero`,
    ...opts,
    fn: async () => {
      const q = await factory(fast);
      try {
        await q.ping();
        assert.deepEqual(await q.stats(), {
          waiting: 0,
          active: 0,
          delayed: 0,
          failed: 0,
          completed: 0,
        });
      } finally {
        await q.close();
      }
    },
  });
}
