import assert from "node:assert/strict";
import { createBatcher, createSharedReads, type Settled, settleEach } from "./batcher.ts";

/** A run function that records its batches and answers when released. */
function gated() {
  const batches: number[][] = [];
  const gates: (() => void)[] = [];
  const run = (items: number[]): Promise<Settled<number>[]> => {
    batches.push(items);
    return new Promise((resolve) =>
      gates.push(() => resolve(items.map((n) => ({ ok: true, value: n * 10 }))))
    );
  };
  const releaseAll = async () => {
    while (gates.length > 0) {
      gates.shift()!();
      await new Promise((r) => setTimeout(r, 0));
    }
  };
  return { batches, gates, run, releaseAll };
}

Deno.test("batcher: an idle call leaves at once, alone", async () => {
  const g = gated();
  const call = createBatcher(g.run);
  const first = call(1);
  await new Promise((r) => setTimeout(r, 0));
  assert.deepEqual(g.batches, [[1]]);
  g.gates.shift()!();
  assert.equal(await first, 10);
});

Deno.test("batcher: calls made while a batch runs leave together, in call order", async () => {
  const g = gated();
  const call = createBatcher(g.run);
  const results = [call(1)];
  await new Promise((r) => setTimeout(r, 0));
  for (let i = 2; i <= 6; i++) {
    results.push(call(i));
    await new Promise((r) => setTimeout(r, 0)); // separate events, like separate requests
  }
  assert.deepEqual(g.batches, [[1]], "the waiting calls do not start while one batch runs");
  await g.releaseAll();
  assert.deepEqual(g.batches, [[1], [2, 3, 4, 5, 6]]);
  assert.deepEqual(await Promise.all(results), [10, 20, 30, 40, 50, 60]);
});

Deno.test("batcher: maxInFlight batches run at once and maxBatch splits a backlog", async () => {
  const g = gated();
  const call = createBatcher(g.run, { maxInFlight: 2, maxBatch: 3 });
  const results = [call(1), call(2)]; // same tick: one batch
  await new Promise((r) => setTimeout(r, 0));
  results.push(call(3));
  await new Promise((r) => setTimeout(r, 0));
  assert.deepEqual(g.batches, [[1, 2], [3]], "a second batch starts while the first runs");
  for (let i = 4; i <= 10; i++) results.push(call(i));
  await new Promise((r) => setTimeout(r, 0));
  assert.equal(g.batches.length, 2, "no third batch while two run");
  await g.releaseAll();
  assert.deepEqual(g.batches.slice(2), [[4, 5, 6], [7, 8, 9], [10]]);
  assert.deepEqual(await Promise.all(results), [10, 20, 30, 40, 50, 60, 70, 80, 90, 100]);
});

Deno.test("batcher: one failed item fails alone; a thrown run fails its whole batch only", async () => {
  let throwNext = false;
  const call = createBatcher(async (items: number[]) => {
    await new Promise((r) => setTimeout(r, 5));
    if (throwNext) {
      throwNext = false;
      throw new Error("database away");
    }
    return await settleEach(items, (n) => {
      if (n < 0) return Promise.reject(new Error(`bad ${n}`));
      return Promise.resolve(n + 1);
    });
  });
  const mixed = await Promise.allSettled([call(1), call(-2), call(3)]);
  assert.deepEqual(mixed.map((r) => r.status), ["fulfilled", "rejected", "fulfilled"]);
  assert.equal((mixed[1] as PromiseRejectedResult).reason.message, "bad -2");

  throwNext = true;
  const failed = await Promise.allSettled([call(4), call(5)]);
  assert.ok(failed.every((r) => r.status === "rejected" && r.reason.message === "database away"));
  assert.equal(await call(6), 7, "the batcher keeps working after a failed batch");
});

Deno.test("batcher: a run answering the wrong number of results rejects every item", async () => {
  const call = createBatcher((_items: number[]) => Promise.resolve([{ ok: true, value: 1 }]));
  const results = await Promise.allSettled([call(1), call(2)]);
  assert.ok(results.every((r) => r.status === "rejected" && /2 items/.test(String(r.reason))));
});

