/**
 * One job, start to finish: resume or create the provider prediction, wait for it while
 * reporting progress, store every output, and record the result. Retryable failures are handed
 * back to the queue (which retries with backoff); permanent ones fail the job at once.
 */
import type { Db } from "../shared/db/db.ts";
import { DownloadError, PredictionNotFoundError, ProviderError } from "../shared/errors.ts";
import {
  clearPrediction,
  directWorkerQueries,
  getJob,
  isTerminal,
  type JobRow,
  type JobStatus,
  markFailed,
  markRetrying,
  setProviderQueuePosition,
  type StoredImage,
  type WorkerQueries,
} from "../shared/jobs/repo.ts";
import type { Logger } from "../shared/logger.ts";
import type { Metrics } from "../shared/metrics.ts";
import { parseProgress } from "../shared/providers/progress.ts";
import { isFinished, type Prediction, type Provider } from "../shared/providers/provider.ts";
import type { ProviderRegistry } from "../shared/providers/registry.ts";
import { createOnFirst, type Placement } from "../shared/providers/routes.ts";
import { type DeliveryContext, type QueueMessage, RetryLaterError } from "../shared/queue/queue.ts";
import { removeImages, withThumbnail } from "../shared/media/thumbnails.ts";
import { findOrphanPrediction } from "../shared/spend/orphans.ts";
import { countSpend, predictionSpend } from "../shared/spend/job_spend.ts";
import { createPricing, type Pricing } from "../shared/spend/pricing.ts";
import { settingsChunks } from "../shared/media/png_metadata.ts";
import type { Storage } from "../shared/storage/storage.ts";
import { type ImageInputDeps, providerParameters } from "../shared/uploads/resolve.ts";
import {
  firstPollDelayMs,
  nextPollDelayMs,
  pollDelayMs,
  type ProgressSample,
  type RunTimes,
} from "./poll_schedule.ts";

export interface ProcessDeps {
  db: Db;
  providers: ProviderRegistry;
  storage: Storage;
  logger: Logger;
  /** Image inputs also read PUBLIC_BASE_URL, UPLOAD_* and ALLOW_PRIVATE_DOWNLOADS when set. */
  config: { MAX_IMAGE_BYTES: number; PREDICTION_DEADLINE_S: number } & ImageInputDeps["config"];
  /** How image inputs are fetched and signed (defaults from `config` and the database). */
  imageInputs?: Pick<ImageInputDeps, "imageFetch" | "signer">;
  metrics?: Metrics;
  /** Prices for each job's estimated cost (the built-in table when omitted). */
  pricing?: Pricing;
  /** The per-job statements; a worker shares them between its running jobs (batched). */
  queries?: WorkerQueries;
  /** Recent run times by kind of prediction: the first poll waits for the usual end. */
  runTimes?: RunTimes;
  /**
   * Early wake-ups from provider webhooks; with them, polling is only a slow fallback for the
   * providers in `providers` (every provider when it is omitted).
   */
  wakeups?: {
    sleep(predictionId: string, ms: number, signal: AbortSignal): Promise<void>;
    providers?: ReadonlySet<string>;
  };
  /** Waits `ms` or until the signal aborts (tests may speed it up). */
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  now?: () => number;
}

function queriesOf(deps: ProcessDeps): WorkerQueries {
  return deps.queries ?? directWorkerQueries(deps.db);
}

const builtinPricing = createPricing();

/** The job was canceled or deleted while it ran: stop quietly. */
class JobStopped extends Error {}

/** The provider holding a job's prediction, and the model it was created for there. */
interface Holder {
  provider: Provider;
  model: string;
}

/** Records duration and outcome of a job this process finished (no extra query). */
function recordOutcome(deps: ProcessDeps, job: JobRow, status: JobStatus | null): void {
  if (!deps.metrics || !status) return;
  const started = job.started_at ? new Date(job.started_at).getTime() : Date.now();
  deps.metrics.jobDuration.observe({ model: job.model, status }, (Date.now() - started) / 1000);
  deps.metrics.jobsFinished.inc({ model: job.model, status });
}

