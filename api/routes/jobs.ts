/**
 * Jobs: submit (POST /generate, idempotent with Idempotency-Key), read (GET /status/:id,
 * /jobs/:id), list (GET /jobs) and control (cancel, retry, delete).
 */
import { type Context, Hono } from "hono";
import { AppError, NotFoundError, UnavailableError, ValidationError } from "../../shared/errors.ts";
import { sha256Hex } from "../../shared/hash.ts";
import { jobToJson } from "../../shared/jobs/json.ts";
import { removeImages } from "../../shared/media/thumbnails.ts";
import {
  batchedAddJob,
  batchedGetJob,
  cancelJob,
  countActiveJobs,
  deleteJob,
  deleteJobReturning,
  insertJobOnce,
  type NewJob,
  resetForRetry,
  SUBMIT_DEADLINE_MS,
} from "../../shared/jobs/repo.ts";
import { PRIORITIES } from "../../shared/queue/queue.ts";
import {
  canonicalJson,
  generateRequest,
  IDEMPOTENCY_KEY,
  issueDetails,
  isUuid,
  LIMITS,
} from "../../shared/jobs/schemas.ts";
import { listDeliveries } from "../../shared/webhooks/deliveries.ts";
import { webhookUrlProblem } from "../../shared/webhooks/target.ts";
import type { ModelCatalogue } from "../../shared/models/catalogue.ts";
import { checkInputs, claimInputUploads, linkInputUploads } from "../../shared/models/inputs.ts";
import { createJobListing } from "../../shared/jobs/listing.ts";
import type { JobTimings } from "../../shared/jobs/timing.ts";
import { withSeed } from "../../shared/models/seed.ts";
import type { AppDeps, AppEnv } from "../app.ts";
import { canSee, enforceRate, principalOf } from "../auth.ts";
import { readJsonBody } from "../body.ts";

