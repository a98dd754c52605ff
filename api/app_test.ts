import assert from "node:assert/strict";
import { countJobs, getJob, insertJob } from "../shared/jobs/repo.ts";
import { dispatchOutbox, outboxSize } from "../shared/jobs/outbox.ts";
import { sql } from "../shared/db/db.ts";
import { silentLogger } from "../shared/logger.ts";
import { createBullmqQueue } from "../shared/queue/bullmq.ts";
import { testQueuePrefix } from "../shared/testing/db.ts";
import { decodeBody } from "../shared/testing/encoded.ts";
import { createApp } from "./app.ts";
import { postGenerate, withApp } from "./app_testing.ts";

const post = postGenerate;

async function errorOf(
  res: Response,
): Promise<{ code: string; message: string; details?: unknown }> {
  assert.match(res.headers.get("content-type") ?? "", /application\/json/);
  const body = await res.json();
  assert.ok(body.error, "error envelope");
  return body.error;
}

withApp("api: POST /generate answers 202, stores the job and queues it", async (deps, app) => {
  const res = await post(app, {
    prompt: "a red fox in snow",
    model: "local/abstract",
    negative_prompt: "blurry",
    parameters: { width: 128, height: 96, num_outputs: 2, seed: 7 },
  });
  assert.equal(res.status, 202);
  const body = await res.json();
  assert.equal(body.status, "pending");
  assert.equal(typeof body.message, "string");
  assert.equal(res.headers.get("location"), `/api/v1/status/${body.job_id}`);
  assert.ok(res.headers.get("x-request-id"));
  const row = await getJob(deps.db, body.job_id);
  assert.equal(row?.status, "pending");
  assert.equal(row?.provider, "local");
  assert.deepEqual(row?.parameters, { width: 128, height: 96, num_outputs: 2, seed: 7 });
  const stats = await deps.queue.stats();
  assert.equal(stats.waiting, 1);
});

withApp(
  "api: a submit whose INSERT is stuck past its deadline answers 503 and leaves nothing",
  async (deps, app) => {
    let res: Response | undefined;
    // Another session holds a lock that blocks every INSERT into jobs for longer than the
    // submit's 5 s deadline, then lets go.
    await deps.db.transaction(async (tx) => {
      await tx.query(sql`LOCK TABLE jobs IN EXCLUSIVE MODE`);
      res = await post(app, { prompt: "a red fox in snow", model: "local/abstract" });
    });
    assert.equal(res?.status, 503);
    assert.equal(res?.headers.get("retry-after"), "2", "a 503 says when to try again");
    assert.equal((await res!.json()).error?.code, "service_unavailable");
    // Were the statement still waiting in Postgres, it would commit now that the lock is gone.
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(await countJobs(deps.db), 0, "the canceled INSERT left a row");
    const stats = await deps.queue.stats();
    assert.equal(stats.waiting, 0, "the job's queue message was not taken back");
  },
);

withApp("api: status and jobs/:id keep the old fields and add the new ones", async (_deps, app) => {
  const { job_id } = await (await post(app, { prompt: "p", model: "local/plasma" })).json();
  for (const path of [`/api/v1/status/${job_id}`, `/api/v1/jobs/${job_id}`]) {
    const res = await app.request(path);
    assert.equal(res.status, 200);
    const job = await res.json();
    for (
      const key of [
        "id",
        "prompt",
        "model",
        "parameters",
        "status",
        "media_path",
        "error_message",
        "retry_count",
        "created_at",
        "updated_at",
        "negative_prompt",
        "progress",
        "images",
        "image_url",
        "thumbnail_url",
        "started_at",
        "completed_at",
      ]
    ) assert.ok(key in job, `${path} has ${key}`);
    assert.equal(job.id, job_id);
    assert.equal(job.status, "pending");
    assert.deepEqual(job.images, []);
    assert.equal(job.media_path, null);
  }
  // Upper-case UUIDs name the same job.
  assert.equal((await app.request(`/api/v1/status/${job_id.toUpperCase()}`)).status, 200);
});

withApp("api: bad bodies get clear 4xx JSON errors and write nothing", async (deps, app) => {
  const cases: [Response, number, string][] = [
    [await post(app, "{not json"), 400, "bad_request"],
    [await post(app, ""), 400, "bad_request"],
    [await post(app, "[1,2]"), 422, "validation_error"],
    [await post(app, "null"), 422, "validation_error"],
    [
      await post(app, { prompt: "x", model: "local/abstract" }, { "content-type": "text/plain" }),
      415,
      "unsupported_media_type",
    ],
    [await post(app, { prompt: "x".repeat(70_000), model: "a/b" }), 413, "payload_too_large"],
    [await post(app, { prompt: "", model: "local/abstract" }), 422, "validation_error"],
    [
      await post(app, { prompt: "x", model: "local/abstract", parameters: { width: 5000 } }),
      422,
      "validation_error",
    ],
    [await post(app, { prompt: "x", model: "local/nope" }), 422, "validation_error"],
  ];
  for (const [res, status, code] of cases) {
    assert.equal(res.status, status);
    assert.equal((await errorOf(res)).code, code);
  }
  const bytes = new Uint8Array([0x7b, 0x22, 0x70, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d]);
  const invalidUtf8 = await app.request("/api/v1/generate", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: bytes,
  });
  assert.equal(invalidUtf8.status, 400);
  assert.match((await errorOf(invalidUtf8)).message, /UTF-8/);
  assert.equal(await countJobs(deps.db), 0);
});

