import assert from "node:assert/strict";
import { Redis } from "ioredis";
import { runTask } from "../../shared/testing/processes.ts";
import { testRedisUrl } from "../../shared/testing/db.ts";
import { type Flood, median, parseSetting, summarize } from "./ab.ts";

function flood(label: "A" | "B", rps: number, p99: number, apiUsPerRequest: number): Flood {
  return {
    label,
    rps,
    p50: p99 / 3,
    p99,
    max: p99 * 2,
    errors: 0,
    statuses: {},
    cores: {},
    apiUsPerRequest,
    mainThread: null,
  };
}

Deno.test("bench --ab summary: B's wins are counted pair by pair, medians per side", () => {
  const floods = [
    flood("A", 2000, 40, 330),
    flood("B", 2100, 35, 320), // B wins all three
    flood("A", 2200, 30, 300),
    flood("B", 2100, 33, 310), // A wins all three
    flood("A", 1800, 45, 340),
    flood("B", 1900, 50, 335), // B: more req/s, less CPU, worse p99
  ];
  const s = summarize(floods);
  assert.equal(s.pairs, 3);
  assert.deepEqual(s.bWins, { rps: 2, p99: 1, apiUsPerRequest: 2 });
  assert.deepEqual(s.median.a, { rps: 2000, p99: 40, apiUsPerRequest: 330 });
  assert.deepEqual(s.median.b, { rps: 2100, p99: 35, apiUsPerRequest: 320 });
  // A trailing A without its B is not a pair.
  assert.equal(summarize([...floods, flood("A", 1, 1, 1)]).pairs, 3);
});

Deno.test("bench --ab: median of odd and even counts, NaN ignored", () => {
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 3, 2]), 2.5);
  assert.equal(median([NaN, 5]), 5);
  assert.ok(Number.isNaN(median([])));
});

Deno.test("bench --ab: settings are a JSON object of strings plus Deno flags", () => {
  assert.deepEqual(parseSetting('{"A":"1"}', "--v8-flags=--x  --y"), {
    env: { A: "1" },
    denoFlags: ["--v8-flags=--x", "--y"],
  });
  assert.deepEqual(parseSetting(undefined, undefined), { env: {}, denoFlags: [] });
  assert.throws(() => parseSetting("[1]", undefined), /JSON object of strings/);
  assert.throws(() => parseSetting('{"A":1}', undefined), /JSON object of strings/);
  assert.throws(() => parseSetting("{nope", undefined), /not JSON/);
});

Deno.test({
  name: "bench --ab: floods alternate A then B, each with its own settings, and nothing is left",
  async fn() {
    // B limits each client to one submit a minute: its flood must meet 429s, A's none.
    const run = await runTask([
      "bench",
      "--ab",
      "--pairs=1",
      "--seconds=1",
      "--warmup=0",
      "--no-worker",
      "--loadgen=deno",
      '--b-env={"RATE_LIMIT_PER_MINUTE":"1"}',
    ], { TEST_REDIS_URL: testRedisUrl() });
    assert.equal(run.code, 0, run.output.slice(-3000));
    const json = JSON.parse(run.output.trim().split("\n").findLast((l) => l.startsWith("{"))!);
    assert.equal(json.mode, "ab");
    const floods: Flood[] = json.floods;
    assert.deepEqual(floods.map((f) => f.label), ["A", "B"]);
    assert.equal(floods[0].errors, 0);
    assert.ok(floods[0].statuses["202"] > 0, JSON.stringify(floods[0]));
    assert.ok(floods[1].statuses["429"] > 0, JSON.stringify(floods[1]));
    assert.equal(json.summary.pairs, 1);
    const redis = new Redis(testRedisUrl());
    try {
      assert.deepEqual(await redis.keys("darkroom-bench-*"), []);
    } finally {
      redis.disconnect();
    }
  },
});
