import assert from "node:assert/strict";
import { sql } from "../db/db.ts";
import { createTestDb } from "../testing/db.ts";
import { getJob, heartbeat, insertJob, type JobRow } from "./repo.ts";
import { createJobTimings } from "./timing.ts";

Deno.test({
  name: "timings: ETA from the model's recent runs; queue place by priority then age",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const t = await createTestDb();
    try {
      const add = async (model: string, priority: "high" | "normal" | "low" = "normal") =>
        (await insertJob(t.db, {
          id: crypto.randomUUID(),
          prompt: "p",
          model,
          parameters: {},
          provider: "local",
          priority,
        })).id;
      // Four finished runs of local/aurora: 2, 4, 6 and 100 s (median 5 s).
      for (const seconds of [2, 4, 6, 100]) {
        const id = await add("local/aurora");
        await t.db.query(sql`
          UPDATE jobs SET status = 'completed', started_at = now() - interval '200 seconds',
                          completed_at = now() - interval '200 seconds'
                                         + ${seconds} * interval '1 second'
          WHERE id = ${id}`);
      }
      const running = await add("local/aurora");
      await t.db.query(sql`UPDATE jobs SET status = 'processing', progress = 40,
                             started_at = now() - interval '2 seconds' WHERE id = ${running}`);
      const late = await add("local/aurora");
      await t.db.query(sql`UPDATE jobs SET status = 'processing', progress = 25,
                             started_at = now() - interval '30 seconds' WHERE id = ${late}`);
      const unknown = await add("local/plasma");
      await t.db.query(sql`UPDATE jobs SET status = 'processing', started_at = now()
                           WHERE id = ${unknown}`);
      const low = await add("local/aurora", "low");
      const normal = await add("local/aurora");
      const high = await add("local/aurora", "high");
      await heartbeat(t.db, { workerId: "w", hostname: "h", pid: 1, concurrency: 2, active: 0 });

      const timings = createJobTimings(t.db);
      const rows = (await Promise.all([running, late, unknown, low, normal, high].map((id) =>
        getJob(t.db, id)
      ))) as JobRow[];
      await timings.ready(rows);
      const [r, l, u, lo, no, hi] = rows.map((row) =>
        timings.of(row)
      );
      assert.ok(r.eta_s !== null && r.eta_s > 2 && r.eta_s <= 3, `about 5 - 2 s: ${r.eta_s}`);
      assert.equal(r.queue_position, null);
      // Past its usual time: what its progress says is left (30 s for 25 % → 90 s).
      assert.ok(l.eta_s !== null && l.eta_s >= 89 && l.eta_s <= 92, `${l.eta_s}`);
      assert.deepEqual(u, { eta_s: null, queue_position: null }, "no runs of that model yet");
      assert.deepEqual([hi.queue_position, no.queue_position, lo.queue_position], [1, 2, 3]);
      // Two workers' slots: the first two start with the next free slots, the third after.
      assert.deepEqual([hi.eta_s, no.eta_s, lo.eta_s], [5, 5, 10]);
      const done = await getJob(
        t.db,
        (await t.db.query<{ id: string }>(
          sql`SELECT id FROM jobs WHERE status = 'completed' LIMIT 1`,
        ))[0].id,
      );
      assert.deepEqual(timings.of(done!), { eta_s: null, queue_position: null });
    } finally {
      await t.cleanup();
    }
  },
});
