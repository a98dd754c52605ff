/**
 * Jobs: submit (POST /generate, idempotent with Idempotency-Key), read (GET /status/:id,
 * /jobs/:id), list (GET /jobs) and control (cancel, retry, delete).
 */
import { type Context, Hono } from "hono";
import { AppError, NotFoundError, ValidationError } from "../../shared/errors.ts";
import { sha256Hex } from "../../shared/hash.ts";
import { jobToJson } from "../../shared/jobs/json.ts";
import { removeImages } from "../../shared/media/thumbnails.ts";
import {
  addJob,
  batchedGetJob,
  cancelJob,
  countActiveJobs,
  deleteJob,
  deleteJobReturning,
  insertJobOnce,
  isTerminal,
  type NewJob,
  resetForRetry,
} from "../../shared/jobs/repo.ts";
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
import { budgetErrorOf } from "../../shared/spend/budgets.ts";
import { createPricing, estimateUsd } from "../../shared/spend/pricing.ts";
import { planSubmitSpend } from "../../shared/spend/submit.ts";
import { createJobListing } from "../../shared/jobs/listing.ts";
import type { JobTimings } from "../../shared/jobs/timing.ts";
import { withSeed } from "../../shared/models/seed.ts";
import type { AppDeps, AppEnv } from "../app.ts";
import { canSee, enforceRate, principalOf } from "../auth.ts";
import { readJsonBody } from "../body.ts";
import { createJobWaiters, parsePreferWait } from "../wait_for_job.ts";
import { createJobStore } from "../job_store.ts";

