/** The jobs store: every job the page knows, keyed by id, shared by all islands. */
import { batch, computed, type ReadonlySignal, signal } from "@preact/signals";
import type { JobStatus } from "../../shared/jobs/repo.ts";
import type { GenerateBody, JobJson } from "../api_client.ts";

/** A job as the page holds it; `local` marks an optimistic placeholder not yet confirmed. */
export interface Job extends JobJson {
  local?: boolean;
  /** When the job should be done (ms since the epoch): `eta_s` from the moment it arrived. */
  eta_at?: number;
}

export interface UpsertResult {
  /** The job held before, if any. */
  previous: Job | undefined;
  /** False when the incoming JSON was stale or identical. */
  changed: boolean;
}

export interface JobsStore {
  readonly byId: ReadonlySignal<ReadonlyMap<string, Job>>;
  /** All jobs, newest first. */
  readonly sorted: ReadonlySignal<Job[]>;
  /** Pending and processing jobs, newest first. */
  readonly running: ReadonlySignal<Job[]>;
  /** 1-based queue position of each pending job (oldest pending first). */
  readonly queuePositions: ReadonlySignal<ReadonlyMap<string, number>>;
  upsert(job: Job): UpsertResult;
  upsertMany(jobs: Job[]): void;
  /**
   * Forgets a job for good: upserts of it are ignored afterwards, so a list read that started
   * before a delete and answers after it cannot bring the job back.
   */
  remove(id: string): void;
  /** Takes back a `remove` (the delete was refused) and holds `job` again. */
  restore(job: Job): void;
  /** Forgets every job (another key signed in, or the key was forgotten). */
  clear(): void;
  /** Inserts a placeholder for a job being submitted; returns its local id. */
  addOptimistic(body: GenerateBody, now?: number): string;
  /** Swaps the placeholder for the server's id (keeping a newer server copy if one arrived). */
  confirmOptimistic(localId: string, jobId: string): void;
}

export function isRunning(status: JobStatus): boolean {
  return status === "pending" || status === "processing";
}

export function isFinished(status: JobStatus): boolean {
  return status === "completed" || status === "failed" || status === "canceled";
}

/** Newest first by creation time, then by id so the order is stable. */
export function newestFirst(a: Job, b: Job): number {
  const d = Date.parse(b.created_at) - Date.parse(a.created_at);
  if (d) return d;
  return a.id < b.id ? 1 : a.id > b.id ? -1 : 0;
}

function isStale(held: Job, incoming: Job): boolean {
  if (held.local || incoming.local) return false;
  const a = Date.parse(held.updated_at);
  const b = Date.parse(incoming.updated_at);
  if (b < a) return true;
  return b === a && held.status === incoming.status && held.progress === incoming.progress &&
    held.images.length === incoming.images.length && held.starred === incoming.starred &&
    held.actions?.cancel === incoming.actions?.cancel &&
    held.actions?.retry === incoming.actions?.retry &&
    held.actions?.delete === incoming.actions?.delete;
}

let localCounter = 0;

/** Creates an empty store (the page uses the shared `jobsStore`; tests make their own clock). */
export function createJobsStore(now: () => number = Date.now): JobsStore {
  const byId = signal<ReadonlyMap<string, Job>>(new Map());
  const sorted = computed(() => [...byId.value.values()].sort(newestFirst));
  const running = computed(() => sorted.value.filter((j) => isRunning(j.status)));
  const queuePositions = computed(() => {
    const pending = running.value.filter((j) => j.status === "pending").reverse();
    return new Map(pending.map((j, i) => [j.id, i + 1]));
  });

  /** Ids removed for good (deleted jobs: they never come back). */
  const removed = new Set<string>();

  function apply(map: Map<string, Job>, job: Job): UpsertResult {
    if (removed.has(job.id)) return { previous: undefined, changed: false };
    const previous = map.get(job.id);
    if (previous && isStale(previous, job)) return { previous, changed: false };
    map.set(
      job.id,
      typeof job.eta_s === "number" ? { ...job, eta_at: now() + job.eta_s * 1e3 } : job,
    );
    return { previous, changed: true };
  }

  return {
    byId,
    sorted,
    running,
    queuePositions,
    upsert(job) {
      const map = new Map(byId.value);
      const result = apply(map, job);
      if (result.changed) byId.value = map;
      return result;
    },
    upsertMany(jobs) {
      if (!jobs.length) return;
      const map = new Map(byId.value);
      let changed = false;
      for (const job of jobs) changed = apply(map, job).changed || changed;
      if (changed) byId.value = map;
    },
    remove(id) {
      removed.add(id);
      if (!byId.value.has(id)) return;
      const map = new Map(byId.value);
      map.delete(id);
      byId.value = map;
    },
    restore(job) {
      removed.delete(job.id);
      this.upsert(job);
    },
    clear() {
      removed.clear();
      if (byId.value.size) byId.value = new Map();
    },
    addOptimistic(body, now = Date.now()) {
      const id = `local-${++localCounter}`;
      const at = new Date(now).toISOString();
      const job: Job = {
        id,
        prompt: body.prompt,
        negative_prompt: body.negative_prompt ?? null,
        model: body.model,
        parameters: body.parameters,
        status: "pending",
        progress: 0,
        media_path: null,
        images: [],
        image_url: null,
        error_message: null,
        retry_count: 0,
        created_at: at,
        started_at: null,
        completed_at: null,
        updated_at: at,
        priority: body.priority ?? "normal",
        local: true,
      };
      batch(() => this.upsert(job));
      return id;
    },
    confirmOptimistic(localId, jobId) {
      const placeholder = byId.value.get(localId);
      const map = new Map(byId.value);
      map.delete(localId);
      if (placeholder && !map.has(jobId)) map.set(jobId, { ...placeholder, id: jobId });
      byId.value = map;
    },
  };
}

/** The page's shared store. */
export const jobsStore: JobsStore = createJobsStore();

/** The job as it will look once `kind` succeeds: shown at once, put back if the API refuses. */
export function afterAction(job: Job, kind: "cancel" | "retry"): Job {
  if (kind === "cancel") {
    return { ...job, status: "canceled", actions: { ...job.actions, cancel: false, retry: true } };
  }
  return {
    ...job,
    status: "pending",
    progress: 0,
    images: [],
    image_url: null,
    error_message: null,
    started_at: null,
    completed_at: null,
    actions: { ...job.actions, cancel: true, retry: false },
  };
}

/** Width and height to reserve for a job's image (first image, else the asked size, else 1:1). */
export function jobSize(job: Job): { width: number; height: number } {
  const img = job.images[0];
  const p = job.parameters ?? {};
  const ok = (n: unknown): n is number => typeof n === "number" && n > 0 && n <= 100_000;
  let width = ok(img?.width) ? img.width : ok(p.width) ? p.width : 1024;
  let height = ok(img?.height) ? img.height : ok(p.height) ? p.height : 1024;
  if (width / height > 4) height = width / 4;
  if (height / width > 4) width = height / 4;
  return { width: Math.round(width), height: Math.round(height) };
}

/** Seconds the job ran (start to finish; from creation when it never reported a start). */
export function runSeconds(job: Job): number | null {
  if (!job.completed_at) return null;
  const from = Date.parse(job.started_at ?? job.created_at);
  const d = (Date.parse(job.completed_at) - from) / 1000;
  return Number.isFinite(d) && d >= 0 ? d : null;
}
