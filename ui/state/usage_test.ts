import assert from "node:assert/strict";
import { budgetShares, fillDays, formatUsd, layoutBars, niceCeiling } from "./usage.ts";

Deno.test("usage: money reads at the precision that matters", () => {
  assert.equal(formatUsd(0), "$0");
  assert.equal(formatUsd(0.003), "$0.0030");
  assert.equal(formatUsd(0.042), "$0.042");
  assert.equal(formatUsd(1.25), "$1.25");
  assert.equal(formatUsd(1204.5), "$1,204.50");
  assert.equal(formatUsd(null), "");
  assert.equal(formatUsd(NaN), "");
});

Deno.test("usage: every day of the range gets a bar, empty days included", () => {
  const days = fillDays(
    [{ day: "2026-12-02", total_usd: 0.5, jobs: 3 }],
    "2026-12-01T00:00:00.000Z",
    "2026-12-04T00:00:00.000Z",
  );
  assert.deepEqual(days.map((d) => [d.day, d.total_usd, d.jobs]), [
    ["2026-12-01", 0, 0],
    ["2026-12-02", 0.5, 3],
    ["2026-12-03", 0, 0],
  ]);
  // A range ending mid-day includes that day; long ranges keep the latest days.
  assert.equal(fillDays([], "2026-12-01T00:00:00Z", "2026-12-01T10:00:00Z").length, 1);
  const long = fillDays([], "2026-01-01T00:00:00Z", "2026-12-01T00:00:00Z", 30);
  assert.equal(long.length, 30);
  assert.equal(long.at(-1)?.day, "2026-11-30");
  assert.deepEqual(fillDays([], "2026-12-02T00:00:00Z", "2026-12-01T00:00:00Z"), []);
});

Deno.test("usage: bars scale to a round top, small days stay visible", () => {
  assert.equal(niceCeiling(0.37), 0.5);
  assert.equal(niceCeiling(0.5), 0.5);
  assert.equal(niceCeiling(3.2), 5);
  assert.equal(niceCeiling(12), 20);
  assert.equal(niceCeiling(0), 0.01);
  const chart = layoutBars(
    [
      { day: "2026-12-01", total_usd: 0.4, jobs: 1 },
      { day: "2026-12-02", total_usd: 0, jobs: 0 },
      { day: "2026-12-03", total_usd: 0.0001, jobs: 1 },
    ],
    344,
    180,
  );
  assert.equal(chart.max, 0.5);
  assert.equal(chart.baseline, 160);
  const [a, b, c] = chart.bars;
  assert.equal(a.y + a.height, chart.baseline);
  assert.ok(Math.abs(a.height - (152 * 0.4) / 0.5) < 1e-9);
  assert.equal(b.height, 0);
  assert.equal(c.height, 2, "a sliver");
  assert.ok(a.x >= 44 && c.x + c.width <= 344);
  assert.deepEqual(chart.bars.map((x) => x.label), ["12-01", "12-02", "12-03"]);
  // Labels thin out on long ranges, the latest day always labelled.
  const many = layoutBars(
    Array.from(
      { length: 30 },
      (_, i) => ({ day: `2026-11-${String(i + 1).padStart(2, "0")}`, total_usd: 1, jobs: 1 }),
    ),
  );
  assert.ok(many.bars.filter((x) => x.label).length <= 8);
  assert.equal(many.bars.at(-1)?.label, "11-30");
});

Deno.test("usage: the budget bar's shares and warning level", () => {
  assert.deepEqual(
    budgetShares({ budget_usd: 20, spent_usd: 5, reserved_usd: 1, warn_at: [0.8, 1] }),
    { spentPct: 25, reservedPct: 5, level: "ok" },
  );
  assert.equal(
    budgetShares({ budget_usd: 20, spent_usd: 15, reserved_usd: 1, warn_at: [0.8] }).level,
    "warn",
  );
  const over = budgetShares({ budget_usd: 20, spent_usd: 19, reserved_usd: 4, warn_at: [] });
  assert.deepEqual(over, { spentPct: 95, reservedPct: 5, level: "over" });
  assert.equal(
    budgetShares({ budget_usd: 0, spent_usd: 0, reserved_usd: 0, warn_at: [] }).level,
    "ok",
  );
});
