import assert from "node:assert/strict";
import {
  createRunTimes,
  firstPollDelayMs,
  nextPollDelayMs,
  pollDelayMs,
  remainingMs,
} from "./poll_schedule.ts";

Deno.test("poll schedule: 250 ms for the first two seconds, then backs off to 3 s", () => {
  assert.equal(pollDelayMs(0), 250);
  assert.equal(pollDelayMs(7), 250);
  assert.ok(pollDelayMs(10) > 250);
  assert.equal(pollDelayMs(100), 3000);
});

Deno.test("poll schedule: the expected end comes from the observed progress rate", () => {
  assert.equal(remainingMs([]), null);
  assert.equal(remainingMs([{ at: 0, percent: 20 }]), null, "one sample gives no rate");
  assert.equal(remainingMs([{ at: 0, percent: 0 }, { at: 250, percent: 0 }]), null);
  assert.equal(remainingMs([{ at: 0, percent: 20 }, { at: 250, percent: 20 }]), null, "stalled");
  // 20 % → 45 % in 250 ms: 10 % per 100 ms, 55 % left → 550 ms.
  assert.equal(remainingMs([{ at: 0, percent: 20 }, { at: 250, percent: 45 }]), 550);
  // Samples at 0 % and 100 % say nothing about the rate.
  assert.equal(
    remainingMs([{ at: 0, percent: 0 }, { at: 100, percent: 20 }, { at: 350, percent: 45 }, {
      at: 400,
      percent: 100,
    }]),
    550,
  );
});

Deno.test("poll schedule: sleeps until just after the expected end, within the base and 3 s", () => {
  const none: { at: number; percent: number }[] = [];
  assert.equal(nextPollDelayMs(0, none), 250, "no progress: the base schedule");
  const fast = [{ at: 0, percent: 20 }, { at: 250, percent: 45 }];
  assert.equal(nextPollDelayMs(2, fast), Math.round(550 * 1.05 + 25));
  const nearlyDone = [{ at: 0, percent: 20 }, { at: 1000, percent: 99 }];
  assert.equal(nextPollDelayMs(2, nearlyDone), 250, "never sooner than the base schedule");
  const slow = [{ at: 0, percent: 1 }, { at: 1000, percent: 2 }];
  assert.equal(nextPollDelayMs(2, slow), 3000, "never longer than 3 s");
  assert.equal(nextPollDelayMs(100, slow), 3000);
});

Deno.test("poll schedule: the first poll waits for the usual run time, within 250 ms and 3 s", () => {
  assert.equal(firstPollDelayMs(null), 250, "nothing known: the base schedule");
  assert.equal(firstPollDelayMs(1000), Math.round(1000 * 1.05 + 25));
  assert.equal(firstPollDelayMs(100), 250, "never sooner than the base schedule");
  assert.equal(firstPollDelayMs(60_000), 3000, "never longer than 3 s: progress still shows");
  assert.equal(firstPollDelayMs(0), 250);
  assert.equal(firstPollDelayMs(NaN), 250);
});

Deno.test("poll schedule: run times give a low estimate per kind once three are known", () => {
  const times = createRunTimes({ kinds: 2, keep: 4 });
  assert.equal(times.expectedMs("a"), null);
  times.record("a", 1000);
  times.record("a", 1200);
  assert.equal(times.expectedMs("a"), null, "two runs are not enough");
  times.record("a", 900);
  assert.equal(times.expectedMs("a"), 900, "the 25th percentile of 900, 1000, 1200");
  for (const ms of [5000, 5000, 5000, 5000]) times.record("a", ms);
  assert.equal(times.expectedMs("a"), 5000, "only the last four runs count");
  times.record("a", NaN);
  times.record("a", -1);
  assert.equal(times.expectedMs("a"), 5000, "nonsense is ignored");
  for (const ms of [1, 2, 3]) times.record("b", ms);
  times.expectedMs("a");
  times.record("a", 5000); // "a" used last: "b" is now the oldest kind
  for (const ms of [7, 8, 9]) times.record("c", ms);
  assert.equal(times.expectedMs("b"), null, "the least recently recorded kind is forgotten");
  assert.equal(times.expectedMs("a"), 5000);
  assert.equal(times.expectedMs("c"), 7);
});
