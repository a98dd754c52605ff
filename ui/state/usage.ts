/**
 * The Usage view's pure parts: money as people read it, every day of a range (days without jobs
 * included, so the chart's bars stand where their dates are), the bar chart's geometry and the
 * budget bar's shares. No fetch and no DOM here.
 */

/** A day's figures as the chart draws them. */
export interface DayBar {
  /** `YYYY-MM-DD` (UTC). */
  day: string;
  total_usd: number;
  jobs: number;
}

/** "$0", "$0.0030", "$0.042", "$1.25", "$1,204.50". */
export function formatUsd(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return "";
  if (value === 0) return "$0";
  const abs = Math.abs(value);
  const digits = abs < 0.01 ? 4 : abs < 1 ? 3 : 2;
  return `$${
    value.toLocaleString("en", { minimumFractionDigits: digits, maximumFractionDigits: digits })
  }`;
}

/** The `YYYY-MM-DD` of a time (UTC). */
export function utcDay(at: number | Date): string {
  return new Date(at).toISOString().slice(0, 10);
}

/**
 * One bar per UTC day from `from`'s day to `to`'s day (at most `maxDays`, the latest kept), with
 * the figures of `groups` where the API has them and zeros elsewhere.
 */
export function fillDays(
  groups: readonly { day: string; total_usd: number; jobs: number }[],
  from: string,
  to: string,
  maxDays = 62,
): DayBar[] {
  const byDay = new Map(groups.map((g) => [g.day, g]));
  const start = Date.parse(`${utcDay(Date.parse(from))}T00:00:00Z`);
  // `to` is exclusive: a range ending at midnight does not show the next day.
  const last = Date.parse(`${utcDay(Date.parse(to) - 1)}T00:00:00Z`);
  if (!Number.isFinite(start) || !Number.isFinite(last) || last < start) return [];
  const days: DayBar[] = [];
  for (let t = start; t <= last; t += 86_400_000) {
    const day = utcDay(t);
    const g = byDay.get(day);
    days.push({ day, total_usd: g?.total_usd ?? 0, jobs: g?.jobs ?? 0 });
  }
  return days.slice(-maxDays);
}

/** A bar of the chart, in the SVG's user units. */
export interface BarGeometry extends DayBar {
  x: number;
  y: number;
  width: number;
  height: number;
  /** Date under the bar, or "" where labels would crowd. */
  label: string;
}

/** The chart's geometry: bars, the top of the scale and where the axis is. */
export interface ChartGeometry {
  width: number;
  height: number;
  /** Where the bars stand (the x axis), in user units from the top. */
  baseline: number;
  /** The value at the top of the scale (a round amount over the largest day). */
  max: number;
  bars: BarGeometry[];
}

/** A round value ≥ `v` for the top of a scale: 1, 2 or 5 × a power of ten. */
export function niceCeiling(v: number): number {
  if (!(v > 0)) return 0.01;
  const power = 10 ** Math.floor(Math.log10(v));
  for (const step of [1, 2, 5, 10]) {
    if (v <= step * power + 1e-12) return step * power;
  }
  return 10 * power;
}

const LEFT = 44;
const RIGHT = 16;
const BOTTOM = 20;
const TOP = 8;

/** Lays out `days` as bars in a `width` × `height` chart with room for the axis labels. */
export function layoutBars(days: readonly DayBar[], width = 640, height = 180): ChartGeometry {
  const baseline = height - BOTTOM;
  const max = niceCeiling(Math.max(0, ...days.map((d) => d.total_usd)));
  const slot = days.length > 0 ? (width - LEFT - RIGHT) / days.length : 0;
  const barWidth = Math.max(1, Math.min(28, slot * 0.72));
  // About one label per 70 px, at most seven.
  const every = Math.max(1, Math.ceil(days.length / Math.min(7, Math.max(2, width / 70))));
  const bars = days.map((d, i) => {
    const h = max > 0 ? ((baseline - TOP) * d.total_usd) / max : 0;
    // A day with spend shows at least a sliver, so small days are not lost next to big ones.
    const shown = d.total_usd > 0 ? Math.max(2, h) : 0;
    const fromEnd = days.length - 1 - i;
    return {
      ...d,
      x: LEFT + i * slot + (slot - barWidth) / 2,
      y: baseline - shown,
      width: barWidth,
      height: shown,
      label: fromEnd % every === 0 ? d.day.slice(5) : "",
    };
  });
  return { width, height, baseline, max, bars };
}

/** A key's budget as the bar shows it. */
export interface BudgetShares {
  /** Spent, as a percentage of the budget (0–100). */
  spentPct: number;
  /** Reserved by running jobs, on top of spent (0–100 − spentPct). */
  reservedPct: number;
  /** `ok`, `warn` past the first warning share, `over` at or past the budget. */
  level: "ok" | "warn" | "over";
}

/** The shares of a budget that are spent and reserved. */
export function budgetShares(b: {
  budget_usd: number;
  spent_usd: number;
  reserved_usd: number;
  warn_at: number[];
}): BudgetShares {
  if (!(b.budget_usd > 0)) {
    return { spentPct: 100, reservedPct: 0, level: b.spent_usd > 0 ? "over" : "ok" };
  }
  const pct = (v: number) => Math.max(0, Math.min(100, (v / b.budget_usd) * 100));
  const spentPct = pct(b.spent_usd);
  const reservedPct = Math.min(100 - spentPct, pct(b.reserved_usd));
  const share = (b.spent_usd + b.reserved_usd) / b.budget_usd;
  const warnAt = b.warn_at.length > 0 ? Math.min(...b.warn_at) : 0.8;
  return {
    spentPct,
    reservedPct,
    level: share >= 1 ? "over" : share >= warnAt ? "warn" : "ok",
  };
}
