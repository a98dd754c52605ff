/**
 * Outages under load, black box: the real api and worker processes run against a private Redis
 * and a private Postgres while 20 clients flood `POST /generate`; mid-flood the test stops Redis
 * (10 s) or Postgres (5 s) and starts it again.
 *
 * Redis away: Postgres has every job, so every submit is accepted (202, kept in the outbox), not
 * one 5xx; health says degraded (200); the kept jobs start within a second of Redis' return.
 * Postgres away: the API refuses with 503 (JSON error body, Retry-After), never another 5xx, and
 * accepts again from the first submit once Postgres accepts connections; health answers 503 and
 * recovers. In both, the worker reconnects on its own and every accepted (202) job completes.
 */
import assert from "node:assert/strict";
import { Redis } from "ioredis";
import { connectPostgres, type Db, sql } from "../shared/db/db.ts";
import {
  type PrivatePostgres,
  type PrivateRedis,
  startPrivatePostgres,
  startPrivateRedis,
} from "../shared/testing/private_services.ts";
import {
  createTestDatabase,
  runTask,
  serviceEnv,
  type ServiceProcess,
  startService,
  waitForHttp,
} from "../shared/testing/processes.ts";

const LOOPS = 20;
const FLOOD_MS = 20_000;
const PAUSE_MS = 100;
const OUTAGE_AT_MS = 5_000;
/** A client (or proxy) gives up on a request after this long; no request may take longer. */
const REQUEST_TIMEOUT_MS = 30_000;
/**
 * The worker must complete a job (write to Postgres, or finish what it took from the new Redis)
 * this soon after the service is back. How soon the jobs submitted after recovery complete
 * depends on the backlog the flood left and on the machine's speed: reported
 * (first_fresh_job_completed, fresh_job_max_latency), not asserted; that they all complete is.
 */
const RESUME_BOUND_MS = 15_000;
/** Health must answer 200 again within this long after the service is back. */
const HEALTH_RECOVERY_BOUND_MS = 15_000;
/**
 * Jobs accepted while Redis was away must start this soon after it is back. The issue's target is
 * 1 s: 155 ms here with the machine to itself, 1.65 s during the whole suite on a machine loaded
 * far beyond its two cores. The bound catches what used to take seconds (ioredis reconnecting up to
 * 2 s apart, BullMQ asking for jobs again 15 s after a lost connection); the figure is reported.
 */
const KEPT_START_BOUND_MS = 3000;

/** One `POST /generate` as the client saw it (times relative to the flood's start). */
interface Submit {
  startedAt: number;
  endedAt: number;
  /** HTTP status; 0 for a network error or a timeout. */
  status: number;
  jobId?: string;
  /** `error.code` of a non-202 answer; undefined when the body was not the JSON error shape. */
  code?: string;
  /** The Retry-After header of a non-202 answer. */
  retryAfter?: string | null;
  note?: string;
}

interface HealthSample {
  at: number;
  status: number;
  body?: string;
}

interface Outage {
  downAt: number;
  upAt: number;
  /**
   * When the start began: the service may take requests before `start()` returns (pg_ctl polls
   * for readiness), so only what ended before this moment was surely answered while it was down.
   */
  startingAt?: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function submit(base: string, n: number, t0: number): Promise<Submit> {
  const startedAt = Date.now() - t0;
  try {
    const res = await fetch(`${base}/api/v1/generate`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        prompt: `outage flood #${n}`,
        model: "local/abstract",
        parameters: { width: 64, height: 64, num_inference_steps: 5 },
      }),
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
    const text = await res.text();
    const endedAt = Date.now() - t0;
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      return {
        startedAt,
        endedAt,
        status: res.status,
        note: `non-JSON body: ${text.slice(0, 200)}`,
      };
    }
    const b = body as { job_id?: unknown; error?: { code?: unknown; message?: unknown } };
    if (res.status === 202 && typeof b.job_id === "string") {
      return { startedAt, endedAt, status: 202, jobId: b.job_id };
    }
    const code = typeof b.error?.code === "string" ? b.error.code : undefined;
    return {
      startedAt,
      endedAt,
      status: res.status,
      code,
      retryAfter: res.headers.get("retry-after"),
      note: code === undefined
        ? `unexpected body: ${text.slice(0, 200)}`
        : String(b.error?.message),
    };
  } catch (err) {
    return { startedAt, endedAt: Date.now() - t0, status: 0, note: String(err) };
  }
}

