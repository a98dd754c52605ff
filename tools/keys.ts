/**
 * `deno task keys create --name NAME [--admin] [spend flags]` | `keys update ID|PREFIX [spend
 * flags]` | `keys list` | `keys revoke ID|PREFIX`. Spend flags: `--budget-usd N|none`,
 * `--warn-at 0.8,1`, `--webhook-url URL|none` (shared/spend/budgets.ts).
 * Works on DATABASE_URL, or on the embedded database under DATA_DIR while `start` is stopped.
 */
import { join } from "node:path";
import { createApiKey, listApiKeys, revokeApiKey } from "../shared/auth/api_keys.ts";
import { loadConfigOrExit } from "../shared/config.ts";
import { acquireDataLock, type DataLock } from "../shared/db/data_lock.ts";
import { connectPostgres, type Db } from "../shared/db/db.ts";
import { openPglite } from "../shared/db/pglite.ts";
import { migrate } from "../shared/db/migrations.ts";
import {
  parseBudgetUsd,
  parseWarnAt,
  parseWebhookUrl,
  readKeyBudgets,
  type SpendSettings,
  updateSpendSettings,
} from "../shared/spend/budgets.ts";

const USAGE = `Usage:
  deno task keys create --name NAME [--admin] [SPEND]   create a key (shown once) and its webhook secret
  deno task keys update ID|PREFIX SPEND                 change a key's budget, warnings or webhook
  deno task keys list                                   list keys (never their secrets) and this month's spend
  deno task keys revoke ID|PREFIX                       revoke a key
SPEND:
  --budget-usd N|none     monthly budget in USD (calendar month, UTC): a submit whose estimate
                          would go over it is refused with 402
  --warn-at 0.8,1         shares of the budget that send a budget.warning webhook (default 0.8,1)
  --webhook-url URL|none  where budget.warning is sent (signed with the key's webhook secret)`;

/** The spend flags given (absent ones stay unchanged); throws a message for a bad value. */
function spendFlags(args: string[]): SpendSettings {
  return {
    budgetUsd: parseBudgetUsd(flag(args, "--budget-usd")),
    warnAt: parseWarnAt(flag(args, "--warn-at")),
    webhookUrl: parseWebhookUrl(flag(args, "--webhook-url")),
  };
}

function money(v: number | null): string {
  return v === null ? "—" : `$${v.toFixed(2)}`;
}

function flag(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
}

async function open(): Promise<{ db: Db; lock?: DataLock }> {
  const config = await loadConfigOrExit();
  if (config.DATABASE_URL) {
    return { db: connectPostgres(config.DATABASE_URL, { max: 2, application: "darkroom-keys" }) };
  }
  const lock = await acquireDataLock(config.DATA_DIR);
  const db = await openPglite(join(config.DATA_DIR, "pg"));
  await migrate(db);
  return { db, lock };
}

if (import.meta.main) {
  const [command, ...args] = Deno.args;
  if (!["create", "update", "list", "revoke"].includes(command ?? "")) {
    console.error(USAGE);
    Deno.exit(2);
  }
  let spend: SpendSettings = {};
  try {
    spend = spendFlags(args);
  } catch (err) {
    console.error((err as Error).message);
    Deno.exit(2);
  }
  let opened: { db: Db; lock?: DataLock };
  try {
    opened = await open();
  } catch (err) {
    console.error(`Cannot open the database: ${(err as Error).message}`);
    Deno.exit(1);
  }
  let code = 0;
  try {
    if (command === "create") {
      const name = flag(args, "--name")?.trim();
      if (!name || name.length > 100) {
        console.error("keys create needs --name NAME (1–100 characters)");
        code = 2;
      } else {
        const { key, record } = await createApiKey(opened.db, {
          name,
          admin: args.includes("--admin"),
        });
        await updateSpendSettings(opened.db, record.id, spend);
        console.log(
          `Created ${record.is_admin ? "admin " : ""}key "${record.name}" (${record.id})`,
        );
        if (spend.budgetUsd !== undefined && spend.budgetUsd !== null) {
          console.log(`  Monthly budget: ${money(spend.budgetUsd)}`);
        }
        console.log(`\n  API key:        ${key}`);
        console.log(`  Webhook secret: ${record.webhook_secret}\n`);
        console.log("The key is shown only now: store it safely. Send it as");
        console.log("  Authorization: Bearer <key>");
      }
    } else if (command === "update") {
      const target = args[0];
      if (
        !target || target.startsWith("--") || Object.values(spend).every((v) => v === undefined)
      ) {
        console.error("keys update needs ID|PREFIX and --budget-usd, --warn-at or --webhook-url");
        code = 2;
      } else {
        const n = await updateSpendSettings(opened.db, target, spend);
        if (n === 0) {
          console.error(`No active key matches ${target}`);
          code = 1;
        } else console.log(`Updated ${n} key${n === 1 ? "" : "s"}`);
      }
    } else if (command === "list") {
      const keys = await listApiKeys(opened.db);
      const budgets = new Map((await readKeyBudgets(opened.db)).map((b) => [b.key_id, b]));
      if (keys.length === 0) console.log("No keys yet: deno task keys create --name NAME");
      for (const k of keys) {
        const state = k.revoked_at ? "revoked" : "active ";
        const used = k.last_used_at ? new Date(k.last_used_at).toISOString() : "never";
        const b = budgets.get(k.id);
        const spent = b
          ? `  ${b.month}: ${money(b.spent_usd)} spent${
            b.budget_usd === null ? "" : ` of ${money(b.budget_usd)}`
          }`
          : "";
        console.log(
          `${state}  ${k.prefix}…  ${
            k.is_admin ? "admin" : "user "
          }  ${k.id}  ${k.name}  (last used ${used})${spent}`,
        );
      }
    } else {
      const target = args[0];
      const n = target ? await revokeApiKey(opened.db, target) : 0;
      if (n === 0) {
        console.error(`No active key matches ${target ?? "(nothing given)"}`);
        code = 1;
      } else console.log(`Revoked ${n} key${n === 1 ? "" : "s"}`);
    }
  } finally {
    await opened.db.close();
    await opened.lock?.release();
  }
  Deno.exit(code);
}
