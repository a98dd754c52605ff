import assert from "node:assert/strict";
import { createDeadlineWatch, withTimeout } from "./timeout.ts";

const never = new Promise<never>(() => {});
const after = <T>(ms: number, value: T) => new Promise<T>((r) => setTimeout(() => r(value), ms));

Deno.test("withTimeout: a promise that settles in time wins, and the timer is cleared", async () => {
  assert.equal(await withTimeout(Promise.resolve(7), 10_000, "too slow"), 7);
  assert.equal(await withTimeout(after(5, "done"), 10_000, () => "fallback"), "done");
  await assert.rejects(
    withTimeout(Promise.reject(new Error("own failure")), 10_000, "too slow"),
    /own failure/,
  );
});

Deno.test("withTimeout: past the time, a message rejects with an Error", async () => {
  const err = await withTimeout(never, 5, "no answer within 5 ms").catch((e) => e);
  assert.ok(err instanceof Error);
  assert.equal(err.message, "no answer within 5 ms");
});

Deno.test("withTimeout: past the time, a function's value resolves", async () => {
  assert.equal(await withTimeout(never, 5, () => false), false);
  assert.equal(await withTimeout(never, 5, () => undefined), undefined);
});

Deno.test("withTimeout: past the time, a function's throw rejects (after its side effects)", async () => {
  let canceled = false;
  const err = await withTimeout(never, 5, () => {
    canceled = true;
    throw Object.assign(new Error("late"), { code: "QUERY_TIMEOUT" });
  }).catch((e) => e);
  assert.equal(canceled, true);
  assert.equal(err.code, "QUERY_TIMEOUT");
});

Deno.test("withTimeout: the timer is cleared when the promise wins or fails first", async () => {
  // (Deno's test sanitizers do not report a pending timer, so the callback tells.)
  let ran = 0;
  const count = () => void ran++;
  await withTimeout(after(1, 1), 50, count);
  await withTimeout(Promise.reject(new Error("x")), 50, count).catch(() => {});
  await after(80, null);
  assert.equal(ran, 0);
});

Deno.test("withTimeout: a promise rejecting after the timeout is not left unhandled", async () => {
  let fail!: (err: Error) => void;
  const late = new Promise<never>((_, reject) => fail = reject);
  assert.equal(await withTimeout(late, 1, () => "gave up"), "gave up");
  fail(new Error("too late to matter"));
  await after(10, null);
});

Deno.test("deadline watch: in time wins, late answers within a tick, the timer stops when idle", async () => {
  const watch = createDeadlineWatch(20);
  assert.equal(await watch.race(Promise.resolve("v"), 1000, () => "late"), "v");
  await assert.rejects(watch.race(Promise.reject(new Error("no")), 1000, () => "late"), /no/);
  const started = performance.now();
  const never = new Promise<string>(() => {});
  assert.equal(await watch.race(never, 50, () => "late"), "late");
  const ms = performance.now() - started;
  assert.ok(ms >= 45 && ms < 500, `answered after ${ms} ms`);
  await assert.rejects(
    watch.race(never, 10, () => {
      throw new Error("too slow");
    }),
    /too slow/,
  );
  assert.equal(watch.size(), 0);
  // Nothing pending: no timer is left behind (this test runs with the op sanitizer on).
});