/** Routes mounted under the API prefix. */
export function jobRoutes(
  deps: AppDeps & { models: ModelCatalogue; timings: JobTimings },
): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const prefix = deps.config.API_V1_PREFIX;
  const timings = deps.timings;
  /** The job JSON with what is known of its timing. */
  const shown = (row: Parameters<typeof jobToJson>[0]) => jobToJson(row, timings.of(row));
  // Concurrent reads by id share one SELECT.
  const readJob = batchedGetJob(deps.db);
  // GET /jobs: search, filters, cursors; identical requests share a read, totals cached 1 s.
  const list = createJobListing(deps.db, timings);
  const pricing = deps.pricing ?? createPricing();
  // Submits with `Prefer: wait=N` wait for their job on the live feed, without a connection.
  const waiters = createJobWaiters(deps.events, deps.config.MAX_WAITING_SUBMITS ?? 1000);

  // Stores and queues new jobs; keeps them in the outbox while the queue is away.
  const jobs = createJobStore(deps);

  /**
   * Stores a job that reserves part of its key's budget, then queues it: the INSERT's trigger
   * refuses it past the budget (402), before anything is queued. A refused enqueue removes the
   * row, which releases the reservation.
   */
  const storeReserved = async (job: NewJob, requestId: string, log: AppDeps["logger"]) => {
    await addJob(deps.db, job);
    await queueOrRemove(job, requestId, log);
  };

  /**
   * Queues a job stored already (kept in the outbox while the queue is away); when neither
   * works, the row is removed (its reservation and idempotency key with it) and the client
   * hears 503.
   */
  const queueOrRemove = async (job: NewJob, requestId: string, log: AppDeps["logger"]) => {
    await jobs.queueStored(job, requestId, log).catch(async (err) => {
      await deleteJob(deps.db, job.id).catch((e) =>
        log.error("cannot remove unqueued job", { jobId: job.id, err: e })
      );
      throw err;
    });
  };

  /** The answer for a job that is already finished: the job, with `job_id` as a 202 has it. */
  const finishedAnswer = async (
    c: Context<AppEnv>,
    id: string,
    status: 200 | 201,
    headers: Record<string, string> = {},
  ) => {
    const row = await readJob(id);
    if (!row || !isTerminal(row.status)) return null;
    return c.json({ job_id: row.id, ...jobToJson(row) }, status, {
      Location: `${prefix}/status/${id}`,
      ...headers,
    });
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
      const details = issueDetails(parsed.error);
      // A name-shaped model passes the schema (it may be an alias): say now if it is unknown too.
      const model = (raw as Record<string, unknown>).model;
      if (typeof model === "string" && !details.some((d) => d.field === "model")) {
        const resolved = deps.providers.resolve(model.trim());
        if ("error" in resolved) details.push({ field: "model", message: resolved.error });
      }
      throw new ValidationError("Request body is invalid", details);
    }
    const input = parsed.data;
    const resolved = deps.providers.resolve(input.model);
    if ("error" in resolved) {
      throw new ValidationError(resolved.error, [{ field: "model", message: resolved.error }]);
    }
    // The inputs against the model's schema (no I/O once it is known), then the uploads named.
    const route = "route" in resolved ? resolved.route : undefined;
    const checked = await checkInputs(deps.models, input, {
      provider: resolved.provider.name,
      route,
      // fal's jobs are checked as they will be sent: mapped from Replicate's words to fal's.
      sent: route === undefined && resolved.provider.name === "fal"
        ? deps.providers.targets?.(input.model, input.parameters)[0]?.parameters
        : undefined,
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
    const spend = await planSubmitSpend({ db: deps.db, pricing }, input, {
      owner,
      budgetUsd: principal.key?.budget_usd,
      dedupeWindowS: deps.config.DEDUPE_WINDOW_S ?? 3600,
    });
    if (spend.twinId) {
      // The same request completed recently: its images, at no cost.
      const twin = await finishedAnswer(c, spend.twinId, 200, { Deduplicated: "true" });
      if (twin) {
        log.info("job deduplicated", { jobId: spend.twinId });
        return twin;
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
      // A route's job is placed by the worker (the first target that takes it).
      provider_model: resolved.route ? null : input.model,
      route: resolved.route ?? null,
      inputs_validated: checked.validated,
      priority: input.priority,
      request_id: requestId,
      reserved_usd: spend.reservedUsd,
      dedupe_hash: spend.dedupeHash,
    };
    const waitS = parsePreferWait(c.req.header("prefer"));
    // Waiting starts before the job is stored, so not even an instant job is missed.
    const waiting = waitS === null ? null : waiters.wait(job.id, waitS * 1000);
    try {
      if (idemKey === undefined) {
        await (job.reserved_usd
          ? storeReserved(job, requestId, log)
          : jobs.store(job, requestId, log));
      } else {
        const requestHash = await sha256Hex(canonicalJson(input));
        const result = await insertJobOnce(deps.db, job, {
          owner: owner ?? "",
          key: idemKey,
          requestHash,
        });
        if (!result.created) {
          waiting?.cancel();
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
        await queueOrRemove(job, requestId, log);
      }
    } catch (err) {
      waiting?.cancel();
      throw budgetErrorOf(err) ?? err;
    }
    await linkInputUploads(deps.db, job.id, checked.uploads, log);
    log.info("job accepted", { jobId: job.id, model: job.model });
    if (waiting) {
      c.header("Preference-Applied", `wait=${waitS}`);
      // Woken by the live feed, or at the deadline: the job as it is now, if it is finished.
      await waiting.finished;
      const done = await finishedAnswer(c, job.id, 201);
      if (done) return done;
    }
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
    // A new run is paid again: reserved against the owner's budget (not when its key has none).
    const caller = principalOf(c).key;
    const unbudgeted = caller?.id === job.owner_key_id && caller.budget_usd == null;
    const reserve = job.owner_key_id && !unbudgeted
      ? estimateUsd(pricing, job.model, job.parameters)
      : 0;
    const reset = await resetForRetry(deps.db, job.id, reserve).catch((err) => {
      throw budgetErrorOf(err) ?? err;
    });
    if (!reset) throw new AppError(409, "conflict", `Job ${job.id} changed; try again`);
    await removeImages(deps.storage, job.images);
    try {
      // Queued, or kept in the outbox until the queue is back.
      await jobs.queueStored(reset, c.get("requestId"), c.get("logger"));
    } catch (err) {
      // Keep the job retryable rather than stuck pending.
      await cancelJob(deps.db, job.id).catch(() => {});
      throw err;
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