/** The queue handler for one message. */
export async function processJob(
  deps: ProcessDeps,
  message: QueueMessage,
  ctx: DeliveryContext,
): Promise<void> {
  const log = deps.logger.child({ jobId: message.jobId, requestId: message.requestId });
  const job = await claimWhenStored(deps, message, ctx.signal, log);
  if (!job) return;
  const provider = deps.providers.byName(job.provider);
  // A route's job not placed yet may go to any configured target (see resumeOrCreate).
  if (!provider && !(job.route && !job.provider_prediction_id)) {
    const variable = job.provider === "fal" ? "FAL_KEY" : "REPLICATE_API_TOKEN";
    await markFailed(
      deps.db,
      job.id,
      `Provider ${job.provider} is not configured on the worker: set ${variable}`,
    );
    return;
  }
  log.info("job started", { attempt: ctx.attempt, model: job.model });
  // started_at equals updated_at only when this statement started the job for the first time.
  const firstStart = job.started_at !== null &&
    new Date(job.started_at).getTime() === new Date(job.updated_at).getTime();
  if (firstStart && job.retry_count === 0) {
    deps.metrics?.queueWait.observe(
      { model: job.model },
      Math.max(0, (Date.now() - new Date(job.created_at).getTime()) / 1000),
    );
  }
  // A job that ran before (a retry, a crash, a shutdown) may have a prediction whose create
  // answer never arrived: it is looked for before a new one is paid for.
  const ranBefore = !firstStart || job.retry_count > 0;
  let finished: JobStatus | null = null;
  try {
    finished = await run(deps, job, provider, ctx.signal, log, ranBefore);
  } catch (err) {
    if (err instanceof JobStopped) {
      log.info("job stopped", { reason: err.message });
      return;
    }
    finished = await handleFailure(deps, job, err, ctx, log);
  } finally {
    recordOutcome(deps, job, finished);
  }
}

/**
 * Claims the job: one statement moves it pending/processing → processing and returns the row.
 * A submit sends the message while the job's INSERT is still committing, so a worker may hear
 * of a job before its row exists: until the message's `insertDeadline` the claim is tried again
 * (after 5 ms, 10 ms, … at most 250 ms apart). Resolves null when there is nothing to run.
 */
async function claimWhenStored(
  deps: ProcessDeps,
  message: QueueMessage,
  signal: AbortSignal,
  log: Logger,
): Promise<JobRow | null> {
  const sleep = deps.sleep ?? abortableSleep;
  const now = deps.now ?? Date.now;
  for (let waitMs = 5;; waitMs = Math.min(waitMs * 2, 250)) {
    const job = await queriesOf(deps).claim(message.jobId);
    if (job) return job;
    const existing = await getJob(deps.db, message.jobId);
    if (existing && isTerminal(existing.status)) {
      log.info("job already finished; skipping", { status: existing.status });
      return null;
    }
    const late = message.insertDeadline === undefined || now() + waitMs > message.insertDeadline;
    if (!existing && late) {
      log.warn("job not found; dropping message");
      return null;
    }
    // Not stored yet, or its INSERT committed between the two reads: claim again shortly.
    await sleep(waitMs, signal);
  }
}

async function run(
  deps: ProcessDeps,
  job: JobRow,
  provider: Provider | undefined,
  signal: AbortSignal,
  log: Logger,
  ranBefore: boolean,
): Promise<JobStatus | null> {
  const { prediction, created, holder } = await resumeOrCreate(
    deps,
    job,
    provider,
    signal,
    log,
    ranBefore,
  );
  const done = await waitForPrediction(deps, job, holder, prediction, created, signal, log);
  const pricing = deps.pricing ?? builtinPricing;
  if (done.status === "succeeded") {
    if (done.output.length === 0) {
      throw new ProviderError("Prediction succeeded with no output", false);
    }
    const images = await storeOutputs(deps, job, holder.provider, done, signal, log);
    const spend = predictionSpend(pricing, job, done, images.length);
    if (!(await queriesOf(deps).complete(job.id, images, spend))) {
      await discardImages(deps, job.id, images, log);
      return null;
    }
    countSpend(deps.metrics, job, spend);
    log.info("job completed", { predictionId: done.id, images: images.length });
    return "completed";
  }
  const message = done.status === "failed"
    ? `Prediction failed: ${done.error ?? "the provider gave no reason"}`
    : done.status === "aborted"
    ? "Prediction was aborted by the provider (deadline reached)"
    : "Prediction was canceled at the provider";
  // A failed or canceled prediction may still have run (and be billed) for a while.
  const spend = predictionSpend(pricing, job, done, 0);
  const failed = await markFailed(deps.db, job.id, message, "failed", spend);
  if (failed) countSpend(deps.metrics, job, spend);
  log.warn("job failed at the provider", { predictionId: done.id, status: done.status });
  return failed ? "failed" : null;
}