withApp("api: validation errors list each field", async (_deps, app) => {
  const res = await post(app, {
    prompt: 3,
    model: "nope",
    parameters: { num_outputs: 9, seed: 1.5 },
  });
  assert.equal(res.status, 422);
  const err = await errorOf(res);
  const fields = (err.details as { field: string }[]).map((d) => d.field).sort();
  assert.deepEqual(fields, ["model", "parameters.num_outputs", "parameters.seed", "prompt"]);
});

withApp("api: a Replicate model without a token says which variable to set", async (deps, app) => {
  const res = await post(app, { prompt: "x", model: "black-forest-labs/flux-schnell" });
  assert.equal(res.status, 422);
  assert.match((await errorOf(res)).message, /REPLICATE_API_TOKEN/);
  assert.equal(await countJobs(deps.db), 0);
});

withApp("api: unknown and malformed job ids are 404 JSON", async (_deps, app) => {
  for (
    const id of [
      crypto.randomUUID(),
      "nope",
      "1%20OR%201=1",
      "..%2F..%2Fetc",
      "%00",
      "x".repeat(500),
    ]
  ) {
    const res = await app.request(`/api/v1/status/${id}`);
    assert.equal(res.status, 404, id);
    assert.equal((await errorOf(res)).code, "not_found");
  }
  const res = await app.request("/api/v1/nothing-here");
  assert.equal(res.status, 404);
  assert.equal((await errorOf(res)).code, "not_found");
});

withApp("api: GET /jobs pages newest first and validates its query", async (deps, app) => {
  const ids: string[] = [];
  for (let i = 0; i < 3; i++) {
    const id = crypto.randomUUID();
    ids.push(id);
    await insertJob(deps.db, {
      id,
      prompt: `p${i}`,
      model: "local/abstract",
      parameters: {},
      provider: "local",
    });
  }
  const all = await (await app.request("/api/v1/jobs")).json();
  assert.deepEqual(all.map((j: { prompt: string }) => j.prompt), ["p2", "p1", "p0"]);
  const page = await (await app.request("/api/v1/jobs?skip=1&limit=1")).json();
  assert.deepEqual(page.map((j: { id: string }) => j.id), [ids[1]]);
  for (
    const q of [
      "limit=0",
      "limit=101",
      "skip=-1",
      "skip=abc",
      "limit=1e400",
      "skip=99999999999999",
      "status=lost",
    ]
  ) {
    const res = await app.request(`/api/v1/jobs?${q}`);
    assert.equal(res.status, 422, q);
    assert.equal((await errorOf(res)).code, "validation_error");
  }
});

withApp(
  "api: lists asked while jobs are submitted show every job accepted before them",
  async (_deps, app) => {
    const list = async (query = "") =>
      (await (await app.request(`/api/v1/jobs${query}`)).json()).map((j: { id: string }) => j.id);
    const accepted: string[] = [];
    const seen: { before: string[]; ids: string[] }[] = [];
    // Submits and lists interleave: every list starts after the 202s before it and must show them.
    await Promise.all(Array.from({ length: 6 }, async (_, worker) => {
      for (let round = 0; round < 4; round++) {
        if (worker % 2 === 0) {
          const res = await post(app, { prompt: `w${worker} r${round}`, model: "local/abstract" });
          assert.equal(res.status, 202);
          accepted.push((await res.json()).job_id);
        } else {
          const before = [...accepted];
          seen.push({ before, ids: await list("?limit=100") });
        }
      }
    }));
    for (const { before, ids } of seen) {
      for (const id of before) {
        assert.ok(
          ids.includes(id),
          `a list misses ${id}, accepted before it`,
        );
      }
    }
    const all = await list("?limit=100");
    assert.equal(all.length, 12);
    assert.deepEqual(new Set(all), new Set(accepted));
    // Different queries are different reads.
    const [two, one] = await Promise.all([list("?limit=2"), list("?limit=1")]);
    assert.deepEqual([two.length, one.length], [2, 1]);
  },
);

