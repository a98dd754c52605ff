import assert from "node:assert/strict";
import { deleteJob, markProcessing, setProgress } from "../../shared/jobs/repo.ts";
import { createTestDeps } from "../../shared/testing/app_deps.ts";
import { collectSse } from "../../shared/testing/sse.ts";
import { createApp } from "../app.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

function submit(app: ReturnType<typeof createApp>, prompt: string) {
  return app.request("/api/v1/generate", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ prompt, model: "local/abstract" }),
  });
}

Deno.test({
  name: "events: SSE sends a snapshot on every job change, in order",
  ...opts,
  fn: async () => {
    const deps = await createTestDeps();
    try {
      const app = createApp(deps);
      const controller = new AbortController();
      const res = await app.request("/api/v1/events", { signal: controller.signal });
      assert.equal(res.status, 200);
      assert.match(res.headers.get("content-type") ?? "", /text\/event-stream/);
      // Each change is made once the previous one was seen: the feed sends the latest snapshot
      // of a job at each poll, so changes closer together than a poll may arrive as one.
      let step = 0;
      const changes: Promise<unknown>[] = [];
      const collecting = collectSse(res, (evs) => {
        const seen = evs.filter((e) => e.event === "job").map((e) => JSON.parse(e.data));
        const pending = seen.find((j) => j.status === "pending");
        if (step === 0 && pending) {
          step = 1;
          changes.push(markProcessing(deps.db, pending.id));
        }
        if (step === 1 && seen.some((j) => j.status === "processing")) {
          step = 2;
          changes.push(setProgress(deps.db, pending.id, 40));
        }
        return seen.some((j) => j.progress === 40);
      });
      await new Promise((r) => setTimeout(r, 100));
      const { job_id } = await (await submit(app, "<img src=x onerror=alert(1)>")).json();
      const events = await collecting;
      await Promise.all(changes);
      controller.abort();
      assert.equal(events[0].event, "ready");
      const jobs = events.filter((e) => e.event === "job").map((e) => ({
        id: e.id,
        job: JSON.parse(e.data),
      }));
      assert.deepEqual(jobs.map((j) => j.job.status), ["pending", "processing", "processing"]);
      assert.equal(jobs[2].job.progress, 40);
      assert.equal(jobs[0].job.prompt, "<img src=x onerror=alert(1)>");
      assert.ok(jobs.every((j) => j.job.id === job_id));
      const ids = jobs.map((j) => BigInt(j.id!));
      assert.ok(ids[0] < ids[1] && ids[1] < ids[2], "event ids increase");
    } finally {
      await deps.cleanup();
    }
  },
});

Deno.test({
  name: "events: Last-Event-ID replays what changed since; deletes are announced",
  ...opts,
  fn: async () => {
    const deps = await createTestDeps();
    try {
      const app = createApp(deps);
      const first = await (await submit(app, "first")).json();
      const live = await app.request("/api/v1/events");
      const isProcessing = (e: { event: string; data: string }) =>
        e.event === "job" && JSON.parse(e.data).status === "processing";
      // (A watcher may first get recent snapshots it missed: the feed errs on the side of more.)
      const firstEvents = collectSse(live, (evs) => evs.some(isProcessing));
      await new Promise((r) => setTimeout(r, 100));
      await markProcessing(deps.db, first.job_id);
      const seen = (await firstEvents).find(isProcessing)!;
      assert.equal(JSON.parse(seen.data).id, first.job_id);
      // While "disconnected", another job arrives and the first one progresses.
      const second = await (await submit(app, "second")).json();
      await setProgress(deps.db, first.job_id, 70);
      const again = await app.request("/api/v1/events", {
        headers: { "last-event-id": seen.id! },
      });
      const replayed = await collectSse(again, (evs) => {
        const jobs = evs.filter((e) => e.event === "job").map((e) => JSON.parse(e.data));
        return jobs.some((j) => j.id === second.job_id) &&
          jobs.some((j) => j.id === first.job_id && j.progress === 70);
      });
      assert.ok(replayed.length >= 2);

      const watching = await app.request("/api/v1/events");
      const deletion = collectSse(watching, (evs) => evs.some((e) => e.event === "job_deleted"));
      await new Promise((r) => setTimeout(r, 100));
      await deleteJob(deps.db, second.job_id);
      const deleted = (await deletion).find((e) => e.event === "job_deleted")!;
      assert.deepEqual(JSON.parse(deleted.data), { id: second.job_id });
    } finally {
      await deps.cleanup();
    }
  },
});

Deno.test({
  name: "stats: queue, workers and last-hour figures",
  ...opts,
  fn: async () => {
    const deps = await createTestDeps();
    try {
      const app = createApp(deps);
      await submit(app, "one");
      await submit(app, "two");
      const res = await app.request("/api/v1/stats");
      assert.equal(res.status, 200);
      const stats = await res.json();
      assert.equal(stats.queue.backend, "bullmq");
      assert.equal(stats.queue.waiting, 2);
      assert.equal(stats.workers.online, 0);
      assert.deepEqual(stats.jobs_last_hour, { total: 2, by_status: { pending: 2 } });
      assert.equal(stats.median_duration_s, null);
      assert.equal(stats.database, "postgres");
      const list = await app.request("/api/v1/jobs?status=pending&limit=1");
      assert.equal(list.headers.get("x-total-count"), "2");
      assert.equal((await list.json()).length, 1);
    } finally {
      await deps.cleanup();
    }
  },
});

Deno.test({
  name: "events: stopping ends every stream at once with a shutdown event (and later ones too)",
  ...opts,
  fn: async () => {
    const deps = await createTestDeps();
    try {
      const app = createApp(deps);
      const streams = await Promise.all([1, 2].map(() => app.request("/api/v1/events")));
      const reading = streams.map((res) => collectSse(res, () => false, 5000));
      await new Promise((r) => setTimeout(r, 200));
      const started = performance.now();
      deps.events.endStreams();
      for (const events of await Promise.all(reading)) {
        assert.deepEqual(events.map((e) => e.event), ["ready", "shutdown"]);
        assert.deepEqual(JSON.parse(events[1].data), { reconnect_ms: 1000 });
      }
      assert.ok(performance.now() - started < 1000, "the streams ended at once");
      // A stream opened while the process stops ends at once too.
      const late = await app.request("/api/v1/events");
      const events = await collectSse(late, () => false, 2000);
      assert.deepEqual(events.map((e) => e.event), ["ready", "shutdown"]);
    } finally {
      await deps.cleanup();
    }
  },
});
