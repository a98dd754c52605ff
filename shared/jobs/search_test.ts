import { createTestDb } from "../testing/db.ts";
import { checkLibrary } from "../testing/search_suite.ts";
import { searchWords } from "./search.ts";
import assert from "node:assert/strict";

Deno.test({
  name: "library on Postgres: search, filters, cursors, totals, stars, collections",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async (t) => {
    const testDb = await createTestDb();
    try {
      await checkLibrary(testDb.db, t);
    } finally {
      await testDb.cleanup();
    }
  },
});

Deno.test("search words: letters and digits, lower-cased prefixes, at most eight", () => {
  assert.equal(searchWords("A Lighthouse, at DUSK!"), "'a':* & 'lighthouse':* & 'at':* & 'dusk':*");
  assert.equal(searchWords("l'été 2025"), "'l':* & 'été':* & '2025':*");
  assert.equal(searchWords("夜の街"), "'夜の街':*");
  assert.equal(searchWords("' & | ! ( ) : * \\"), null);
  assert.equal(searchWords("a a a"), "'a':*");
  assert.equal(searchWords("1 2 3 4 5 6 7 8 9 10")?.split(" & ").length, 8);
});