/** Routes mounted under the API prefix. */
export function jobRoutes(
  deps: AppDeps & { models: ModelCatalogue; timings: JobTimings },
): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const prefix = deps.config.API_V1_PREFIX;
  const timings = deps.timings;
  /** The job JSON with what is known of its timing. */
  const shown = (row: Parameters<typeof jobToJson>[0]) => jobToJson(row, timings.of(row));
  // Concurrent submits share one INSERT (group commit); an idle API sends each at once.
  const addPending = batchedAddJob(deps.db);
  // Concurrent reads by id share one SELECT in the same way.
  const readJob = batchedGetJob(deps.db);
  const list = createJobListing(deps.db, timings);

  /** Removes a job the queue refused and tells the client 503. */
  const unqueued = async (job: NewJob, err: unknown, log: AppDeps["logger"]): Promise<never> => {
    log.warn("cannot enqueue job; removing it", { jobId: job.id, err });
    await deleteJob(deps.db, job.id).catch((e) =>
      log.error("cannot remove unqueued job", { jobId: job.id, err: e })
    );
    throw new UnavailableError("The job queue is unavailable; the job was not accepted");
  };

  /** Queues a job already stored; when the queue refuses, the job is removed (503). */
  const enqueue = async (job: NewJob, requestId: string, log: AppDeps["logger"]) => {
    try {
      await deps.queue.enqueue({ jobId: job.id, requestId }, {
        priority: PRIORITIES[job.priority ?? "normal"],
      });
    } catch (err) {
      await unqueued(job, err, log);
    }
  };

  /**
   * Stores and queues a new job at once: the INSERT (group commit) and the enqueue travel
   * together, so a submit waits for the slower of the two instead of both in turn. The message
   * says until when its row may still be committing, and a worker that hears of the job first
   * waits for the row. Either failing undoes the other once both have settled: a refused INSERT
   * takes its message back, a refused enqueue removes the row; the client hears 503 or the
   * INSERT's error, and nothing is left behind.
   */
  const store = async (job: NewJob, requestId: string, log: AppDeps["logger"]) => {
    const message = {
      jobId: job.id,
      requestId,
      // The INSERT gives up after SUBMIT_DEADLINE_MS; the margin covers clocks a little apart.
      insertDeadline: Date.now() + SUBMIT_DEADLINE_MS + 2000,
    };
    const [inserted, queued] = await Promise.allSettled([
      addPending(job),
      deps.queue.enqueue(message, { priority: PRIORITIES[job.priority ?? "normal"] }),
    ]);
    if (inserted.status === "rejected") {
      if (queued.status === "fulfilled") {
        // A worker that took it already finds no row by the deadline and drops it.
        await deps.queue.remove(job.id).catch((err) =>
          log.warn("cannot take back the message of a job not stored", { jobId: job.id, err })
        );
      }
      throw inserted.reason;
    }
    if (queued.status === "rejected") await unqueued(job, queued.reason, log);
  };

  const accepted = (id: string, replayed = false) => ({
    body: {
      job_id: id,
      status: "pending",
      message: replayed
        ? "Job already accepted for this Idempotency-Key"
        : "Job accepted and queued",
    },
    location: `${prefix}/status/${id}`,
  });

  app.post("/generate", async (c) => {
    const log = c.get("logger");
    const requestId = c.get("requestId");
    const principal = principalOf(c);
    const security = deps.security;
    if (security) {
      await enforceRate(c, security.limiter, principal.subject, security.submitsPerMinute);
    }
    const idemKey = c.req.header("idempotency-key");
    if (idemKey !== undefined && !IDEMPOTENCY_KEY.test(idemKey)) {
      throw new ValidationError("Idempotency-Key must be 1–255 visible ASCII characters", [
        { field: "Idempotency-Key", message: "invalid header value" },
      ]);
    }
    const raw = await readJsonBody(c, LIMITS.bodyBytes);
    if (raw === null || typeof raw !== "object" || Array.isArray(raw)) {
      throw new ValidationError("Request body must be a JSON object");
    }
    const parsed = generateRequest.safeParse(raw);
    if (!parsed.success) {
      throw new ValidationError("Request body is invalid", issueDetails(parsed.error));
    }
    const input = parsed.data;
    const resolved = deps.providers.resolve(input.model);
    if ("error" in resolved) {
      throw new ValidationError(resolved.error, [{ field: "model", message: resolved.error }]);
    }
    // The inputs against the model's schema (no I/O once it is known), then the uploads named.
    const checked = await checkInputs(deps.models, input, {
      provider: resolved.provider.name,
      log,
    });
    await claimInputUploads(deps.db, input.parameters, checked.uploads, {
      admin: principal.admin,
      keyId: principal.key?.id ?? null,
    });
    const owner = principal.key?.id ?? null;
    if (input.webhook_url) {
      const problem = webhookUrlProblem(input.webhook_url, deps.config.WEBHOOK_ALLOW_HOSTS ?? []);
      if (problem !== null) {
        throw new ValidationError(`webhook_url ${problem}`, [
          { field: "webhook_url", message: problem },
        ]);
      }
      if (!owner && !deps.config.WEBHOOK_SECRET) {
        const message = "Webhooks need a signing secret: set WEBHOOK_SECRET (or use an API key)";
        throw new ValidationError(message, [{ field: "webhook_url", message }]);
      }
    }
    if (owner && security && security.maxActiveJobs > 0) {
      const active = await countActiveJobs(deps.db, owner);
      if (active >= security.maxActiveJobs) {
        c.header("Retry-After", "5");
        throw new AppError(
          429,
          "rate_limited",
          `This key already has ${active} unfinished jobs (limit ${security.maxActiveJobs})`,
        );
      }
    }
    const job: NewJob = {
      id: crypto.randomUUID(),
      owner_key_id: owner,
      webhook_url: input.webhook_url ?? null,
      webhook_events: input.webhook_events ?? null,
      prompt: input.prompt,
      negative_prompt: input.negative_prompt ?? null,
      model: input.model,
      // A model with a seed input always gets one, so the image can be made again.
      parameters: withSeed(input.parameters, checked.card),
      provider: resolved.provider.name,
      priority: input.priority,
      request_id: requestId,
    };
    if (idemKey === undefined) {
      await store(job, requestId, log);
    } else {
      const requestHash = await sha256Hex(canonicalJson(input));
      const result = await insertJobOnce(deps.db, job, {
        owner: owner ?? "",
        key: idemKey,
        requestHash,
      });
      if (!result.created) {
        if (result.existing.request_hash !== requestHash) {
          throw new AppError(
            409,
            "idempotency_conflict",
            "This Idempotency-Key was used with a different request body",
          );
        }
        const again = accepted(result.existing.job_id, true);
        c.header("Location", again.location);
        c.header("Idempotent-Replayed", "true");
        return c.json(again.body, 202);
      }
      await enqueue(job, requestId, log);
    }
    await linkInputUploads(deps.db, job.id, checked.uploads, log);
    log.info("job accepted", { jobId: job.id, model: job.model });
    const created = accepted(job.id);
    c.header("Location", created.location);
    return c.json(created.body, 202);
  });

  /** The job, if it exists and the caller may see it (another key's job is a plain 404). */
  const findJob = async (c: Context<AppEnv>, id: string) => {
    if (!isUuid(id)) throw new NotFoundError(`Job ${id.slice(0, 100)} not found`);
    const row = await readJob(id.toLowerCase());
    if (!row || !canSee(principalOf(c), row)) throw new NotFoundError(`Job ${id} not found`);
    return row;
  };

  /** One job for a read, with its ETA and place in the line. */
  const readShown = async (c: Context<AppEnv>, id: string) => {
    const row = await findJob(c, id);
    await timings.ready([row]);
    return shown(row);
  };
  app.get("/status/:id", async (c) => c.json(await readShown(c, c.req.param("id"))));
  app.get("/jobs/:id", async (c) => c.json(await readShown(c, c.req.param("id"))));

  app.get("/jobs", async (c) => {
    const principal = principalOf(c);
    const page = await list(c.req.query(), {
      owner: principal.admin ? undefined : principal.key?.id,
      collectionOwner: principal.key?.id ?? null,
    });
    c.header("X-Total-Count", String(page.total));
    if (page.estimated) c.header("X-Total-Count-Estimated", "true");
    if (page.next !== null) {
      const next = new URL(c.req.url);
      next.searchParams.delete("skip");
      next.searchParams.set("cursor", page.next);
      c.header("X-Next-Cursor", page.next);
      c.header("Link", `<${next.pathname}${next.search}>; rel="next"`);
    }
    return c.body(page.body, 200, { "Content-Type": "application/json" });
  });

  app.post("/jobs/:id/cancel", async (c) => {
    const job = await findJob(c, c.req.param("id"));
    const canceled = await cancelJob(deps.db, job.id);
    if (!canceled) {
      throw new AppError(409, "conflict", `Job ${job.id} is already ${job.status}`);
    }
    // Queued: take it off the queue. Running: the worker sees the status at its next poll and
    // cancels the prediction at the provider.
    await deps.queue.remove(job.id).catch(() => false);
    c.get("logger").info("job canceled", { jobId: job.id });
    return c.json(shown(canceled));
  });

  app.post("/jobs/:id/retry", async (c) => {
    const job = await findJob(c, c.req.param("id"));
    if (job.status !== "failed" && job.status !== "canceled") {
      throw new AppError(
        409,
        "conflict",
        `Only failed or canceled jobs can be retried (job is ${job.status})`,
      );
    }
    // Clear any dead letter with this id so the queue takes it again.
    await deps.queue.remove(job.id).catch(() => false);
    const reset = await resetForRetry(deps.db, job.id);
    if (!reset) throw new AppError(409, "conflict", `Job ${job.id} changed; try again`);
    await removeImages(deps.storage, job.images);
    try {
      await deps.queue.enqueue({ jobId: job.id, requestId: c.get("requestId") }, {
        priority: PRIORITIES[reset.priority],
      });
    } catch {
      // Keep the job retryable rather than stuck pending.
      await cancelJob(deps.db, job.id).catch(() => {});
      throw new UnavailableError("The job queue is unavailable; try again shortly");
    }
    c.get("logger").info("job retried", { jobId: job.id });
    return c.json(shown(reset), 202);
  });

  app.get("/jobs/:id/webhooks", async (c) => {
    const job = await findJob(c, c.req.param("id"));
    const deliveries = await listDeliveries(deps.db, job.id);
    return c.json(deliveries.map((d) => ({
      id: d.id,
      event: d.event,
      url: d.url,
      state: d.state,
      attempts: d.attempts,
      last_status: d.last_status,
      last_error: d.last_error,
      next_attempt_at: d.state === "pending" ? new Date(d.next_attempt_at).toISOString() : null,
      created_at: new Date(d.created_at).toISOString(),
      delivered_at: d.delivered_at ? new Date(d.delivered_at).toISOString() : null,
    })));
  });

  app.delete("/jobs/:id", async (c) => {
    const job = await findJob(c, c.req.param("id"));
    await deps.queue.remove(job.id).catch(() => false);
    const deleted = await deleteJobReturning(deps.db, job.id);
    if (!deleted) throw new NotFoundError(`Job ${job.id} not found`);
    await removeImages(deps.storage, deleted.images);
    c.get("logger").info("job deleted", { jobId: job.id });
    return c.body(null, 204);
  });

  return app;
}
