/**
 * Usage: estimated spend per day (a small SVG bar chart), per model, and the current key's monthly
 * budget. Figures come from `GET /usage`; every amount is an estimate from the price table.
 */
import { useSignal } from "@preact/signals";
import { useEffect, useLayoutEffect, useRef } from "preact/hooks";
import type { UsageJson } from "../api_client.ts";
import { formatDuration } from "../state/format.ts";
import { api, resyncTick, sessionReady } from "../state/live.ts";
import { urlState } from "../state/url.ts";
import { budgetShares, fillDays, formatUsd, layoutBars } from "../state/usage.ts";

export interface UsageViewProps {
  /** Days the chart covers, today included. */
  days?: number;
  /** Refresh interval while the tab is visible (ms). */
  refreshMs?: number;
}

interface Loaded {
  byDay: UsageJson;
  byModel: UsageJson;
}

function Figure({ name, value }: { name: string; value: string }) {
  return (
    <div class="usage-figure">
      <dt>{name}</dt>
      <dd>{value}</dd>
    </div>
  );
}

function BudgetBar({ budget }: { budget: NonNullable<UsageJson["budget"]> }) {
  if (budget.budget_usd === null) {
    return (
      <p class="muted budget-none">
        No monthly budget on this key: <code>deno task keys update ID --budget-usd N</code>{" "}
        sets one.
      </p>
    );
  }
  const b = { ...budget, budget_usd: budget.budget_usd };
  const shares = budgetShares(b);
  const used = b.spent_usd + b.reserved_usd;
  return (
    <div class={`budget budget-${shares.level}`}>
      <div class="budget-head">
        <strong>Budget {b.month}</strong>
        <span>
          {formatUsd(b.spent_usd)} spent
          {b.reserved_usd > 0 ? ` + ${formatUsd(b.reserved_usd)} reserved` : ""} of{" "}
          {formatUsd(b.budget_usd)} · {formatUsd(b.remaining_usd)} left
        </span>
      </div>
      <div
        class="budget-track"
        role="meter"
        aria-label={`Budget used this month`}
        aria-valuemin={0}
        aria-valuemax={b.budget_usd}
        aria-valuenow={Math.min(used, b.budget_usd)}
        aria-valuetext={`${formatUsd(used)} of ${formatUsd(b.budget_usd)}`}
      >
        {/* SVG sizes, not inline styles: the page's policy allows no style attributes. */}
        <svg viewBox="0 0 100 10" preserveAspectRatio="none" aria-hidden="true">
          <rect class="budget-spent" x="0" y="0" width={shares.spentPct} height="10" />
          <rect
            class="budget-reserved"
            x={shares.spentPct}
            y="0"
            width={shares.reservedPct}
            height="10"
          />
          {b.warn_at.filter((w) => w < 1).map((w) => (
            <line key={w} class="budget-mark" x1={w * 100} x2={w * 100} y1="0" y2="10" />
          ))}
        </svg>
      </div>
    </div>
  );
}

function SpendChart({ usage, days }: { usage: UsageJson; days: number }) {
  // Laid out in the pixels it has (measured, then on every resize), so its text keeps its size.
  const frame = useRef<HTMLDivElement>(null);
  const width = useSignal(0);
  useLayoutEffect(() => {
    const el = frame.current;
    if (!el) return;
    const measure = (w: number) => {
      if (w > 0) width.value = Math.floor(w);
    };
    measure(el.clientWidth);
    const observer = new ResizeObserver((entries) => {
      for (const entry of entries) measure(entry.contentRect.width);
    });
    observer.observe(el);
    return () => observer.disconnect();
  }, []);
  const groups = usage.groups.filter((g): g is typeof g & { day: string } => "day" in g);
  const chart = layoutBars(fillDays(groups, usage.from, usage.to, days), width.value || 640, 180);
  const total = formatUsd(usage.total_usd);
  return (
    <figure class="usage-chart">
      <div ref={frame}>
        <svg
          width={chart.width}
          height={chart.height}
          viewBox={`0 0 ${chart.width} ${chart.height}`}
          role="img"
          aria-label={`Estimated spend per day over the last ${days} days: ${total} in all`}
        >
          <line class="axis" x1="44" x2={chart.width} y1={chart.baseline} y2={chart.baseline} />
          <line class="grid-line" x1="44" x2={chart.width} y1="8" y2="8" />
          <text class="tick" x="40" y="12" text-anchor="end">{formatUsd(chart.max)}</text>
          <text class="tick" x="40" y={chart.baseline} text-anchor="end">$0</text>
          {chart.bars.map((bar) => (
            <g key={bar.day}>
              {bar.height > 0 && (
                <rect class="bar" x={bar.x} y={bar.y} width={bar.width} height={bar.height} rx="2">
                  <title>{`${bar.day}: ${formatUsd(bar.total_usd)}, ${bar.jobs} jobs`}</title>
                </rect>
              )}
              {bar.label && (
                <text
                  class="tick"
                  x={bar.x + bar.width / 2}
                  y={chart.height - 4}
                  text-anchor="middle"
                >
                  {bar.label}
                </text>
              )}
            </g>
          ))}
        </svg>
      </div>
      <figcaption class="muted">Estimated spend per day (UTC)</figcaption>
    </figure>
  );
}

