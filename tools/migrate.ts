/** `deno task migrate [--status]`: applies the SQL migrations, or lists applied/pending ones. */
import { loadConfigOrExit } from "../shared/config.ts";
import { connectPostgres } from "../shared/db/db.ts";
import { migrate, migrationStatus } from "../shared/db/migrations.ts";

if (import.meta.main) {
  const config = await loadConfigOrExit();
  if (!config.DATABASE_URL) {
    console.error("deno task migrate needs DATABASE_URL (set it in the environment or .env)");
    Deno.exit(1);
  }
  const db = connectPostgres(config.DATABASE_URL, { max: 2, application: "darkroom-migrate" });
  let code = 0;
  try {
    if (Deno.args.includes("--status")) {
      for (const m of await migrationStatus(db)) {
        const when = m.appliedAt ? ` (${new Date(m.appliedAt).toISOString()})` : "";
        console.log(`${m.applied ? "applied" : "pending"}  ${m.name}${when}`);
      }
    } else {
      const applied = await migrate(db);
      console.log(
        applied.length ? applied.map((n) => `applied  ${n}`).join("\n") : "Database is up to date",
      );
    }
  } catch (err) {
    console.error(`Migration failed: ${(err as Error).message}`);
    code = 1;
  } finally {
    await db.close();
  }
  Deno.exit(code);
}