Deno.test("batcher: a batch stuck past staleMs no longer holds back the calls behind it", async () => {
  const g = gated();
  const call = createBatcher(g.run, { staleMs: 40 });
  const stuck = call(1);
  await new Promise((r) => setTimeout(r, 0));
  const next = [call(2), call(3)];
  await new Promise((r) => setTimeout(r, 10));
  assert.deepEqual(g.batches, [[1]], "a fresh batch still holds the next one back");
  await new Promise((r) => setTimeout(r, 60));
  assert.deepEqual(g.batches, [[1], [2, 3]], "once stale, the waiting calls leave without it");
  g.gates[1]();
  assert.deepEqual(await Promise.all(next), [20, 30]);
  g.gates[0]();
  assert.equal(await stuck, 10);
});

/** A read that counts its runs and answers when released. */
function gatedReads() {
  const gates: { resolve: (v: string) => void; reject: (e: unknown) => void }[] = [];
  let runs = 0;
  const read = () => {
    const n = ++runs;
    return new Promise<string>((resolve, reject) =>
      gates.push({ resolve: (v) => resolve(`${v}#${n}`), reject })
    );
  };
  return { gates, read, runs: () => runs };
}

const tick = () => new Promise((r) => setTimeout(r, 0));

Deno.test("shared reads: an idle call reads at once; calls during a read share the next one", async () => {
  const g = gatedReads();
  const shared = createSharedReads<string>();
  const first = shared("k", g.read);
  assert.equal(g.runs(), 1, "an idle call reads at once");
  await tick();
  const later = [shared("k", g.read), shared("k", g.read), shared("k", g.read)];
  await tick();
  assert.equal(g.runs(), 1, "nobody joins a read that started before they asked");
  g.gates.shift()!.resolve("a");
  assert.equal(await first, "a#1");
  await tick();
  assert.equal(g.runs(), 2, "the waiting calls share one new read");
  g.gates.shift()!.resolve("b");
  assert.deepEqual(await Promise.all(later), ["b#2", "b#2", "b#2"]);
  await tick();
  const again = shared("k", g.read);
  assert.equal(g.runs(), 3, "idle again: the next call reads at once");
  g.gates.shift()!.resolve("c");
  assert.equal(await again, "c#3");
});

Deno.test("shared reads: keys are independent and a failure fails only its own callers", async () => {
  const g = gatedReads();
  const shared = createSharedReads<string>();
  const a = shared("a", g.read);
  const b = shared("b", g.read);
  assert.equal(g.runs(), 2, "another key does not wait");
  const aNext = shared("a", g.read);
  g.gates.shift()!.reject(new Error("boom"));
  await assert.rejects(a, /boom/);
  await tick();
  g.gates.shift()!.resolve("b");
  assert.equal(await b, "b#2");
  g.gates.shift()!.resolve("a");
  assert.equal(await aNext, "a#3", "the callers after a failed read get a fresh one");
  const thrown = shared("t", () => {
    throw new Error("sync");
  });
  await assert.rejects(thrown, /sync/);
  const after = shared("t", g.read);
  g.gates.shift()!.resolve("t");
  assert.equal(await after, "t#4", "a read that throws at once leaves the key free");
});

Deno.test("shared reads: a read stuck past staleMs is not joined", async () => {
  const g = gatedReads();
  const shared = createSharedReads<string>({ staleMs: 20 });
  const stuck = shared("k", g.read);
  await new Promise((r) => setTimeout(r, 40));
  const fresh = shared("k", g.read);
  assert.equal(g.runs(), 2, "a new read instead of waiting behind the stuck one");
  g.gates[1].resolve("fresh");
  assert.equal(await fresh, "fresh#2");
  g.gates[0].resolve("late");
  assert.equal(await stuck, "late#1");
});
