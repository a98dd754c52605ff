import assert from "node:assert/strict";
import { RetryLaterError } from "./queue.ts";
import { backoffDelayMs, retryDelayMs, type RetryPolicy } from "./retry.ts";

const policy: RetryPolicy = { maxRetries: 5, backoffBase: 2 };
const middle = () => 0.5; // no jitter

Deno.test("backoff: ~1 s, base s, base² s, ... with ±25% jitter, capped at 10 minutes", () => {
  assert.deepEqual([1, 2, 3, 4].map((n) => backoffDelayMs(n, policy, middle)), [
    1000,
    2000,
    4000,
    8000,
  ]);
  assert.equal(backoffDelayMs(1, policy, () => 0), 750);
  assert.equal(backoffDelayMs(1, policy, () => 1), 1250);
  assert.equal(backoffDelayMs(30, policy, middle), 600_000);
});

Deno.test("retry delay: a plain error waits the backoff", () => {
  assert.equal(retryDelayMs(3, policy, new Error("boom"), middle), 4000);
  assert.equal(retryDelayMs(3, policy, undefined, middle), 4000);
  assert.equal(retryDelayMs(3, policy, "not an error", middle), 4000);
});

Deno.test("retry delay: a hint is honoured, never below a quarter of the backoff", () => {
  assert.equal(retryDelayMs(3, policy, new RetryLaterError("slow down", 30_000), middle), 30_000);
  assert.equal(retryDelayMs(3, policy, new RetryLaterError("slow down", 10), middle), 1000);
  assert.equal(retryDelayMs(1, policy, { delayMs: 1500.4 }, middle), 1500);
});

Deno.test("retry delay: a hint that is not a finite number is ignored", () => {
  for (const delayMs of [Infinity, NaN, "5000", null]) {
    assert.equal(retryDelayMs(2, policy, { delayMs }, middle), 2000, String(delayMs));
  }
});
