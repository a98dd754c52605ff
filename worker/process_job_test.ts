import assert from "node:assert/strict";
import {
  cancelJob,
  directWorkerQueries,
  getJob,
  insertJob,
  type JobRow,
  markProcessing,
  setPrediction,
  type StoredImage,
} from "../shared/jobs/repo.ts";
import { detectImageType, imageDimensions } from "../shared/media/image_info.ts";
import { createReplicateProvider } from "../shared/providers/replicate.ts";
import { type QueueMessage, RetryLaterError } from "../shared/queue/queue.ts";
import { createTestDeps, type TestDeps } from "../shared/testing/app_deps.ts";
import { type FakeReplicate, startFakeReplicate } from "../shared/testing/fake_replicate.ts";
import { createRunTimes } from "./poll_schedule.ts";
import { type ProcessDeps, processJob } from "./process_job.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

const pauses: number[] = [];

interface Ctx {
  deps: TestDeps;
  fake: FakeReplicate;
  submit(model: string, parameters?: Record<string, unknown>): Promise<JobRow>;
  run(
    id: string,
    attempt?: number,
    maxAttempts?: number,
    extra?: Partial<ProcessDeps>,
    message?: Partial<QueueMessage>,
  ): Promise<void>;
}

function withWorker(name: string, fn: (ctx: Ctx) => Promise<void>) {
  Deno.test({
    name,
    ...opts,
    fn: async () => {
      const fake = await startFakeReplicate({ latencyMs: 150 });
      const replicate = createReplicateProvider({
        token: fake.token,
        baseUrl: fake.url,
        timeoutMs: 2000,
      });
      const deps = await createTestDeps({ replicate });
      const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, Math.min(ms, 50)));
      const ctx: Ctx = {
        deps,
        fake,
        async submit(model, parameters = {}) {
          const resolved = deps.providers.resolve(model);
          assert.ok("provider" in resolved);
          return await insertJob(deps.db, {
            id: crypto.randomUUID(),
            prompt: "a quiet harbour at dawn",
            model,
            parameters,
            provider: resolved.provider.name,
          });
        },
        run(id, attempt = 1, maxAttempts = 3, extra = {}, message = {}) {
          return processJob({ ...deps, sleep, ...extra }, { jobId: id, ...message }, {
            attempt,
            maxAttempts,
            signal: new AbortController().signal,
            pauseAll: (ms: number) => {
              pauses.push(ms);
              return Promise.resolve();
            },
          });
        },
      };
      try {
        await fn(ctx);
      } finally {
        await deps.cleanup();
        await fake.close();
      }
    },
  });
}

withWorker("worker: a local job completes with stored PNGs of the asked size", async (t) => {
  const job = await t.submit("local/aurora", { width: 128, height: 64, num_outputs: 2, seed: 3 });
  await t.run(job.id);
  const done = await getJob(t.deps.db, job.id);
  assert.equal(done?.status, "completed");
  assert.equal(done?.progress, 100);
  assert.equal(done?.images.length, 2);
  for (const [i, image] of (done?.images ?? []).entries()) {
    assert.equal(image.file, `${job.id}-${i}.png`);
    assert.equal(image.content_type, "image/png");
    assert.deepEqual([image.width, image.height], [128, 64]);
    const stat = await t.deps.storage.stat(image.file);
    assert.equal(stat?.size, image.bytes);
    // Its thumbnail is stored beside it (never larger than the image: 128 px stays 128 px).
    assert.equal(image.thumbnail, `${job.id}-${i}.thumb.webp`);
    const thumb = await Deno.readFile(`${t.deps.storageRoot}/generated/${image.thumbnail}`);
    assert.equal(detectImageType(thumb)?.contentType, "image/webp");
    assert.deepEqual(imageDimensions(thumb), { width: 128, height: 64 });
  }
});

withWorker("worker: a thumbnail that cannot be made never fails the job", async (t) => {
  const job = await t.submit("local/plasma", { width: 96, height: 96 });
  const broken = {
    ...t.deps.storage,
    put: () => Promise.reject(new Error("disk full")),
  };
  await t.run(job.id, 1, 3, { storage: broken });
  const done = await getJob(t.deps.db, job.id);
  assert.equal(done?.status, "completed");
  assert.equal(done?.images.length, 1);
  assert.equal(done?.images[0].thumbnail, null);
  assert.ok(await t.deps.storage.stat(done!.images[0].file));
});