/**
 * The job was canceled or deleted while its outputs were being stored: the images belong to
 * nothing, so they are removed. Not when another delivery of the same job completed it: that job
 * points at the same file names.
 */
async function discardImages(
  deps: ProcessDeps,
  jobId: string,
  images: StoredImage[],
  log: Logger,
): Promise<void> {
  const current = await getJob(deps.db, jobId);
  if (current?.status === "completed") return;
  await removeImages(deps.storage, images);
  log.info("job stopped while its outputs were stored; removed them", {
    status: current?.status ?? "deleted",
    images: images.length,
  });
}

/** The prediction a job waits on, whether this attempt created it, and who holds it. */
interface Started {
  prediction: Prediction;
  created: boolean;
  holder: Holder;
}

async function resumeOrCreate(
  deps: ProcessDeps,
  job: JobRow,
  provider: Provider | undefined,
  signal: AbortSignal,
  log: Logger,
  ranBefore: boolean,
): Promise<Started> {
  if (job.provider_prediction_id && provider) {
    // The provider that holds it keeps the job, whatever its route says (nothing billed twice).
    const holder = { provider, model: job.provider_model ?? job.model };
    try {
      const resumed = await provider.get(job.provider_prediction_id, {
        signal,
        model: holder.model,
      });
      log.info("resuming prediction", { predictionId: resumed.id, status: resumed.status });
      return { prediction: resumed, created: false, holder };
    } catch (err) {
      if (!(err instanceof PredictionNotFoundError)) throw err;
      log.warn("stored prediction is gone; creating a new one", {
        predictionId: job.provider_prediction_id,
      });
      await clearPrediction(deps.db, job.id);
    }
  } else if (ranBefore && provider && !job.route) {
    // A plain model's earlier attempt may have created a prediction whose answer was lost.
    const holder = { provider, model: job.model };
    const orphan = await findOrphanPrediction(deps.db, provider, job, signal).catch((err) => {
      if (signal.aborted) throw err;
      log.warn("cannot look for a prediction created by an earlier attempt", { err });
      return null;
    });
    if (orphan) {
      await queriesOf(deps).setPrediction(job.id, orphan.id);
      log.info("resuming prediction whose create answer was lost", { predictionId: orphan.id });
      // Listed predictions may leave fields out: read it whole.
      const resumed = await provider.get(orphan.id, { signal });
      return { prediction: resumed, created: false, holder };
    }
  }
  // A plain model has one target; a route's targets are tried in order, moving on only when a
  // target never accepted the request (shared/providers/routes.ts).
  const targets: Placement<Provider>[] = deps.providers.targets?.(job.model, job.parameters) ??
    (provider ? [{ provider, model: job.model, parameters: job.parameters }] : []);
  const { result: created, target } = await createOnFirst(
    targets,
    async (t) =>
      t.provider.create({
        model: t.model,
        prompt: job.prompt,
        negative_prompt: job.negative_prompt,
        // Image inputs (uploads, https URLs) in a form the provider can read.
        parameters: await providerParameters(
          { ...deps, ...deps.imageInputs },
          { ...job, parameters: t.parameters, provider: t.provider.name },
          signal,
        ),
      }, { signal, deadlineS: deps.config.PREDICTION_DEADLINE_S }),
    (t, err) =>
      log.warn("route target did not take the job; trying the next", {
        route: job.route,
        provider: t.provider.name,
        model: t.model,
        err,
      }),
  );
  // Stored at once, with who holds it: from here on a crash resumes, never creates again.
  await queriesOf(deps).setPrediction(job.id, created.id, {
    provider: target.provider.name,
    model: target.model,
  });
  log.info("prediction created", {
    predictionId: created.id,
    provider: target.provider.name,
    ...(job.route ? { route: job.route, model: target.model } : {}),
  });
  return {
    prediction: created,
    created: true,
    holder: { provider: target.provider, model: target.model },
  };
}

