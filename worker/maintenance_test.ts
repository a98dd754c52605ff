import assert from "node:assert/strict";
import { getJob, insertJob, markFailed, markProcessing } from "../shared/jobs/repo.ts";
import { requeueUnfinished } from "../shared/jobs/reconcile.ts";
import { createTestDeps } from "../shared/testing/app_deps.ts";
import { pruneExpired } from "./maintenance.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

function job() {
  return {
    id: crypto.randomUUID(),
    prompt: "p",
    model: "local/abstract",
    parameters: {},
    provider: "local",
  };
}

Deno.test({
  name: "maintenance: unfinished jobs whose message was lost are queued again, once",
  ...opts,
  fn: async () => {
    const deps = await createTestDeps();
    try {
      const lost = await insertJob(deps.db, job()); // inserted, never enqueued (a crash)
      const queued = await insertJob(deps.db, job());
      await deps.queue.enqueue({ jobId: queued.id });
      const stuck = await insertJob(deps.db, job());
      await markProcessing(deps.db, stuck.id);
      const done = await insertJob(deps.db, job());
      await markFailed(deps.db, done.id, "x");
      const offered = await requeueUnfinished(deps.db, deps.queue, { logger: deps.logger });
      assert.equal(offered, 3);
      assert.equal((await deps.queue.stats()).waiting, 3, "the queued one was not doubled");
      await requeueUnfinished(deps.db, deps.queue, { logger: deps.logger });
      assert.equal((await deps.queue.stats()).waiting, 3, "running it again changes nothing");
      assert.ok(lost);
      // Fresh jobs are left to the API's own enqueue.
      assert.equal(
        await requeueUnfinished(deps.db, deps.queue, { logger: deps.logger, olderThanS: 60 }),
        0,
      );
    } finally {
      await deps.cleanup();
    }
  },
});

Deno.test({
  name: "maintenance: retention prunes old finished jobs and their files only",
  ...opts,
  fn: async () => {
    const deps = await createTestDeps();
    try {
      const old = await insertJob(deps.db, job());
      await markFailed(deps.db, old.id, "x");
      const png = new Uint8Array([
        0x89,
        0x50,
        0x4e,
        0x47,
        0x0d,
        0x0a,
        0x1a,
        0x0a,
        ...new Array(24).fill(0),
      ]);
      const image = await deps.storage.save(ReadableStream.from([png]), {
        name: `${old.id}-0`,
        maxBytes: 1000,
      });
      // Its thumbnail, recorded (a newer row) or made on request (an older one): both go.
      await deps.storage.put(`${old.id}-0.thumb.webp`, new Uint8Array([1]), "image/webp");
      await deps.db.query({
        text: "UPDATE jobs SET images = $2, created_at = now() - interval '10 days' WHERE id = $1",
        values: [old.id, [image]],
      });
      const oldPending = await insertJob(deps.db, job());
      await deps.db.query({
        text: "UPDATE jobs SET created_at = now() - interval '10 days' WHERE id = $1",
        values: [oldPending.id],
      });
      const recent = await insertJob(deps.db, job());
      await markFailed(deps.db, recent.id, "x");
      assert.equal(await pruneExpired(deps, 0), 0, "0 keeps everything");
      assert.equal(await pruneExpired(deps, 7), 1);
      assert.equal(await getJob(deps.db, old.id), null);
      assert.equal(await deps.storage.stat(image.file), null);
      assert.equal(await deps.storage.stat(`${old.id}-0.thumb.webp`), null);
      assert.ok(await getJob(deps.db, oldPending.id), "unfinished jobs are never pruned");
      assert.ok(await getJob(deps.db, recent.id));
    } finally {
      await deps.cleanup();
    }
  },
});
