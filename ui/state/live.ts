/** Wiring of the page to the server: the API client, the live feed, models, title and toasts. */
import { effect, signal } from "@preact/signals";
import {
  connectLiveFeed,
  createApiClient,
  type FeedState,
  type HealthJson,
  type JobJson,
  type ModelsJson,
} from "../api_client.ts";
import { truncate } from "./format.ts";
import { isFinished, isRunning, jobsStore } from "./jobs.ts";
import { announce, showToast } from "./toasts.ts";

function apiBase(): string {
  if (typeof document === "undefined") return "/api/v1";
  const meta = document.querySelector<HTMLMetaElement>('meta[name="darkroom:api"]');
  return meta?.content || "/api/v1";
}

/** The page's API client. */
export const api = createApiClient({ base: apiBase() });

export const feedState = signal<FeedState>("connecting");
export const models = signal<ModelsJson | null>(null);
export const modelsError = signal<string | null>(null);
export const health = signal<HealthJson | null>(null);
/** Bumped when the live feed comes back after a gap, so lists refetch. */
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

/** Loads models once. */
export async function loadModels(): Promise<void> {
  try {
    models.value = await api.models();
    modelsError.value = null;
  } catch (err) {
    modelsError.value = (err as Error).message;
  }
}

/** Loads health (for the header indicator). */
export async function loadHealth(): Promise<void> {
  try {
    health.value = await api.health();
  } catch {
    health.value = { status: "unavailable", checks: {} };
  }
}

/** Fetches the recent and the running jobs, so the title count and queue view start right. */
export async function primeJobs(): Promise<void> {
  const lists = await Promise.allSettled([
    api.listJobs({ skip: 0, limit: 24 }),
    api.listJobs({ skip: 0, limit: 100, status: "processing" }),
    api.listJobs({ skip: 0, limit: 100, status: "pending" }),
  ]);
  for (const r of lists) if (r.status === "fulfilled") jobsStore.upsertMany(r.value.jobs);
}

let started = false;

/** Starts the live feed, the title counter and the periodic health check (once per page). */
export function startLive(): void {
  if (started) return;
  started = true;
  connectLiveFeed({
    url: `${apiBase()}/events`,
    client: api,
    onJob: receiveJob,
    onJobDeleted: (id) => jobsStore.remove(id),
    onState: (s) => feedState.value = s,
    runningIds: () => jobsStore.running.value.filter((j) => !j.local).map((j) => j.id),
    onResync: () => {
      resyncTick.value++;
      void primeJobs();
    },
  });
  void primeJobs();
  void loadHealth();
  setInterval(() => {
    if (!document.hidden) void loadHealth();
  }, 30_000);
  effect(() => {
    document.title = titleFor(jobsStore.running.value.length);
  });
}

async function jobAction(kind: "cancel" | "retry", id: string): Promise<void> {
  try {
    const job = await (kind === "cancel" ? api.cancel(id) : api.retry(id));
    receiveJob(job ?? await api.getJob(id));
    announce(kind === "cancel" ? "Cancel requested" : "Job queued again");
  } catch (err) {
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
