/**
 * Monthly budgets per API key (calendar month, UTC). A submit whose estimate would take its key
 * over the budget is refused before anything is stored or queued: the job's INSERT carries the
 * estimate (`reserved_usd`) and a trigger of that same statement adds it to the key's month under
 * a row lock, raising SQLSTATE DR402 past the budget (migration 00012). Completion settles the
 * reservation into spend; failure, cancel and delete release it.
 */
import { type Db, fragment, join, sql } from "../db/db.ts";
import { AppError } from "../errors.ts";

/** The state of a key's budget this month. */
export interface KeyBudget {
  key_id: string;
  /** `YYYY-MM` (UTC). */
  month: string;
  budget_usd: number | null;
  spent_usd: number;
  reserved_usd: number;
  /** budget − spent − reserved (null without a budget; never below 0). */
  remaining_usd: number | null;
  /** Shares of the budget at which a budget.warning is sent. */
  warn_at: number[];
  /** Where budget.warning goes (null: nowhere). */
  webhook_url: string | null;
}

/** 402: the estimate would take the key over its monthly budget. */
export class BudgetExceededError extends AppError {
  constructor(message: string, details?: unknown) {
    super(402, "budget_exceeded", message, details);
    this.name = "BudgetExceededError";
  }
}

/** The SQLSTATE the spend trigger raises when a reservation would exceed the budget. */
export const BUDGET_SQLSTATE = "DR402";

/** The 402 for a database error raised by the spend trigger, or null for any other error. */
export function budgetErrorOf(err: unknown): BudgetExceededError | null {
  if ((err as { code?: unknown })?.code !== BUDGET_SQLSTATE) return null;
  let details: Record<string, unknown> = {};
  try {
    details = JSON.parse(String((err as { detail?: unknown }).detail ?? "{}"));
  } catch {
    // The message stands without the figures.
  }
  const figures = ["budget_usd", "spent_usd", "reserved_usd", "estimate_usd"] as const;
  for (const name of figures) {
    if (details[name] !== undefined) details[name] = Number(details[name]);
  }
  const money = (v: unknown) => `$${Number(v ?? 0).toFixed(2)}`;
  return new BudgetExceededError(
    `This job (estimated ${money(details.estimate_usd)}) would take the key over its monthly ` +
      `budget of ${money(details.budget_usd)} for ${details.month ?? "this month"}: ` +
      `${money(details.spent_usd)} spent, ${money(details.reserved_usd)} reserved by running jobs`,
    details,
  );
}

/** The calendar month (UTC) of a time, as `YYYY-MM`. */
export function monthOf(at: Date | number = Date.now()): string {
  return new Date(at).toISOString().slice(0, 7);
}

function keyWhere(idOrPrefix: string) {
  const isId = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(idOrPrefix);
  return fragment(isId ? sql`k.id = ${idOrPrefix}::uuid` : sql`k.prefix = ${idOrPrefix}`);
}

interface BudgetRow {
  key_id: string;
  budget_usd: number | null;
  spent_usd: number | null;
  reserved_usd: number | null;
  warn_at: number[];
  webhook_url: string | null;
}

function toBudget(row: BudgetRow, month: string): KeyBudget {
  const spent = row.spent_usd ?? 0;
  const reserved = row.reserved_usd ?? 0;
  return {
    key_id: row.key_id,
    month,
    budget_usd: row.budget_usd,
    spent_usd: spent,
    reserved_usd: reserved,
    remaining_usd: row.budget_usd === null
      ? null
      : Math.max(0, Math.round((row.budget_usd - spent - reserved) * 1e6) / 1e6),
    warn_at: (row.warn_at ?? []).map(Number),
    webhook_url: row.webhook_url,
  };
}

