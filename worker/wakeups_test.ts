import assert from "node:assert/strict";
import { createTestDb } from "../shared/testing/db.ts";
import { notifyPredictionFinished } from "../shared/webhooks/receipts.ts";
import { createWakeups } from "./wakeups.ts";

Deno.test("wakeups: a NOTIFY for the prediction ends the sleep early; others keep sleeping", async () => {
  const t = await createTestDb({ migrate: false });
  const wakeups = await createWakeups(t.db);
  try {
    const signal = new AbortController().signal;
    const started = Date.now();
    let otherDone = false;
    const other = wakeups.sleep("pred-b", 400, signal).then(() => (otherDone = true));
    const mine = wakeups.sleep("pred-a", 10_000, signal);
    await new Promise((r) => setTimeout(r, 50));
    await notifyPredictionFinished(t.db, "pred-a");
    await mine;
    assert.ok(Date.now() - started < 2000, "woken early");
    assert.equal(otherDone, false);
    await other;
    const aborter = new AbortController();
    const aborted = wakeups.sleep("pred-c", 10_000, aborter.signal);
    aborter.abort(new Error("stop"));
    await assert.rejects(aborted, /stop/);
  } finally {
    await wakeups.close();
    await t.cleanup();
  }
});
