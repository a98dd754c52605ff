/**
 * GET /usage: jobs, predictions, predict time and estimated spend over a range, grouped by day,
 * model or key, with the budget of the key it is about. A key sees its own usage; an admin key
 * every key's (or one key's with `key=`); the open API (AUTH_MODE=none) the whole instance.
 */
import { Hono } from "hono";
import { AppError, ValidationError } from "../../shared/errors.ts";
import { issueDetails } from "../../shared/jobs/schemas.ts";
import { readKeyBudget } from "../../shared/spend/budgets.ts";
import { usageQuery, usageRange, usageReport } from "../../shared/spend/usage.ts";
import type { AppDeps, AppEnv } from "../app.ts";
import { principalOf } from "../auth.ts";

/** Routes mounted under the API prefix. */
export function usageRoutes(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.get("/usage", async (c) => {
    const parsed = usageQuery.safeParse(c.req.query());
    if (!parsed.success) {
      throw new ValidationError("Query is invalid", issueDetails(parsed.error));
    }
    const q = parsed.data;
    const range = usageRange(q);
    if ("problem" in range) {
      throw new ValidationError(range.problem, [{ field: "from", message: range.problem }]);
    }
    const principal = principalOf(c);
    const own = principal.key?.id;
    if (q.key !== undefined && !principal.admin && q.key !== own) {
      throw new AppError(403, "forbidden", "Only an admin key may read another key's usage");
    }
    // A key: its own; an admin: everything, or the key asked for; open: the whole instance.
    const owner = q.key ?? (principal.admin ? undefined : own);
    const budgetKey = q.key ?? own;
    const [report, budget] = await Promise.all([
      usageReport(deps.db, { ...range, groupBy: q.group_by, owner }),
      budgetKey ? readKeyBudget(deps.db, budgetKey) : Promise.resolve(null),
    ]);
    c.header("Cache-Control", "no-store");
    return c.json({
      ...report,
      key: owner ?? null,
      currency: "USD",
      estimate: true,
      budget: budget
        ? {
          month: budget.month,
          budget_usd: budget.budget_usd,
          spent_usd: budget.spent_usd,
          reserved_usd: budget.reserved_usd,
          remaining_usd: budget.remaining_usd,
          warn_at: budget.warn_at,
        }
        : null,
    });
  });
  return app;
}
