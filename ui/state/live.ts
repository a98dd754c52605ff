/**
 * Wiring of the page to the server: the API key, the API client, the live feed, models, title,
 * job actions and toasts.
 */
import { effect, signal, untracked } from "@preact/signals";
import {
  ApiError,
  connectLiveFeed,
  createApiClient,
  type FeedState,
  type HealthJson,
  type JobJson,
  type ModelsJson,
  withAccessToken,
} from "../api_client.ts";
import { browserKeyStores, createAuth, type Session } from "./auth.ts";
import { clearConnectionError } from "./form.ts";
import { startClock } from "./clock.ts";
import { truncate } from "./format.ts";
import { retryBrokenImages } from "./images.ts";
import { afterAction, isFinished, isRunning, jobsStore } from "./jobs.ts";
import { closeLightbox, leaveDeletedJob, lightbox } from "./lightbox.ts";
import { announce, showToast } from "./toasts.ts";

function apiBase(): string {
  if (typeof document === "undefined") return "/api/v1";
  const meta = document.querySelector<HTMLMetaElement>('meta[name="darkroom:api"]');
  return meta?.content || "/api/v1";
}

/** The page's API key (kept in the browser's storage, checked with `GET /me`). */
export const auth = createAuth({ stores: browserKeyStores(), me: (key) => api.me(key) });

/** The page's API client: every call sends the key; a 401 opens the key prompt. */
export const api = createApiClient({
  base: apiBase(),
  key: () => auth.key(),
  onUnauthorized: (sentKey) => auth.unauthorized(sentKey),
});

export const feedState = signal<FeedState>("connecting");
export const models = signal<ModelsJson | null>(null);
export const modelsError = signal<string | null>(null);
export const health = signal<HealthJson | null>(null);
/** Bumped when lists should refetch: the live feed came back after a gap, or a job was deleted. */
export const resyncTick = signal(0);

const BASE_TITLE = "Darkroom";

/** "(2) Darkroom" while two jobs run. */
export function titleFor(running: number): string {
  return running > 0 ? `(${running}) ${BASE_TITLE}` : BASE_TITLE;
}

/** Applies a job from the server and reports finished ones (toast only when the tab is hidden). */
export function receiveJob(job: JobJson): void {
  const { previous, changed } = jobsStore.upsert(job);
  if (!changed || !previous || !isRunning(previous.status) || !isFinished(job.status)) return;
  const what = `“${truncate(job.prompt, 60)}”`;
  const verb = job.status === "completed" ? "finished" : job.status;
  announce(`Job ${what} ${verb}`);
  if (typeof document !== "undefined" && document.hidden) {
    showToast({
      kind: job.status === "completed" ? "success" : job.status === "failed" ? "error" : "info",
      title: job.status === "completed"
        ? "Image ready"
        : job.status === "failed"
        ? "Job failed"
        : "Job canceled",
      body: job.status === "failed" && job.error_message
        ? `${truncate(job.prompt, 60)}: ${truncate(job.error_message, 120)}`
        : truncate(job.prompt, 80),
      jobId: job.id,
    }, 10_000);
  }
}

/** True once calls can be made: the API is open, or the key in use works. */
export function sessionReady(): boolean {
  return auth.session.value.phase === "ready";
}

let modelsLoading: Promise<void> | null = null;

/** Loads models (once at a time; waits for the key check, which loads them when it passes). */
export function loadModels(): Promise<void> {
  if (!sessionReady()) return Promise.resolve();
  modelsLoading ??= (async () => {
    try {
      models.value = await api.models();
      modelsError.value = null;
    } catch (err) {
      modelsError.value = (err as Error).message;
    } finally {
      modelsLoading = null;
    }
  })();
  return modelsLoading;
}

/** Loads health (for the header indicator). */
export async function loadHealth(): Promise<void> {
  await probeServer();
}

/**
 * Loads health; resolves true when the server answered at all (the live feed's probe while its
 * stream is down: a server answering again after it could not be reached reopens the stream).
 */
export async function probeServer(): Promise<boolean> {
  try {
    health.value = await api.health();
    return true;
  } catch (err) {
    // A refused key says nothing about the service; the key prompt handles it.
    if (err instanceof ApiError && err.status === 401) return true;
    health.value = { status: "unavailable", checks: {} };
    return err instanceof ApiError && err.status !== 0;
  }
}

/**
 * The live feed is back after a gap: refetch what may have been missed and drop what no longer
 * holds (the health shown, a form error about the connection, images that failed meanwhile, a
 * failed model list).
 */
export function healAfterOutage(): void {
  resyncTick.value++;
  void primeJobs();
  void loadHealth();
  clearConnectionError();
  if (typeof document !== "undefined") retryBrokenImages(document);
  if (modelsError.value || !models.value) void loadModels();
}