/** `loops` clients submitting back to back (with a short pause) until `durationMs` has passed. */
async function flood(base: string, t0: number): Promise<Submit[]> {
  const results: Submit[] = [];
  let n = 0;
  await Promise.all(Array.from({ length: LOOPS }, async () => {
    while (Date.now() - t0 < FLOOD_MS) {
      results.push(await submit(base, n++, t0));
      await sleep(PAUSE_MS);
    }
  }));
  return results;
}

/** Polls `GET /health` every 250 ms until stopped. */
function monitorHealth(base: string, t0: number) {
  const samples: HealthSample[] = [];
  let stopped = false;
  const done = (async () => {
    while (!stopped) {
      const at = Date.now() - t0;
      try {
        const res = await fetch(`${base}/api/v1/health`, { signal: AbortSignal.timeout(5000) });
        const body = await res.json().catch(() => undefined) as { status?: string } | undefined;
        samples.push({ at, status: res.status, body: body?.status });
      } catch {
        samples.push({ at, status: 0 });
      }
      await sleep(250);
    }
  })();
  return {
    samples,
    async stop() {
      stopped = true;
      await done;
    },
  };
}

interface Completion {
  counts: Record<string, number>;
  /** From the service's return to the first start of a job accepted while it was down (ms). */
  downJobFirstStartMs: number | null;
  /** Last `completed_at` of the accepted jobs, relative to the flood's start (ms). */
  lastCompletedAt: number | null;
  /** Longest created→completed time of the jobs submitted after the outage (ms). */
  freshMaxLatencyMs: number | null;
  /** When the first job submitted after recovery completed, from the recovery (ms). */
  firstFreshCompletedMs: number | null;
  /** The first completion after recovery, from the recovery (ms). */
  resumedAfterMs: number | null;
  stuck: { id: string; status: string; error_message: string | null; retry_count: number }[];
}

async function completion(
  db: Db,
  ids: string[],
  t0: number,
  outage: Outage,
): Promise<Completion> {
  const upAt = outage.upAt;
  const list = ids.join(",");
  const rows = await db.query<{ status: string; n: number }>(sql`
    SELECT status, count(*)::int AS n FROM jobs
    WHERE id = ANY(string_to_array(${list}, ',')::uuid[]) GROUP BY status`);
  const counts: Record<string, number> = {};
  for (const r of rows) counts[r.status] = r.n;
  const found = rows.reduce((s, r) => s + r.n, 0);
  if (found < ids.length) counts.missing = ids.length - found;
  const up = (t0 + upAt) / 1000;
  const down = (t0 + outage.downAt) / 1000;
  const [times] = await db.query<
    {
      last: number | null;
      fresh: number | null;
      firstFresh: number | null;
      resumed: number | null;
      downStart: number | null;
    }
  >(sql`
    SELECT
      (extract(epoch FROM min(started_at)
        FILTER (WHERE created_at >= to_timestamp(${down}) AND created_at < to_timestamp(${up})))
        * 1000)::float8 AS "downStart",
      (extract(epoch FROM max(completed_at)) * 1000)::float8 AS last,
      (extract(epoch FROM max(completed_at - created_at)
        FILTER (WHERE created_at >= to_timestamp(${up}))) * 1000)::float8 AS fresh,
      (extract(epoch FROM min(completed_at)
        FILTER (WHERE created_at >= to_timestamp(${up}))) * 1000)::float8 AS "firstFresh",
      (extract(epoch FROM min(completed_at)
        FILTER (WHERE completed_at >= to_timestamp(${up}))) * 1000)::float8 AS resumed
    FROM jobs WHERE id = ANY(string_to_array(${list}, ',')::uuid[])`);
  const stuck = await db.query<Completion["stuck"][number]>(sql`
    SELECT id, status, error_message, retry_count FROM jobs
    WHERE id = ANY(string_to_array(${list}, ',')::uuid[]) AND status <> 'completed'
    ORDER BY created_at LIMIT 5`);
  return {
    counts,
    downJobFirstStartMs: times?.downStart == null
      ? null
      : Math.round(times.downStart - (t0 + upAt)),
    lastCompletedAt: times?.last == null ? null : Math.round(times.last - t0),
    freshMaxLatencyMs: times?.fresh == null ? null : Math.round(times.fresh),
    firstFreshCompletedMs: times?.firstFresh == null
      ? null
      : Math.round(times.firstFresh - (t0 + upAt)),
    resumedAfterMs: times?.resumed == null ? null : Math.round(times.resumed - (t0 + upAt)),
    stuck,
  };
}