withApp(
  "api: GET /models lists the local styles and says Replicate needs a token",
  async (_deps, app) => {
    const body = await (await app.request("/api/v1/models")).json();
    assert.ok(body.models.length >= 1);
    assert.ok(body.models.every((m: { id: string }) => m.id.startsWith("local/")));
    const replicate = body.providers.find((p: { name: string }) => p.name === "replicate");
    assert.equal(replicate.configured, false);
    assert.match(replicate.hint, /REPLICATE_API_TOKEN/);
    assert.equal(body.custom_models, false);
  },
);

withApp(
  "api: health is degraded without workers or without the queue; submits are kept meanwhile",
  async (deps, app) => {
    const res = await app.request("/api/v1/health");
    assert.equal(res.status, 200);
    const health = await res.json();
    assert.equal(health.status, "degraded");
    assert.equal(health.checks.database.ok, true);
    assert.equal(health.checks.queue.ok, true);
    assert.equal(health.checks.workers.online, 0);

    const deadQueue = createBullmqQueue({
      redisUrl: "redis://127.0.0.1:1",
      prefix: testQueuePrefix(),
      retry: { maxRetries: 1, backoffBase: 2 },
      logger: silentLogger,
      enqueueTimeoutMs: 1000,
    });
    try {
      const broken = createApp({ ...deps, queue: deadQueue });
      // The database answers: the API still takes jobs, so it is degraded, not down.
      const down = await broken.request("/api/v1/health");
      assert.equal(down.status, 200);
      const body = await down.json();
      assert.equal(body.status, "degraded");
      assert.equal(body.checks.queue.ok, false);
      const ready = await broken.request("/api/v1/ready");
      assert.equal(ready.status, 200);
      assert.equal((await ready.json()).status, "degraded");
      // A submit while the queue is down is accepted and kept in the outbox (first the enqueue
      // is tried and refused; once the queue is known to be away, job and outbox row are written
      // in one statement without trying it).
      for (const prompt of ["first", "second"]) {
        const submit = await post(broken, { prompt, model: "local/abstract" });
        assert.equal(submit.status, 202, await submit.clone().text());
        const { job_id } = await submit.json();
        assert.equal((await getJob(deps.db, job_id))?.status, "pending");
      }
      assert.equal(await countJobs(deps.db), 2);
      assert.equal(await outboxSize(deps.db), 2);
      // Once a queue answers, a dispatcher moves them onto it (each once).
      assert.equal(await dispatchOutbox(deps.db, deps.queue), 2);
      assert.equal(await outboxSize(deps.db), 0);
      assert.equal((await deps.queue.stats()).waiting, 2);
    } finally {
      await deadQueue.close();
    }
  },
);

withApp("api: the home page is served", async (_deps, app) => {
  const res = await app.request("/");
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type") ?? "", /text\/html/);
  assert.match(await res.text(), /Darkroom/);
});

withApp(
  "api: JSON is compressed for clients that accept it, untouched for others",
  async (_deps, app) => {
    const ids: string[] = [];
    for (let i = 0; i < 12; i++) {
      const res = await post(app, {
        prompt: `a red fox in snow, take ${i}`,
        model: "local/plasma",
      });
      // The hot paths of the benchmark: no Accept-Encoding, no coding, no Vary.
      assert.equal(res.headers.get("content-encoding"), null);
      assert.equal(res.headers.get("vary"), null);
      ids.push((await res.json()).job_id);
    }
    const status = await app.request(`/api/v1/status/${ids[0]}`);
    assert.equal(status.headers.get("content-encoding"), null);
    assert.equal(status.headers.get("vary"), null);
    await status.body?.cancel();

    const plain = await app.request("/api/v1/jobs?limit=12");
    assert.equal(plain.headers.get("content-encoding"), null);
    const text = await plain.text();
    assert.equal(JSON.parse(text).length, 12);
    for (const encoding of ["br", "gzip"]) {
      const res = await app.request("/api/v1/jobs?limit=12", {
        headers: { "Accept-Encoding": encoding },
      });
      assert.equal(res.status, 200);
      assert.equal(res.headers.get("content-encoding"), encoding);
      assert.equal(res.headers.get("vary"), "Accept-Encoding");
      assert.equal(res.headers.get("x-total-count"), "12", "headers are kept");
      assert.ok(res.headers.get("x-request-id"));
      const { bytes, sent } = await decodeBody(res);
      assert.equal(new TextDecoder().decode(bytes), text);
      assert.ok(sent * 3 < bytes.length, `${encoding}: ${sent} of ${bytes.length} bytes`);
    }
    // A small answer is not worth it.
    const small = await app.request(`/api/v1/status/${ids[0]}`, {
      headers: { "Accept-Encoding": "br" },
    });
    assert.equal(small.headers.get("content-encoding"), null);
    assert.equal((await small.json()).id, ids[0]);
  },
);