withWorker("worker: a Replicate job completes, reporting progress from the logs", async (t) => {
  t.fake.latencyMs = 600;
  const job = await t.submit("black-forest-labs/flux-schnell", { width: 80, height: 80 });
  const seen = new Set<number>();
  const watcher = setInterval(async () => {
    const row = await getJob(t.deps.db, job.id).catch(() => null);
    if (row) seen.add(row.progress);
  }, 40);
  try {
    await t.run(job.id);
  } finally {
    clearInterval(watcher);
  }
  const done = await getJob(t.deps.db, job.id);
  assert.equal(done?.status, "completed", done?.error_message ?? "");
  assert.ok(done?.provider_prediction_id);
  assert.equal(t.fake.createdCount, 1);
  assert.ok([...seen].some((p) => p > 0 && p < 100), `intermediate progress seen: ${[...seen]}`);
});

withWorker(
  "worker: predictions of a kind seen before are polled once, at their usual end",
  async (t) => {
    t.fake.latencyMs = 300;
    const runTimes = createRunTimes();
    const asked: number[] = [];
    // Real waits (the ctx's own sleep is shortened), and every requested delay recorded.
    const sleep = (ms: number) => {
      asked.push(ms);
      return new Promise<void>((r) => setTimeout(r, ms));
    };
    const kindPolls: number[] = [];
    for (let n = 0; n < 4; n++) {
      const job = await t.submit("black-forest-labs/flux-schnell", { width: 64, height: 64 });
      asked.length = 0;
      const before = t.fake.requestsTo("GET", /^\/v1\/predictions\//).length;
      await t.run(job.id, 1, 3, { runTimes, sleep });
      assert.equal((await getJob(t.deps.db, job.id))?.status, "completed");
      kindPolls.push(t.fake.requestsTo("GET", /^\/v1\/predictions\//).length - before);
      if (n < 3) {
        assert.equal(asked[0], 250, `run ${n}: nothing known yet, the base schedule`);
      } else {
        // Three runs of 300 ms at the provider: the first poll waits until just past 300 ms.
        assert.equal(asked[0], Math.round(300 * 1.05 + 25));
      }
    }
    assert.equal(
      runTimes.expectedMs(`replicate\nblack-forest-labs/flux-schnell\n{"width":64,"height":64}`),
      300,
    );
    assert.equal(kindPolls[3], 1, `a known kind is asked once: ${kindPolls}`);
    // Other parameters are another kind: back to the base schedule.
    const other = await t.submit("black-forest-labs/flux-schnell", { width: 128, height: 64 });
    asked.length = 0;
    await t.run(other.id, 1, 3, { runTimes, sleep });
    assert.equal(asked[0], 250);
  },
);

withWorker("worker: a stored prediction is resumed, not paid for twice", async (t) => {
  const job = await t.submit("black-forest-labs/flux-schnell");
  const replicate = t.deps.providers.byName("replicate")!;
  // A previous worker created the prediction and died before finishing.
  const prediction = await replicate.create({
    model: job.model,
    prompt: job.prompt,
    parameters: {},
  });
  await markProcessing(t.deps.db, job.id);
  await setPrediction(t.deps.db, job.id, prediction.id);
  await t.run(job.id, 2);
  const done = await getJob(t.deps.db, job.id);
  assert.equal(done?.status, "completed");
  assert.equal(done?.provider_prediction_id, prediction.id);
  assert.equal(t.fake.createdCount, 1);
});

withWorker("worker: 429 on create retries later with the reset hint", async (t) => {
  t.fake.failNextCreates(1, 429);
  const job = await t.submit("black-forest-labs/flux-schnell");
  const err = await t.run(job.id).then(() => null, (e) => e);
  assert.ok(err instanceof RetryLaterError, String(err));
  assert.ok(err.delayMs >= 1000);
  assert.ok(pauses.at(-1)! >= 1000, "every worker was asked to hold off");
  const retrying = await getJob(t.deps.db, job.id);
  assert.equal(retrying?.status, "pending");
  assert.equal(retrying?.retry_count, 1);
  assert.match(retrying?.error_message ?? "", /429/);
  await t.run(job.id, 2);
  assert.equal((await getJob(t.deps.db, job.id))?.status, "completed");
  assert.equal(t.fake.createdCount, 1);
});

withWorker("worker: a 5xx on the last attempt fails the job with the reason", async (t) => {
  t.fake.failNextCreates(1, 503);
  const job = await t.submit("black-forest-labs/flux-schnell");
  await t.run(job.id, 3, 3);
  const failed = await getJob(t.deps.db, job.id);
  assert.equal(failed?.status, "failed");
  assert.match(failed?.error_message ?? "", /Failed after 3 attempts.*503/);
});

withWorker("worker: a failed prediction fails at once with the provider's message", async (t) => {
  t.fake.failPrediction = "CUDA out of memory";
  const job = await t.submit("black-forest-labs/flux-schnell");
  await t.run(job.id);
  const failed = await getJob(t.deps.db, job.id);
  assert.equal(failed?.status, "failed");
  assert.match(failed?.error_message ?? "", /CUDA out of memory/);
  assert.equal(failed?.retry_count, 0);
});

withWorker("worker: invalid input (422) and unknown models fail without retry", async (t) => {
  const bad = await t.submit("black-forest-labs/flux-schnell", { width: 4096 });
  await t.run(bad.id);
  const failed = await getJob(t.deps.db, bad.id);
  assert.equal(failed?.status, "failed");
  assert.match(failed?.error_message ?? "", /422/);
  t.fake.modelNotFound.add("nobody/nothing");
  const unknown = await t.submit("nobody/nothing");
  await t.run(unknown.id);
  assert.match((await getJob(t.deps.db, unknown.id))?.error_message ?? "", /Unknown model/);
});

withWorker("worker: expired outputs fail; non-image outputs are retried", async (t) => {
  t.fake.outputStatus = 410;
  const expired = await t.submit("black-forest-labs/flux-schnell");
  await t.run(expired.id);
  assert.equal((await getJob(t.deps.db, expired.id))?.status, "failed");
  t.fake.outputStatus = null;
  t.fake.nonImageOutput = true;
  const html = await t.submit("black-forest-labs/flux-schnell");
  await assert.rejects(t.run(html.id));
  const retrying = await getJob(t.deps.db, html.id);
  assert.equal(retrying?.status, "pending");
  assert.match(retrying?.error_message ?? "", /not an image/);
  t.fake.nonImageOutput = false;
  await t.run(html.id, 2);
  assert.equal((await getJob(t.deps.db, html.id))?.status, "completed");
  assert.equal(t.fake.createdCount, 2, "the retry re-downloaded the same prediction");
});

withWorker("worker: finished and missing jobs are skipped", async (t) => {
  const job = await t.submit("local/abstract", { width: 64, height: 64 });
  await t.run(job.id);
  const first = await getJob(t.deps.db, job.id);
  await t.run(job.id);
  const again = await getJob(t.deps.db, job.id);
  assert.deepEqual(again?.updated_at, first?.updated_at);
  await t.run(crypto.randomUUID());
});

withWorker(
  "worker: a job heard of before its row commits is waited for until the message's deadline",
  async (t) => {
    const sleeps: number[] = [];
    const sleep = async (ms: number) => {
      sleeps.push(ms);
      await new Promise((r) => setTimeout(r, ms));
    };
    const newJob = (id: string) => ({
      id,
      prompt: "a quiet harbour at dawn",
      model: "local/abstract",
      parameters: { width: 64, height: 64 },
      provider: "local",
    });
    // The submit's INSERT commits 150 ms after its message reached the worker.
    const late = crypto.randomUUID();
    const running = t.run(late, 1, 3, { sleep }, { insertDeadline: Date.now() + 10_000 });
    await new Promise((r) => setTimeout(r, 150));
    await insertJob(t.deps.db, newJob(late));
    await running;
    assert.equal((await getJob(t.deps.db, late))?.status, "completed");
    assert.ok(sleeps.length >= 2, `the worker tried again while the row was missing: ${sleeps}`);
    assert.ok(sleeps.every((ms) => ms >= 5 && ms <= 250), `waits stay short: ${sleeps}`);

    // The INSERT commits between the worker's claim (which missed it) and its read of the row.
    const between = crypto.randomUUID();
    const real = directWorkerQueries(t.deps.db);
    let claims = 0;
    const racing = {
      ...real,
      async claim(id: string) {
        if (++claims > 1) return await real.claim(id);
        await insertJob(t.deps.db, newJob(id));
        return null;
      },
    };
    await t.run(between, 1, 3, { sleep, queries: racing }, {
      insertDeadline: Date.now() + 10_000,
    });
    assert.equal((await getJob(t.deps.db, between))?.status, "completed");
    assert.equal(claims, 2);

    // A message without a deadline (re-queued, retried) or past it is dropped at once.
    sleeps.length = 0;
    await t.run(crypto.randomUUID(), 1, 3, { sleep });
    await t.run(crypto.randomUUID(), 1, 3, { sleep }, { insertDeadline: Date.now() - 1 });
    assert.deepEqual(sleeps, []);

    // Within the deadline, a row that never comes is given up on at the deadline, not before.
    const never = crypto.randomUUID();
    const deadline = Date.now() + 400;
    await t.run(never, 1, 3, { sleep }, { insertDeadline: deadline });
    assert.ok(Date.now() >= deadline - 250, "gave up well before the deadline");
    assert.equal(await getJob(t.deps.db, never), null);
  },
);

withWorker("worker: a cancel while running stops the job and cancels the prediction", async (t) => {
  t.fake.latencyMs = 5000;
  const job = await t.submit("black-forest-labs/flux-schnell");
  const running = t.run(job.id);
  const until = Date.now() + 5000;
  while ((await getJob(t.deps.db, job.id))?.provider_prediction_id == null) {
    if (Date.now() > until) throw new Error("prediction never created");
    await new Promise((r) => setTimeout(r, 20));
  }
  await cancelJob(t.deps.db, job.id);
  await running;
  const row = await getJob(t.deps.db, job.id);
  assert.equal(row?.status, "canceled");
  assert.deepEqual(row?.images, []);
  const prediction = t.fake.predictions.get(row!.provider_prediction_id!);
  assert.ok(prediction);
  assert.equal(t.fake.requestsTo("POST", /\/cancel$/).length, 1);
});

withWorker(
  "worker: outputs stored for a job canceled meanwhile are removed, not for one completed by another delivery",
  async (t) => {
    const real = directWorkerQueries(t.deps.db);
    const stored = async (id: string) =>
      (await Array.fromAsync(Deno.readDir(`${t.deps.storageRoot}/generated`)))
        .map((e) => e.name).filter((name) => name.startsWith(id)).sort();

    // Canceled after the prediction finished, while its outputs were being stored.
    const canceled = await t.submit("black-forest-labs/flux-schnell");
    const cancelFirst = {
      ...real,
      async complete(id: string, images: StoredImage[]) {
        assert.equal((await stored(id)).length, images.length * 2, "outputs and thumbnails stored");
        await cancelJob(t.deps.db, id);
        return await real.complete(id, images);
      },
    };
    await t.run(canceled.id, 1, 3, { queries: cancelFirst });
    const after = await getJob(t.deps.db, canceled.id);
    assert.equal(after?.status, "canceled");
    assert.deepEqual(after?.images, []);
    assert.deepEqual(await stored(canceled.id), []);

    // Another delivery of the same job completed it with the same file names: they stay.
    const twice = await t.submit("black-forest-labs/flux-schnell");
    const otherFirst = {
      ...real,
      async complete(id: string, images: StoredImage[]) {
        assert.ok(await real.complete(id, images));
        return await real.complete(id, images);
      },
    };
    await t.run(twice.id, 1, 3, { queries: otherFirst });
    const done = await getJob(t.deps.db, twice.id);
    assert.equal(done?.status, "completed");
    assert.deepEqual(
      await stored(twice.id),
      done?.images?.flatMap((i) => [i.file, i.thumbnail]).sort(),
    );
  },
);
