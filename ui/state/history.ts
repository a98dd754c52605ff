/** The History tab's server page and the merge of live jobs into it. */
import { signal } from "@preact/signals";
import type { JobStatus } from "../../shared/jobs/repo.ts";
import type { ApiClient } from "../api_client.ts";
import { isRunning, type Job, type JobsStore, newestFirst } from "./jobs.ts";

export const PAGE_SIZE = 24;

export interface HistoryPage {
  /** `status|page` the ids belong to. */
  key: string;
  ids: string[];
  /** X-Total-Count for the filter, when the API sends it. */
  total: number | null;
  loading: boolean;
  error: string | null;
}

export const historyPage = signal<HistoryPage>({
  key: "",
  ids: [],
  total: null,
  loading: false,
  error: null,
});

/** `status|page`, and `|provider` when History is filtered by provider. */
export function pageKey(status: JobStatus | "", page: number, provider = ""): string {
  return provider ? `${status}|${page}|${provider}` : `${status}|${page}`;
}

/** True when a job matches the search text (prompt, negative prompt or model). */
export function matchesSearch(job: Job, q: string): boolean {
  const needle = q.trim().toLowerCase();
  if (!needle) return true;
  return job.prompt.toLowerCase().includes(needle) ||
    (job.negative_prompt ?? "").toLowerCase().includes(needle) ||
    job.model.toLowerCase().includes(needle);
}

/** An optimistic job has no provider yet: it shows only without a provider filter. */
function matchesProvider(job: Job, provider: string): boolean {
  return !provider || job.provider === provider;
}

function matchesStatus(job: Job, status: JobStatus | ""): boolean {
  if (!status) return true;
  // An optimistic job is shown under "pending" and "processing" alike: it is about to run.
  return job.status === status || (job.local === true && isRunning(status));
}

/**
 * The jobs to show: the fetched page, plus (on page 1) jobs that arrived live since and match the
 * status filter, newest first, narrowed by the search text. `added` counts the live arrivals.
 */
export function historyView(
  byId: ReadonlyMap<string, Job>,
  pageIds: string[],
  opts: { page: number; status: JobStatus | ""; q: string; provider?: string },
): { jobs: Job[]; added: number } {
  const onPage = new Set(pageIds);
  const jobs = pageIds.map((id) => byId.get(id)).filter((j): j is Job => !!j);
  let added = 0;
  if (opts.page === 1) {
    const newest = jobs.length ? Date.parse(jobs[0].created_at) : -Infinity;
    for (const job of byId.values()) {
      if (onPage.has(job.id) || !matchesStatus(job, opts.status)) continue;
      if (!matchesProvider(job, opts.provider ?? "")) continue;
      if (job.local || Date.parse(job.created_at) >= newest || !pageIds.length) {
        jobs.push(job);
        added++;
      }
    }
  }
  jobs.sort(newestFirst);
  return { jobs: jobs.filter((j) => matchesSearch(j, opts.q)), added };
}

let loadSeq = 0;

/** Fetches one page into the store and `historyPage`; a newer call wins over a slower older one. */
export async function loadHistory(
  client: Pick<ApiClient, "listJobs">,
  store: JobsStore,
  opts: { status: JobStatus | ""; page: number; quiet?: boolean; provider?: string },
): Promise<void> {
  const seq = ++loadSeq;
  const key = pageKey(opts.status, opts.page, opts.provider);
  const current = historyPage.value;
  historyPage.value = {
    ...current,
    key,
    ids: current.key === key ? current.ids : [],
    loading: !opts.quiet || current.key !== key,
    error: null,
  };
  try {
    const { jobs, total } = await client.listJobs({
      skip: (opts.page - 1) * PAGE_SIZE,
      limit: PAGE_SIZE,
      status: opts.status,
      ...(opts.provider ? { provider: opts.provider } : {}),
    });
    if (seq !== loadSeq) return;
    store.upsertMany(jobs);
    historyPage.value = { key, ids: jobs.map((j) => j.id), total, loading: false, error: null };
  } catch (err) {
    if (seq !== loadSeq) return;
    historyPage.value = { ...historyPage.value, loading: false, error: (err as Error).message };
  }
}