/** Waits until every id is finished (or `deadline`, epoch ms), then reports. */
async function waitForJobs(
  db: Db,
  ids: string[],
  t0: number,
  outage: Outage,
  deadline: number,
): Promise<Completion> {
  while (true) {
    let report: Completion | undefined;
    try {
      report = await completion(db, ids, t0, outage);
      const unfinished = (report.counts.pending ?? 0) + (report.counts.processing ?? 0);
      if (unfinished === 0 && !report.counts.missing) return report;
    } catch {
      // The database may still be coming back; try again.
    }
    if (Date.now() > deadline) return report ?? await completion(db, ids, t0, outage);
    await sleep(500);
  }
}

/** Where BullMQ holds a job (its hash fields and the sets listing it), for failure reports. */
async function queueState(redisUrl: string, prefix: string, id: string): Promise<string> {
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 1, lazyConnect: true });
  redis.on("error", () => {});
  try {
    const key = `${prefix}:generate`;
    const hash = await redis.hgetall(`${key}:${id}`);
    const where: string[] = [];
    for (const list of ["wait", "active", "paused"]) {
      if ((await redis.lpos(`${key}:${list}`, id)) !== null) where.push(list);
    }
    for (const set of ["delayed", "prioritized", "completed", "failed"]) {
      if ((await redis.zscore(`${key}:${set}`, id)) !== null) where.push(set);
    }
    const fields = ["attemptsMade", "processedOn", "finishedOn", "failedReason", "stc", "atm"];
    const shown = Object.fromEntries(fields.filter((f) => f in hash).map((f) => [f, hash[f]]));
    return `queue: in [${where.join(",")}] hash ${JSON.stringify(shown)} lock ${
      await redis.exists(`${key}:${id}:lock`) ? "held" : "none"
    }`;
  } catch (err) {
    return `queue: cannot inspect (${(err as Error).message})`;
  } finally {
    redis.disconnect();
  }
}

function countLines(output: string, pattern: RegExp): number {
  return output.split("\n").filter((l) => pattern.test(l)).length;
}

/** Distinct error messages of log lines matching `pattern` (first few). */
function logSamples(output: string, pattern: RegExp, max = 5): string[] {
  const seen = new Set<string>();
  for (const line of output.split("\n")) {
    if (!pattern.test(line)) continue;
    seen.add(line.slice(0, 400));
    if (seen.size >= max) break;
  }
  return [...seen];
}

interface ScenarioOptions {
  name: string;
  databaseUrl: string;
  redisUrl: string;
  /** Takes the service down at `OUTAGE_AT_MS` and back; returns when (relative to t0). */
  outage: (t0: number) => Promise<Outage>;
  /** Every accepted job must be completed this long after the service is back (ms). */
  completionBoundMs: number;
  /**
   * What the API must do while the service is down: `accept` (Redis: the jobs wait in Postgres;
   * no 5xx, health degraded) or `refuse` (Postgres: 503 with Retry-After, health 503).
   */
  whileDown: "accept" | "refuse";
  /** The failing service's log, for failure messages. */
  serviceLog?: () => Promise<string>;
}

