/**
 * Usage: jobs, predictions, predict time and estimated spend over a time range, for one key or the
 * whole instance, grouped by day (UTC), model or key. Read from the jobs themselves (by the time
 * each was created), so it needs no bookkeeping of its own.
 */
import { z } from "zod";
import { type Db, fragment, sql } from "../db/db.ts";

export const GROUP_BY = ["day", "model", "key"] as const;
export type GroupBy = typeof GROUP_BY[number];

/** The longest range one report may cover (days). */
export const MAX_RANGE_DAYS = 400;

const DATE_ONLY = /^\d{4}-\d{2}-\d{2}$/;

/** A day (`YYYY-MM-DD`, midnight UTC) or an ISO 8601 date-time with its offset. */
const instant = (name: string) =>
  z.string({ error: `${name} must be a date` }).trim().max(40).transform((v, ctx) => {
    const iso = DATE_ONLY.test(v) ? `${v}T00:00:00Z` : v;
    const ok = DATE_ONLY.test(v) ||
      /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/.test(v);
    const at = ok ? Date.parse(iso) : NaN;
    if (Number.isNaN(at) || (DATE_ONLY.test(v) && new Date(at).toISOString().slice(0, 10) !== v)) {
      ctx.addIssue({
        code: "custom",
        message:
          `${name} must be a day (2026-01-31) or a date-time with offset (2026-01-31T12:00:00Z)`,
      });
      return z.NEVER;
    }
    return new Date(at);
  });

/** GET /usage query (from inclusive, to exclusive; defaults: this calendar month so far). */
export const usageQuery = z.object({
  from: instant("from").optional(),
  to: instant("to").optional(),
  group_by: z.enum(GROUP_BY, { error: "group_by must be day, model or key" }).default("day"),
  key: z.string().trim().regex(
    /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i,
    { error: "key must be an API key id (a UUID)" },
  ).transform((v) => v.toLowerCase()).optional(),
});

/** The range a query covers, defaults filled in; a problem message for a range out of bounds. */
export function usageRange(
  q: { from?: Date; to?: Date },
  now: Date = new Date(),
): { from: Date; to: Date } | { problem: string } {
  const to = q.to ?? now;
  const from = q.from ?? new Date(Date.UTC(to.getUTCFullYear(), to.getUTCMonth(), 1));
  if (from.getTime() >= to.getTime()) return { problem: "from must be before to" };
  if (to.getTime() - from.getTime() > MAX_RANGE_DAYS * 86_400_000) {
    return { problem: `from and to must be at most ${MAX_RANGE_DAYS} days apart` };
  }
  return { from, to };
}

/** The figures of one group, or of the whole report. */
export interface UsageFigures {
  /** Estimated spend (USD) of the jobs whose cost is known. */
  total_usd: number;
  jobs: number;
  /** Jobs whose cost is not known (yet): running, or canceled while running. */
  unpriced_jobs: number;
  predictions: number;
  predict_time_s: number;
}

export type UsageGroup =
  & UsageFigures
  & ({ day: string } | { model: string } | { key: string | null; name: string | null });

export interface UsageReport extends UsageFigures {
  from: string;
  to: string;
  group_by: GroupBy;
  groups: UsageGroup[];
}

interface GroupRow {
  g: string | null;
  name: string | null;
  jobs: number;
  unpriced_jobs: number;
  predictions: number;
  predict_time_s: number;
  total_usd: number;
}

const round = (v: number, digits: number) => Math.round(v * 10 ** digits) / 10 ** digits;

/** Usage of `owner`'s jobs (every job when undefined) created in [from, to). */
export async function usageReport(
  db: Db,
  q: { from: Date; to: Date; groupBy: GroupBy; owner?: string },
): Promise<UsageReport> {
  const group = q.groupBy === "day"
    ? fragment(sql`to_char(j.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')`)
    : q.groupBy === "model"
    ? fragment(sql`j.model`)
    : fragment(sql`j.owner_key_id::text`);
  const owner = q.owner ? fragment(sql`AND j.owner_key_id = ${q.owner}`) : fragment(sql``);
  const rows = await db.query<GroupRow>(sql`
    SELECT ${group} AS g, ${
    q.groupBy === "key" ? fragment(sql`min(k.name)`) : fragment(sql`NULL::text`)
  } AS name,
           count(*)::int AS jobs,
           (count(*) - count(j.cost_usd))::int AS unpriced_jobs,
           coalesce(sum(j.predictions), 0)::int AS predictions,
           coalesce(sum(j.predict_time_s), 0)::float8 AS predict_time_s,
           coalesce(sum(j.cost_usd), 0)::float8 AS total_usd
    FROM jobs j ${
    q.groupBy === "key"
      ? fragment(sql`LEFT JOIN api_keys k ON k.id = j.owner_key_id`)
      : fragment(sql``)
  }
    WHERE j.created_at >= ${q.from} AND j.created_at < ${q.to} ${owner}
    GROUP BY 1 ORDER BY 1`);
  const figures = (r: Omit<GroupRow, "g" | "name">): UsageFigures => ({
    total_usd: round(r.total_usd, 6),
    jobs: r.jobs,
    unpriced_jobs: r.unpriced_jobs,
    predictions: r.predictions,
    predict_time_s: round(r.predict_time_s, 3),
  });
  const groups: UsageGroup[] = rows.map((r) => {
    const f = figures(r);
    if (q.groupBy === "day") return { day: r.g ?? "", ...f };
    if (q.groupBy === "model") return { model: r.g ?? "", ...f };
    return { key: r.g, name: r.name, ...f };
  });
  const sum = (pick: (r: GroupRow) => number) => rows.reduce((n, r) => n + pick(r), 0);
  return {
    from: q.from.toISOString(),
    to: q.to.toISOString(),
    group_by: q.groupBy,
    ...figures({
      jobs: sum((r) => r.jobs),
      unpriced_jobs: sum((r) => r.unpriced_jobs),
      predictions: sum((r) => r.predictions),
      predict_time_s: sum((r) => r.predict_time_s),
      total_usd: sum((r) => r.total_usd),
    }),
    groups,
  };
}
