import assert from "node:assert/strict";
import { PredictionNotFoundError, ProviderError } from "../errors.ts";
import {
  CircuitOpenError,
  type CircuitSnapshot,
  createCircuitBreaker,
  createCircuitSet,
  guardProvider,
  isProviderFault,
} from "./circuit.ts";
import type { Prediction, Provider } from "./provider.ts";

function clock(start = 1_000_000) {
  let t = start;
  return { now: () => t, advance: (ms: number) => void (t += ms) };
}

Deno.test("circuit: opens after consecutive faults, half-opens after the cooldown, closes on a probe", () => {
  const c = clock();
  const changes: CircuitSnapshot[] = [];
  const b = createCircuitBreaker(
    "fal",
    { failures: 3, cooldownMs: 1000, now: c.now },
    (s) => changes.push(s),
  );
  assert.equal(b.state(), "closed");
  b.failure("status 503");
  b.failure("status 503");
  assert.equal(b.state(), "closed");
  b.success(); // resets the run
  b.failure("a");
  b.failure("b");
  assert.equal(b.state(), "closed");
  b.failure("c");
  assert.equal(b.state(), "open");
  assert.equal(b.tryAcquire(), false);
  assert.equal(b.retryInMs(), 1000);
  assert.equal(b.snapshot().lastError, "c");
  // Answers to polls while open do not close it.
  b.success();
  assert.equal(b.state(), "open");
  c.advance(1000);
  assert.equal(b.state(), "half_open");
  assert.equal(b.tryAcquire(), true, "one probe");
  assert.equal(b.tryAcquire(), false, "only one probe at a time");
  b.success();
  assert.equal(b.state(), "closed");
  assert.equal(b.tryAcquire(), true);
  assert.deepEqual(changes.map((s) => s.state), ["open", "half_open", "closed"]);
});

Deno.test("circuit: a failed probe opens it again for another cooldown", () => {
  const c = clock();
  const b = createCircuitBreaker("replicate", { failures: 1, cooldownMs: 500, now: c.now });
  b.failure("down");
  c.advance(500);
  assert.equal(b.tryAcquire(), true);
  b.failure("still down");
  assert.equal(b.state(), "open");
  assert.equal(b.retryInMs(), 500);
  // A probe that never reports frees its slot after a cooldown.
  c.advance(500);
  assert.equal(b.tryAcquire(), true);
  assert.equal(b.tryAcquire(), false);
  c.advance(500);
  assert.equal(b.tryAcquire(), true);
});

Deno.test("circuit: opens on the error rate over the window, not on scattered faults", () => {
  const c = clock();
  const b = createCircuitBreaker("fal", {
    failures: 100,
    errorRate: 0.5,
    minCalls: 6,
    windowMs: 10_000,
    now: c.now,
  });
  // Alternating: never 100 in a row, but half of the calls fail.
  for (let i = 0; i < 2; i++) {
    b.success();
    b.failure("x");
  }
  assert.equal(b.state(), "closed", "too few calls yet");
  b.success();
  b.failure("x");
  assert.equal(b.state(), "open");
  // Old faults leave the window.
  const d = createCircuitBreaker("fal", {
    failures: 100,
    minCalls: 4,
    windowMs: 1000,
    now: c.now,
  });
  d.failure("x");
  d.failure("x");
  c.advance(2000);
  d.success();
  d.success();
  d.failure("x");
  assert.equal(d.state(), "closed");
});

Deno.test("circuit: which errors are provider faults", () => {
  assert.equal(isProviderFault(new ProviderError("x", true, undefined, 503)), true);
  assert.equal(isProviderFault(new ProviderError("x", true, 1000, 429)), true);
  assert.equal(isProviderFault(new ProviderError("network", true)), true);
  assert.equal(isProviderFault(new TypeError("fetch failed")), true);
  assert.equal(isProviderFault(new ProviderError("x", false, undefined, 422)), false);
  assert.equal(isProviderFault(new PredictionNotFoundError("abc")), false);
  assert.equal(isProviderFault(new CircuitOpenError("fal", 10)), false);
});

function stubProvider(fail: () => Error | null): Provider & { creates: number } {
  const ok: Prediction = { id: "p1", status: "starting", output: [], logs: "", error: null };
  const stub = {
    name: "stub",
    creates: 0,
    create() {
      stub.creates++;
      const err = fail();
      return err ? Promise.reject(err) : Promise.resolve(ok);
    },
    get() {
      const err = fail();
      return err ? Promise.reject(err) : Promise.resolve(ok);
    },
    cancel: () => Promise.resolve(),
    openOutput: () => Promise.reject(new Error("none")),
  };
  return stub;
}

Deno.test("circuit: a guarded provider refuses creates while open, still polls, and counts outcomes", async () => {
  const c = clock();
  const set = createCircuitSet({ failures: 2, cooldownMs: 1000, now: c.now });
  let failing: Error | null = new ProviderError("status 500", true, undefined, 500);
  const stub = stubProvider(() => failing);
  const guarded = guardProvider(stub, set.of("stub"));
  const heard: string[] = [];
  set.onChange((s) => heard.push(`${s.provider}:${s.state}`));
  await assert.rejects(() => guarded.create({ model: "m", prompt: "p", parameters: {} }));
  await assert.rejects(() => guarded.create({ model: "m", prompt: "p", parameters: {} }));
  await assert.rejects(
    () => guarded.create({ model: "m", prompt: "p", parameters: {} }),
    (err) => err instanceof CircuitOpenError && err.retryAfterMs === 1000,
  );
  assert.equal(stub.creates, 2, "the third create was never sent");
  // Polls still go through.
  failing = null;
  assert.equal((await guarded.get("p1")).id, "p1");
  assert.equal(set.of("stub").state(), "open");
  c.advance(1000);
  await guarded.create({ model: "m", prompt: "p", parameters: {} });
  assert.equal(set.of("stub").state(), "closed");
  assert.deepEqual(heard, ["stub:open", "stub:half_open", "stub:closed"]);
  assert.deepEqual(set.snapshots().map((s) => s.state), ["closed"]);
  // A 422 is the provider working.
  failing = new ProviderError("status 422", false, undefined, 422);
  for (let i = 0; i < 5; i++) {
    await assert.rejects(() => guarded.create({ model: "m", prompt: "p", parameters: {} }));
  }
  assert.equal(set.of("stub").state(), "closed");
});