async function runScenario(options: ScenarioOptions): Promise<void> {
  const storage = await Deno.makeTempDir({ prefix: "darkroom-outage-" });
  const env = serviceEnv({
    databaseUrl: options.databaseUrl,
    storagePath: storage,
    extra: {
      REDIS_URL: options.redisUrl,
      RECONCILE_INTERVAL_S: "1",
      RECONCILE_STALE_S: "5",
      // The flood must reach the queue, not the submit limit; a huge limit still runs the
      // (Redis-backed) limiter on every request.
      RATE_LIMIT_PER_MINUTE: "1000000",
    },
  });
  const base = `http://127.0.0.1:${env.PORT}`;
  const db = connectPostgres(options.databaseUrl, { max: 2 });
  let api: ServiceProcess | undefined;
  let worker: ServiceProcess | undefined;
  let workerExited: Deno.CommandStatus | undefined;
  let apiExited: Deno.CommandStatus | undefined;
  try {
    const migrated = await runTask(["migrate"], env);
    assert.equal(migrated.code, 0, migrated.output);
    api = await startService("api", env);
    worker = await startService("worker", env);
    api.child.status.then((s) => void (apiExited = s));
    worker.child.status.then((s) => void (workerExited = s));
    await waitForHttp(`${base}/api/v1/health`, 30_000, api);
    // Wait for the worker's heartbeat so "ok" before and after can be compared.
    const ready = Date.now() + 20_000;
    while ((await (await fetch(`${base}/api/v1/health`)).json()).status !== "ok") {
      if (Date.now() > ready) throw new Error(`worker never reported\n${worker.output()}`);
      await sleep(200);
    }

    const t0 = Date.now();
    const health = monitorHealth(base, t0);
    const [submits, outage] = await Promise.all([flood(base, t0), options.outage(t0)]);
    const floodEndedAt = Date.now() - t0;

    const accepted = submits.filter((s) => s.status === 202);
    const ids = accepted.map((s) => s.jobId!);
    const done = await waitForJobs(
      db,
      ids,
      t0,
      outage,
      t0 + outage.upAt + options.completionBoundMs,
    );
    // Health after everything settled: the worker's heartbeat must be back too.
    const settle = Date.now() + HEALTH_RECOVERY_BOUND_MS;
    while (health.samples.at(-1)?.body !== "ok" && Date.now() < settle) await sleep(250);
    await health.stop();

    const by = (f: (s: Submit) => boolean) => submits.filter(f).length;
    const unavailable = submits.filter((s) => s.status === 503);
    const other5xx = submits.filter((s) => s.status >= 500 && s.status !== 503);
    const networkErrors = submits.filter((s) => s.status === 0);
    const unexpected = submits.filter((s) => s.status !== 202 && s.status !== 503);
    const badBodies = submits.filter((s) => s.status !== 202 && s.code === undefined);
    // A 202 for a request that started and ended while the service was down is a lie.
    const acceptedWhileDown = accepted.filter((s) =>
      s.startedAt > outage.downAt + 500 && s.endedAt < (outage.startingAt ?? outage.upAt)
    );
    const healthDown = health.samples.filter((h) =>
      h.at >= outage.downAt && h.at < outage.upAt && h.status === 503
    );
    const healthDegraded = health.samples.filter((h) =>
      h.at >= outage.downAt && h.at < outage.upAt && h.status === 200 &&
      h.body === "degraded"
    );
    // Submits sent once the service accepts connections again must all be accepted.
    const refusedAfterUp = submits.filter((s) => s.startedAt >= outage.upAt && s.status !== 202);
    const without503Hint = unavailable.filter((s) => !s.retryAfter);
    const health5xxOther = health.samples.filter((h) => h.status >= 500 && h.status !== 503);
    const firstHealthyAfter = health.samples.find((h) => h.at >= outage.upAt && h.status === 200);
    const firstAcceptAfter = accepted
      .filter((s) => s.startedAt >= outage.upAt)
      .sort((a, b) => a.endedAt - b.endedAt)[0];
    const completed = done.counts.completed ?? 0;

    const figures = {
      scenario: options.name,
      outage_ms: { down_at: outage.downAt, up_at: outage.upAt, flood_ended_at: floodEndedAt },
      requests: submits.length,
      accepted_202: accepted.length,
      completed,
      job_states: done.counts,
      unavailable_503: unavailable.length,
      other_5xx: other5xx.length,
      other_status: unexpected.length - other5xx.length - networkErrors.length,
      network_errors_or_timeouts: networkErrors.length,
      error_bodies_not_json_shape: badBodies.length,
      accepted_while_down: acceptedWhileDown.length,
      max_503_latency_ms: Math.max(0, ...unavailable.map((s) => s.endedAt - s.startedAt)),
      max_latency_ms: Math.max(0, ...submits.map((s) => s.endedAt - s.startedAt)),
      slower_than_5s: by((s) => s.endedAt - s.startedAt > 5000),
      submits_by_phase: {
        before: by((s) => s.startedAt < outage.downAt),
        during: by((s) => s.startedAt >= outage.downAt && s.startedAt < outage.upAt),
        after: by((s) => s.startedAt >= outage.upAt),
      },
      health_503_while_down: healthDown.length,
      health_degraded_while_down: healthDegraded.length,
      refused_after_up: refusedAfterUp.length,
      kept_jobs_first_start_ms: done.downJobFirstStartMs,
      health_samples: health.samples.length,
      recovery_ms: {
        health_200: firstHealthyAfter ? firstHealthyAfter.at - outage.upAt : null,
        first_202: firstAcceptAfter ? firstAcceptAfter.endedAt - outage.upAt : null,
        last_job_completed: done.lastCompletedAt === null
          ? null
          : done.lastCompletedAt - outage.upAt,
        fresh_job_max_latency: done.freshMaxLatencyMs,
        worker_resumed: done.resumedAfterMs,
        first_fresh_job_completed: done.firstFreshCompletedMs,
      },
      final_health: health.samples.at(-1),
      worker_requeue_rounds: countLines(worker.output(), /re-queued unfinished jobs/),
      worker_unexpected_failures: countLines(worker.output(), /job attempt failed unexpectedly/),
      worker_dead_lettered: countLines(worker.output(), /dead-lettered/),
      api_unhandled_errors: countLines(api.output(), /unhandled error/),
    };
    console.log(JSON.stringify(figures));
    const problems = [
      ...other5xx.slice(0, 3).map((s) => `other 5xx: ${JSON.stringify(s)}`),
      ...unexpected.filter((s) => s.status < 500).slice(0, 3).map((s) =>
        `unexpected: ${JSON.stringify(s)}`
      ),
      ...badBodies.slice(0, 3).map((s) => `bad body: ${JSON.stringify(s)}`),
      ...(await Promise.all(done.stuck.map(async (j) =>
        [
          `not completed: ${JSON.stringify(j)}`,
          `  ${await queueState(options.redisUrl, env.QUEUE_PREFIX, j.id)}`,
          ...logSamples(worker!.output(), new RegExp(j.id), 12).map((l) => `  worker: ${l}`),
        ].join("\n")
      ))),
      ...logSamples(api.output(), /unhandled error/).map((l) => `api log: ${l}`),
      ...logSamples(worker.output(), /dead-lettered|failed unexpectedly|"level":"error"/).map(
        (l) => `worker log: ${l}`,
      ),
    ];
    if (problems.length > 0) console.log(problems.join("\n"));

    assert.equal(apiExited, undefined, `the api exited during the outage\n${api.output()}`);
    assert.equal(
      workerExited,
      undefined,
      `the worker exited during the outage\n${worker.output()}`,
    );
    assert.ok(accepted.length > 0, "no job was accepted at all");
    assert.equal(other5xx.length, 0, "5xx other than 503 answered");
    assert.equal(networkErrors.length, 0, "requests failed without an HTTP answer (or timed out)");
    assert.equal(unexpected.length, 0, "statuses other than 202 and 503 answered");
    assert.equal(badBodies.length, 0, "non-202 answers without the JSON error shape");
    assert.equal(health5xxOther.length, 0, "health answered a 5xx other than 503");
    if (options.whileDown === "accept") {
      assert.equal(unavailable.length, 0, "a submit was refused although Postgres was up");
      assert.ok(acceptedWhileDown.length > 0, "no job was accepted while Redis was down");
      assert.equal(healthDown.length, 0, "health answered 503 although the API takes jobs");
      assert.ok(healthDegraded.length > 0, "health never said degraded while Redis was down");
      assert.ok(
        done.downJobFirstStartMs !== null && done.downJobFirstStartMs <= KEPT_START_BOUND_MS,
        `the jobs kept while Redis was down started ${done.downJobFirstStartMs} ms after it ` +
          `returned (bound ${KEPT_START_BOUND_MS} ms)`,
      );
    } else {
      assert.ok(unavailable.length > 0, "the outage was never answered with 503");
      assert.equal(without503Hint.length, 0, "a 503 without Retry-After");
      assert.equal(acceptedWhileDown.length, 0, "jobs accepted while the service was down");
      assert.ok(healthDown.length > 0, "health never answered 503 while the service was down");
      assert.deepEqual(
        refusedAfterUp.slice(0, 3),
        [],
        "submits refused after the service accepted connections again",
      );
    }
    assert.ok(
      firstHealthyAfter && firstHealthyAfter.at - outage.upAt <= HEALTH_RECOVERY_BOUND_MS,
      `health did not answer 200 within ${HEALTH_RECOVERY_BOUND_MS} ms of recovery`,
    );
    assert.equal(
      figures.final_health?.body,
      "ok",
      "health did not return to ok (worker heartbeat)",
    );
    assert.ok(firstAcceptAfter, "no job accepted after the service came back");
    assert.ok(
      done.resumedAfterMs !== null && done.resumedAfterMs <= RESUME_BOUND_MS,
      `the worker completed no job within ${RESUME_BOUND_MS} ms of recovery ` +
        `(worker did not reconnect?)\n${worker.output().slice(-4000)}`,
    );
    assert.equal(
      completed,
      accepted.length,
      `only ${completed} of ${accepted.length} accepted jobs completed within ` +
        `${options.completionBoundMs} ms of recovery: ${JSON.stringify(done.counts)}`,
    );
  } catch (err) {
    if (options.serviceLog) console.log((await options.serviceLog()).slice(-3000));
    throw err;
  } finally {
    await worker?.stop().catch(() => {});
    await api?.stop().catch(() => {});
    // OUTAGE_LOG_DIR=/some/dir keeps both processes' full logs for a post-mortem.
    const logDir = Deno.env.get("OUTAGE_LOG_DIR");
    if (logDir) {
      for (const proc of [api, worker]) {
        if (proc) {
          await Deno.writeTextFile(`${logDir}/${options.name}-${proc.role}.log`, proc.output());
        }
      }
    }
    await db.close(1).catch(() => {});
    await Deno.remove(storage, { recursive: true }).catch(() => {});
  }
}