/** Predictions of one kind (provider, model, parameters) usually take about as long. */
function kindOf(job: JobRow, holder: Holder): string {
  return `${holder.provider.name}\n${job.model}\n${JSON.stringify(job.parameters)}`;
}

async function waitForPrediction(
  deps: ProcessDeps,
  job: JobRow,
  holder: Holder,
  first: Prediction,
  createdNow: boolean,
  signal: AbortSignal,
  log: Logger,
): Promise<Prediction> {
  const sleep = deps.sleep ?? abortableSleep;
  const now = deps.now ?? Date.now;
  // The provider enforces the deadline (Cancel-After); this is the worker's own backstop.
  const giveUpAt = now() + (deps.config.PREDICTION_DEADLINE_S + 60) * 1000;
  const queries = queriesOf(deps);
  const { provider, model } = holder;
  let prediction = first;
  let lastProgress = job.progress;
  // The place in the provider's own queue (fal), written when it changes.
  let queuePosition = job.provider_queue_position;
  const reportQueue = async (p: Prediction) => {
    const position = p.status === "starting" && p.queuePosition !== undefined
      ? p.queuePosition
      : null;
    if (position === queuePosition) return;
    queuePosition = position;
    await setProviderQueuePosition(deps.db, job.id, position);
  };
  await reportQueue(prediction);
  /** Progress seen so far, for the expected end (the first and the latest few are kept). */
  const samples: ProgressSample[] = [];
  for (let poll = 0; !isFinished(prediction.status); poll++) {
    if (now() > giveUpAt) {
      await provider.cancel(prediction.id, { model }).catch(() => {});
      throw new ProviderError(
        `Prediction ${prediction.id} did not finish within ${deps.config.PREDICTION_DEADLINE_S} s`,
        false,
      );
    }
    // A provider whose progress costs nothing to read is asked at its pace: every step shows.
    const pace = (ms: number) => Math.min(ms, provider.progressPollMs ?? Infinity);
    if (deps.wakeups && (deps.wakeups.providers?.has(provider.name) ?? true)) {
      // Webhooks announce the end: poll four times less often, but wake at once when told.
      await deps.wakeups.sleep(
        prediction.id,
        pace(Math.min(15_000, pollDelayMs(poll) * 4)),
        signal,
      );
    } else if (poll === 0 && createdNow) {
      // Just created: no progress yet, but the last runs of its kind say when it may end.
      await sleep(
        pace(firstPollDelayMs(deps.runTimes?.expectedMs(kindOf(job, holder)) ?? null)),
        signal,
      );
    } else await sleep(pace(nextPollDelayMs(poll, samples)), signal);
    prediction = await provider.get(prediction.id, { signal, model });
    // A finished prediction goes straight to its outputs: the statement that completes the job
    // (progress 100) or fails it tells whether it is still wanted (see `run`); no check-in first.
    if (isFinished(prediction.status)) break;
    await reportQueue(prediction);
    const progress = parseProgress(prediction.logs);
    let report: number | null = null;
    if (progress !== null) {
      samples.push({ at: now(), percent: progress });
      if (samples.length > 8) samples.splice(1, 1);
      if (Math.abs(progress - lastProgress) >= 1) report = lastProgress = progress;
    }
    // One statement records the progress and tells whether the job is still wanted.
    const status = await queries.checkIn(job.id, report);
    if (status !== "processing") {
      // Still running (a finished one left the loop above): stop paying for it.
      await provider.cancel(prediction.id, { model }).catch(() => {});
      log.info("prediction canceled at the provider", { predictionId: prediction.id });
      throw new JobStopped(`job is ${status ?? "deleted"}`);
    }
  }
  if (prediction.status === "succeeded" && prediction.runMs !== undefined) {
    deps.runTimes?.record(kindOf(job, holder), prediction.runMs);
  }
  log.debug("prediction finished", { predictionId: prediction.id, status: prediction.status });
  return prediction;
}

