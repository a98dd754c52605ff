import assert from "node:assert/strict";
import { createApiKey, revokeApiKey } from "../auth/api_keys.ts";
import type { Db } from "../db/db.ts";
import { createLogger } from "../logger.ts";
import { createTestDb } from "../testing/db.ts";
import { createJobEventHub, type JobEvent } from "./events.ts";
import { deleteJob, insertJob } from "./repo.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

function recordingLogger() {
  const lines: { level: string; msg: string; err?: { message?: string } }[] = [];
  const logger = createLogger({ level: "debug", write: (line) => lines.push(JSON.parse(line)) });
  return { logger, lines };
}

/** `db` with its changed-jobs poll held at a gate until `open()` is called. */
function gatedDb(db: Db) {
  let reached!: () => void;
  const atGate = new Promise<void>((resolve) => reached = resolve);
  let open!: () => void;
  const gate = new Promise<void>((resolve) => open = resolve);
  const gated: Db = {
    ...db,
    async query(q) {
      if (/FROM jobs WHERE updated_at >/.test(q.text)) {
        reached();
        await gate;
      }
      return await db.query(q);
    },
  };
  return { db: gated, atGate, open };
}

function newJob(owner: string | null) {
  return {
    id: crypto.randomUUID(),
    owner_key_id: owner,
    prompt: "p",
    negative_prompt: null,
    model: "local/abstract",
    parameters: {},
    provider: "local",
  };
}

Deno.test({
  name: "event hub: the last subscriber leaving mid-poll logs nothing (no BigInt/undefined mix)",
  ...opts,
  fn: async () => {
    const t = await createTestDb();
    const { logger, lines } = recordingLogger();
    const gated = gatedDb(t.db);
    const hub = createJobEventHub(gated.db, logger, { pollMs: 10 });
    try {
      const unsubscribe = hub.subscribe(() => {});
      await gated.atGate; // the poll has its cursor and waits on the changed-jobs query
      unsubscribe(); // the client leaves: the cursor is reset under the poll's feet
      gated.open();
      await new Promise((r) => setTimeout(r, 100));
      const warnings = lines.filter((l) => l.level === "warn" || l.level === "error");
      assert.deepEqual(warnings, [], JSON.stringify(warnings));
      // The hub still works for the next watcher.
      const seen: JobEvent[] = [];
      const again = hub.subscribe((e) => seen.push(e));
      await new Promise((r) => setTimeout(r, 50));
      const job = newJob(null);
      await insertJob(t.db, job);
      for (let i = 0; i < 100 && !seen.some((e) => e.type === "job"); i++) {
        await new Promise((r) => setTimeout(r, 20));
      }
      again();
      assert.ok(seen.some((e) => e.type === "job" && e.job.id === job.id));
    } finally {
      await hub.close();
      await t.cleanup();
    }
  },
});

Deno.test({
  name:
    "event hub: deletions carry their owner; a revoked key's subscriptions are told and dropped",
  ...opts,
  fn: async () => {
    const t = await createTestDb();
    const hub = createJobEventHub(t.db, createLogger({ write: () => {} }), { pollMs: 10 });
    try {
      await hub.start();
      const alice = (await createApiKey(t.db, { name: "alice" })).record;
      const bob = (await createApiKey(t.db, { name: "bob" })).record;
      const events: JobEvent[] = [];
      const revoked: string[] = [];
      hub.subscribe((e) => events.push(e), {
        keyId: alice.id,
        onRevoked: () => revoked.push("alice-1"),
      });
      hub.subscribe(() => {}, { keyId: alice.id, onRevoked: () => revoked.push("alice-2") });
      hub.subscribe(() => {}, { keyId: bob.id, onRevoked: () => revoked.push("bob") });
      assert.equal(hub.subscribers(), 3);
      assert.equal(hub.subscribers(alice.id), 2);

      const job = newJob(alice.id);
      await insertJob(t.db, job);
      await deleteJob(t.db, job.id);
      for (let i = 0; i < 100 && !events.some((e) => e.type === "job_deleted"); i++) {
        await new Promise((r) => setTimeout(r, 20));
      }
      const deleted = events.find((e) => e.type === "job_deleted");
      assert.deepEqual(deleted && { id: deleted.id, owner: deleted.owner }, {
        id: job.id,
        owner: alice.id,
      });

      assert.equal(await revokeApiKey(t.db, alice.prefix), 1);
      for (let i = 0; i < 100 && revoked.length < 2; i++) {
        await new Promise((r) => setTimeout(r, 20));
      }
      assert.deepEqual(revoked.sort(), ["alice-1", "alice-2"]);
      assert.equal(hub.subscribers(alice.id), 0);
      assert.equal(hub.subscribers(), 1, "bob's subscription stays");
    } finally {
      await hub.close();
      await t.cleanup();
    }
  },
});