Deno.test({
  name:
    "outage: Redis stopped for 10 s during a submit flood → every submit accepted, all complete",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const database = await createTestDatabase();
    let redis: PrivateRedis | undefined;
    try {
      redis = await startPrivateRedis();
      const r = redis;
      await runScenario({
        name: "redis-10s",
        databaseUrl: database.url,
        redisUrl: r.url,
        outage: async (t0) => {
          await sleep(t0 + OUTAGE_AT_MS - Date.now());
          await r.stop(); // restarts empty: --save "" --appendonly no
          const downAt = Date.now() - t0;
          await sleep(t0 + 15_000 - Date.now());
          await r.start();
          return { downAt, upAt: Date.now() - t0 };
        },
        // Jobs queued in the lost Redis (it restarts empty) come back through the worker's
        // maintenance loop (RECONCILE_STALE_S); those accepted meanwhile, through the outbox.
        completionBoundMs: 45_000,
        whileDown: "accept",
      });
    } finally {
      await redis?.close();
      await database.drop();
    }
  },
});

Deno.test({
  name: "outage: Postgres stopped for 5 s during a submit flood → 503s, then every job completes",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    let redis: PrivateRedis | undefined;
    let pg: PrivatePostgres | undefined;
    try {
      redis = await startPrivateRedis();
      pg = await startPrivatePostgres();
      const p = pg;
      await runScenario({
        name: "postgres-stop-5s",
        databaseUrl: p.url,
        redisUrl: redis.url,
        outage: async (t0) => {
          await sleep(t0 + OUTAGE_AT_MS - Date.now());
          await p.stop("fast");
          const downAt = Date.now() - t0;
          await sleep(5_000);
          const startingAt = Date.now() - t0;
          await p.start();
          return { downAt, upAt: Date.now() - t0, startingAt };
        },
        completionBoundMs: 60_000,
        whileDown: "refuse",
        serviceLog: () => p.log(),
      });
    } finally {
      await pg?.close();
      await redis?.close();
    }
  },
});