/** Fetches the recent and the running jobs, so the title count and queue view start right. */
export async function primeJobs(): Promise<void> {
  const epoch = auth.session.value.epoch;
  const lists = await Promise.allSettled([
    api.listJobs({ skip: 0, limit: 24 }),
    api.listJobs({ skip: 0, limit: 100, status: "processing" }),
    api.listJobs({ skip: 0, limit: 100, status: "pending" }),
  ]);
  // Answers for a key that was replaced or forgotten meanwhile are dropped.
  if (auth.session.value.epoch !== epoch) return;
  for (const r of lists) if (r.status === "fulfilled") jobsStore.upsertMany(r.value.jobs);
}

let started = false;
let stopFeed: (() => void) | undefined;
/** Prefix of the key the held jobs belong to ("" for none); undefined while nobody signed in. */
let owner: string | undefined;

/** Follows the key: the feed runs only while calls can be made; another key starts afresh. */
function followSession(s: Session): void {
  if (stopFeed) {
    stopFeed();
    stopFeed = undefined;
    feedState.value = "connecting";
  }
  if (s.phase === "locked" && s.reason === "signed_out") {
    jobsStore.clear();
    if (lightbox.value) closeLightbox();
    owner = undefined;
  }
  if (s.phase !== "ready") return;
  const who = s.key?.prefix ?? "";
  if (owner !== undefined && owner !== who) jobsStore.clear();
  owner = who;
  stopFeed = connectLiveFeed({
    url: () => withAccessToken(`${apiBase()}/events`, auth.key()),
    client: api,
    onJob: receiveJob,
    onJobDeleted: forgetJob,
    onState: (state) => feedState.value = state,
    runningIds: () => jobsStore.running.value.filter((j) => !j.local).map((j) => j.id),
    onResync: healAfterOutage,
    // While the stream is down, health is asked every 1.5 s: the header says what is wrong, and
    // the stream reopens as soon as the server answers again.
    probe: () => document.hidden ? Promise.resolve(false) : probeServer(),
    // EventSource does not say why it was refused: a revoked key shows up on /me.
    onRefused: () => void (auth.key() && api.me().catch(() => {})),
  });
  void primeJobs();
  if (!models.value) void loadModels();
}

/**
 * Checks the key, then runs the live feed while it works; also the title counter, the clock of
 * relative times and the periodic health check (once per page).
 */
export function startLive(): void {
  if (started) return;
  started = true;
  startClock();
  effect(() => {
    const s = auth.session.value;
    untracked(() => followSession(s));
  });
  void auth.check();
  void loadHealth();
  setInterval(() => {
    if (!document.hidden) void loadHealth();
  }, 30_000);
  effect(() => {
    document.title = titleFor(jobsStore.running.value.length);
  });
}

/** Cancel or retry: the card changes at once, and changes back if the API refuses. */
async function jobAction(kind: "cancel" | "retry", id: string): Promise<void> {
  const held = jobsStore.byId.value.get(id);
  const shown = held && !held.local ? afterAction(held, kind) : undefined;
  if (shown) jobsStore.upsert(shown);
  try {
    const job = await (kind === "cancel" ? api.cancel(id) : api.retry(id));
    receiveJob(job ?? await api.getJob(id));
    announce(kind === "cancel" ? "Job canceled" : "Job queued again");
  } catch (err) {
    if (held && shown && jobsStore.byId.value.get(id) === shown) jobsStore.upsert(held);
    const status = err instanceof ApiError ? err.status : 0;
    // 409: the job moved on (e.g. it completed meanwhile): show where it is now.
    if (status === 409) api.getJob(id).then(receiveJob).catch(() => {});
    if (status === 401) return; // the key prompt says it
    showToast({
      kind: "error",
      title: kind === "cancel" ? "Cannot cancel" : "Cannot retry",
      body: (err as Error).message,
    });
  }
}

/** Asks the API to cancel a job (offered when `job.actions.cancel`). */
export function cancelJob(id: string): Promise<void> {
  return jobAction("cancel", id);
}

/** Asks the API to run a failed job again (offered when `job.actions.retry`). */
export function retryJob(id: string): Promise<void> {
  return jobAction("retry", id);
}

/** A job is gone (deleted here or elsewhere): off the store, out of the lightbox, lists refetch. */
export function forgetJob(id: string): void {
  const held = jobsStore.byId.value.has(id);
  // For good, even when not held: a list read still in flight must not bring it back.
  jobsStore.remove(id);
  if (!held) return;
  leaveDeletedJob(id, (other) => jobsStore.byId.value.has(other));
  resyncTick.value++;
}

/** Deletes a job and its images (offered when `job.actions.delete`; the caller confirms first). */
export async function deleteJob(id: string): Promise<void> {
  const held = jobsStore.byId.value.get(id);
  forgetJob(id);
  try {
    await api.deleteJob(id);
    announce("Job deleted");
  } catch (err) {
    const status = err instanceof ApiError ? err.status : 0;
    if (status === 404) return; // gone already
    if (held && !jobsStore.byId.value.has(id)) {
      jobsStore.restore(held);
      resyncTick.value++;
    }
    if (status === 401) return;
    showToast({ kind: "error", title: "Cannot delete", body: (err as Error).message });
  }
}
