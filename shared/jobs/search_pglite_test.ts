/** The library's search and collections on PGlite: the same suite as on Postgres. */
import { openPglite } from "../db/pglite.ts";
import { migrate } from "../db/migrations.ts";
import { checkLibrary } from "../testing/search_suite.ts";

Deno.test({
  name: "library on PGlite: search, filters, cursors, totals, stars, collections",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async (t) => {
    const db = await openPglite(undefined);
    try {
      await migrate(db);
      await checkLibrary(db, t);
    } finally {
      await db.close();
    }
  },
});