export default function UsageView({ days = 30, refreshMs = 15_000 }: UsageViewProps) {
  const data = useSignal<Loaded | null>(null);
  const error = useSignal<string | null>(null);
  const visible = urlState.value.tab === "usage";
  const resync = resyncTick.value;
  const canCall = sessionReady();

  useEffect(() => {
    if (!visible || !canCall) return;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let stopped = false;
    const tick = async () => {
      if (!document.hidden) {
        const to = new Date();
        const from = new Date(Date.UTC(
          to.getUTCFullYear(),
          to.getUTCMonth(),
          to.getUTCDate() - (days - 1),
        ));
        const range = { from: from.toISOString(), to: to.toISOString() };
        try {
          const [byDay, byModel] = await Promise.all([
            api.usage({ ...range, group_by: "day" }),
            api.usage({ ...range, group_by: "model" }),
          ]);
          data.value = { byDay, byModel };
          error.value = null;
        } catch (err) {
          error.value = (err as Error).message;
        }
      }
      if (!stopped) timer = setTimeout(tick, refreshMs);
    };
    void tick();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, [visible, canCall, resync, days, refreshMs]);

  const d = data.value;
  const u = d?.byDay;
  const models = (d?.byModel.groups ?? []).filter((g): g is typeof g & { model: string } =>
    "model" in g
  ).sort((a, b) => b.total_usd - a.total_usd || b.jobs - a.jobs);

  return (
    <section class="usage" aria-labelledby="usage-title" aria-busy={!d}>
      <div class="section-head">
        <h2 id="usage-title">Usage</h2>
        <span class="muted" aria-live="polite">
          {error.value
            ? `Usage unavailable (${error.value})`
            : u
            ? `Last ${days} days · ${
              u.key ? "this key" : "the whole instance"
            } · costs are estimates from the price table`
            : "Loading usage…"}
        </span>
      </div>
      {u && (
        <>
          <dl class="usage-figures">
            <Figure name="Spent (estimate)" value={formatUsd(u.total_usd)} />
            <Figure name="Jobs" value={u.jobs.toLocaleString("en")} />
            <Figure name="Predictions" value={u.predictions.toLocaleString("en")} />
            <Figure name="Predict time" value={formatDuration(u.predict_time_s) || "0 s"} />
          </dl>
          {u.budget && <BudgetBar budget={u.budget} />}
          <SpendChart usage={u} days={days} />
          <h3>By model</h3>
          {models.length === 0
            ? <p class="muted">No jobs in the last {days} days.</p>
            : (
              <div class="usage-table-wrap">
                <table class="usage-table">
                  <thead>
                    <tr>
                      <th scope="col">Model</th>
                      <th scope="col">Jobs</th>
                      <th scope="col">Predictions</th>
                      <th scope="col">Predict time</th>
                      <th scope="col">Spent (estimate)</th>
                    </tr>
                  </thead>
                  <tbody>
                    {models.map((m) => (
                      <tr key={m.model}>
                        <th scope="row">
                          <code>{m.model}</code>
                        </th>
                        <td>{m.jobs.toLocaleString("en")}</td>
                        <td>{m.predictions.toLocaleString("en")}</td>
                        <td>{formatDuration(m.predict_time_s) || "0 s"}</td>
                        <td>
                          {formatUsd(m.total_usd)}
                          {m.unpriced_jobs > 0 && (
                            <span class="muted" title="Jobs whose cost is not known yet">
                              {` (+${m.unpriced_jobs} unpriced)`}
                            </span>
                          )}
                        </td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            )}
        </>
      )}
    </section>
  );
}