async function storeOutputs(
  deps: ProcessDeps,
  job: JobRow,
  provider: Provider,
  prediction: Prediction,
  signal: AbortSignal,
  log: Logger,
): Promise<StoredImage[]> {
  // Downloads run in parallel: the provider's links expire, so take them all at once.
  return await Promise.all(prediction.output.map(async (ref, index) => {
    const response = await provider.openOutput(ref, { signal });
    if (!response.body) throw new DownloadError(`Output ${index} has no body`, true);
    const length = Number(response.headers.get("content-length") ?? NaN);
    if (Number.isFinite(length) && length > deps.config.MAX_IMAGE_BYTES) {
      await response.body.cancel().catch(() => {});
      throw new DownloadError(
        `Output ${index} is ${length} bytes, over MAX_IMAGE_BYTES (${deps.config.MAX_IMAGE_BYTES})`,
        false,
      );
    }
    const image = await deps.storage.save(response.body, {
      name: `${job.id}-${index}`,
      maxBytes: deps.config.MAX_IMAGE_BYTES,
      signal,
      expectedBytes: Number.isFinite(length) ? length : undefined,
      // The job's settings travel inside every PNG (JPEG and WebP are stored as made).
      pngChunks: (size) =>
        settingsChunks({
          prompt: job.prompt,
          negative_prompt: job.negative_prompt,
          model: job.model,
          parameters: job.parameters,
          job_id: job.id,
        }, size),
    });
    // Stored beside the image; a thumbnail that cannot be made is logged, never fatal.
    return await withThumbnail(deps.storage, image, log);
  }));
}

function isRetryable(err: unknown): boolean {
  if (err instanceof ProviderError || err instanceof DownloadError) return err.retryable;
  // fetch's network failures and timeouts.
  if (err instanceof TypeError) return true;
  if (err instanceof DOMException) return err.name === "TimeoutError" || err.name === "AbortError";
  return false;
}

async function handleFailure(
  deps: ProcessDeps,
  job: JobRow,
  err: unknown,
  ctx: DeliveryContext,
  log: Logger,
): Promise<JobStatus | null> {
  const message = err instanceof Error ? err.message : String(err);
  const known = err instanceof ProviderError || err instanceof DownloadError;
  if (ctx.signal.aborted) {
    // Shutting down: hand the job back untouched so another worker resumes the prediction.
    log.info("job released on shutdown", { err });
    throw err;
  }
  if (known && !isRetryable(err)) {
    const failed = await markFailed(deps.db, job.id, message);
    log.warn("job failed", { err });
    return failed ? "failed" : null;
  }
  if (!isRetryable(err) && !known) {
    // Unknown errors (a database hiccup, a bug): let the queue retry, but never loop forever.
    log.error("job attempt failed unexpectedly", { err, attempt: ctx.attempt });
    if (ctx.attempt >= ctx.maxAttempts) {
      const failed = await markFailed(
        deps.db,
        job.id,
        `Failed after ${ctx.attempt} attempts: ${message}`,
      );
      return failed ? "failed" : null;
    }
    await markRetrying(deps.db, job.id, message).catch(() => {});
    throw err;
  }
  if (ctx.attempt >= ctx.maxAttempts) {
    const failed = await markFailed(
      deps.db,
      job.id,
      `Failed after ${ctx.attempt} attempts: ${message}`,
    );
    log.warn("job failed after its last attempt", { err, attempt: ctx.attempt });
    return failed ? "failed" : null;
  }
  await markRetrying(deps.db, job.id, `Attempt ${ctx.attempt} failed, retrying: ${message}`);
  log.warn("job attempt failed; retrying", { err, attempt: ctx.attempt });
  const hint = err instanceof ProviderError ? err.retryAfterMs : undefined;
  if (err instanceof ProviderError && err.status === 429) {
    // Throttled: every worker slows down together instead of hammering the provider.
    await ctx.pauseAll(hint ?? 5000).catch(() => {});
  }
  if (hint !== undefined) throw new RetryLaterError(message, hint);
  throw err;
}

/** setTimeout as a promise that rejects when `signal` aborts. */
export function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    signal.addEventListener("abort", onAbort, { once: true });
  });
}