/** Budget settings and spend of keys this month (`keyIds`: these only; otherwise every key). */
export async function readKeyBudgets(
  db: Db,
  keyIds?: string[],
  now: Date = new Date(),
): Promise<KeyBudget[]> {
  const month = monthOf(now);
  const only = keyIds ? fragment(sql`WHERE k.id = ANY(${keyIds}::uuid[])`) : fragment(sql``);
  const rows = await db.query<BudgetRow>(sql`
    SELECT k.id AS key_id, k.budget_usd::float8 AS budget_usd, k.warn_at::float8[] AS warn_at,
           k.webhook_url, s.spent_usd::float8 AS spent_usd, s.reserved_usd::float8 AS reserved_usd
    FROM api_keys k
    LEFT JOIN key_spend s ON s.key_id = k.id AND s.month = ${`${month}-01`}::date
    ${only}`);
  return rows.map((row) => toBudget(row, month));
}

/** One key's budget this month, or null when the key does not exist. */
export async function readKeyBudget(
  db: Db,
  keyId: string,
  now: Date = new Date(),
): Promise<KeyBudget | null> {
  const [budget] = await readKeyBudgets(db, [keyId], now);
  return budget ?? null;
}

/** What `keys create` / `keys update` may change about spend; absent fields stay as they are. */
export interface SpendSettings {
  /** USD per calendar month; null removes the budget. */
  budgetUsd?: number | null;
  /** Shares of the budget (0–1] at which budget.warning is sent. */
  warnAt?: number[];
  /** Where budget.warning is sent; null: nowhere. */
  webhookUrl?: string | null;
}

/** Changes the spend settings of an active key (by id or shown prefix); returns how many changed. */
export async function updateSpendSettings(
  db: Db,
  idOrPrefix: string,
  settings: SpendSettings,
): Promise<number> {
  const sets = [
    settings.budgetUsd !== undefined ? sql`budget_usd = ${settings.budgetUsd}::numeric` : null,
    settings.warnAt !== undefined ? sql`warn_at = ${settings.warnAt}::numeric[]` : null,
    settings.webhookUrl !== undefined ? sql`webhook_url = ${settings.webhookUrl}` : null,
  ].filter((s) => s !== null);
  if (sets.length === 0) return 0;
  const where = keyWhere(idOrPrefix);
  const rows = await db.query(sql`
    UPDATE api_keys k SET ${join(sets, ", ")}
    WHERE k.revoked_at IS NULL AND ${where}
    RETURNING k.id`);
  return rows.length;
}

/** Parses `--budget-usd`: a non-negative amount, or `none` to remove the budget. */
export function parseBudgetUsd(text: string | undefined): number | null | undefined {
  if (text === undefined) return undefined;
  if (text.trim().toLowerCase() === "none") return null;
  const n = Number(text);
  if (!/^\d+(\.\d{1,6})?$/.test(text.trim()) || !Number.isFinite(n) || n > 1e8) {
    throw new Error(`--budget-usd must be an amount like 20 or 7.50 (or none), not ${text}`);
  }
  return n;
}

/** Parses `--warn-at`: comma-separated shares like `0.5,0.8,1` (or percentages `80%`). */
export function parseWarnAt(text: string | undefined): number[] | undefined {
  if (text === undefined) return undefined;
  if (text.trim().toLowerCase() === "none") return [];
  const values = text.split(",").map((part) => {
    const t = part.trim();
    const n = t.endsWith("%") ? Number(t.slice(0, -1)) / 100 : Number(t);
    if (!t || !Number.isFinite(n) || n <= 0 || n > 1) {
      throw new Error(`--warn-at takes shares of the budget in (0, 1], like 0.8,1; not ${part}`);
    }
    return n;
  });
  return [...new Set(values)].sort((a, b) => a - b);
}

/** Parses `--webhook-url`: an http(s) URL, or `none`. */
export function parseWebhookUrl(text: string | undefined): string | null | undefined {
  if (text === undefined) return undefined;
  if (text.trim().toLowerCase() === "none") return null;
  const t = text.trim();
  if (!URL.canParse(t) || !/^https?:$/.test(new URL(t).protocol) || t.length > 2000) {
    throw new Error(`--webhook-url must be an http(s) URL (or none), not ${text}`);
  }
  return t;
}
