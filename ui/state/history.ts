/**
 * The History tab's server page (filtered and searched by the API over the whole history), the
 * cursors that page through it, and the merge of live jobs into it.
 */
import { signal } from "@preact/signals";
import type { ApiClient } from "../api_client.ts";
import {
  apiQuery,
  type LibraryFilters,
  matchesLiveFilters,
  matchesPageFilters,
} from "./gallery.ts";
import { type Job, type JobsStore, newestFirst } from "./jobs.ts";

export const PAGE_SIZE = 24;

/** Which page of which list: the filters, the 1-based page and where it starts. */
export interface HistoryQuery {
  filters: LibraryFilters;
  page: number;
  /** The API's cursor for the page's start; without one the page is read with `skip`. */
  cursor?: string;
}

export interface HistoryPage {
  /** `pageKey` of the query the ids belong to. */
  key: string;
  ids: string[];
  /** X-Total-Count for the filter, when the API sends it. */
  total: number | null;
  /** The total is the API's estimate (a large history). */
  estimated?: boolean;
  /** The next page's cursor, when the API gives one. */
  next: string | null;
  loading: boolean;
  error: string | null;
}

export const historyPage = signal<HistoryPage>({
  key: "",
  ids: [],
  total: null,
  next: null,
  loading: false,
  error: null,
});

/** The filters as text (the same filters give the same text). */
export function filtersKey(f: LibraryFilters): string {
  return JSON.stringify(Object.entries(f).filter(([, v]) => v !== "" && v !== undefined).sort());
}

/** Identifies a page: the filters, the page number and its cursor. */
export function pageKey(query: HistoryQuery): string {
  return `${filtersKey(query.filters)}|${query.page}|${query.cursor ?? ""}`;
}

/**
 * Where each page of a list starts, learnt while paging (`filtersKey|page` → cursor), so "Newer"
 * goes back by cursor too. A page whose cursor is not known is read with `skip`.
 */
const cursors = new Map<string, string>();

/** The cursor known for a page of these filters (none for page 1, or when never seen). */
export function cursorFor(filters: LibraryFilters, page: number): string | undefined {
  return page > 1 ? cursors.get(`${filtersKey(filters)}|${page}`) : undefined;
}

function sortsNewestFirst(f: LibraryFilters): boolean {
  return f.sort !== "oldest";
}

/**
 * The jobs to show: the fetched page (narrowed by the filters the page can check, for servers
 * that ignore some), plus on the first page of a newest-first list the jobs that arrived live
 * since and match every filter, newest first. `added` counts the live arrivals.
 */
export function historyView(
  byId: ReadonlyMap<string, Job>,
  pageIds: string[],
  query: HistoryQuery,
): { jobs: Job[]; added: number } {
  const f = query.filters;
  const onPage = new Set(pageIds);
  const jobs = pageIds.map((id) => byId.get(id))
    .filter((j): j is Job => !!j && matchesPageFilters(j, f));
  let added = 0;
  if (query.page === 1 && sortsNewestFirst(f)) {
    const newest = pageIds.length
      ? Math.max(
        ...pageIds.map((id) => Date.parse(byId.get(id)?.created_at ?? "")).filter(
          Number.isFinite,
        ),
      )
      : -Infinity;
    for (const job of byId.values()) {
      if (onPage.has(job.id) || !matchesLiveFilters(job, f)) continue;
      if (job.local || Date.parse(job.created_at) >= newest || !pageIds.length) {
        jobs.push(job);
        added++;
      }
    }
    jobs.sort(newestFirst);
  }
  return { jobs, added };
}

let loadSeq = 0;

/** Fetches one page into the store and `historyPage`; a newer call wins over a slower older one. */
export async function loadHistory(
  client: Pick<ApiClient, "listJobs">,
  store: JobsStore,
  query: HistoryQuery & { quiet?: boolean },
): Promise<void> {
  const seq = ++loadSeq;
  const key = pageKey(query);
  const current = historyPage.value;
  historyPage.value = {
    ...current,
    key,
    ids: current.key === key ? current.ids : [],
    next: current.key === key ? current.next : null,
    loading: !query.quiet || current.key !== key,
    error: null,
  };
  try {
    const { jobs, total, estimated, next } = await client.listJobs({
      ...(query.cursor ? {} : { skip: (query.page - 1) * PAGE_SIZE }),
      limit: PAGE_SIZE,
      ...apiQuery(query.filters),
      ...(query.cursor ? { cursor: query.cursor } : {}),
    });
    if (seq !== loadSeq) return;
    store.upsertMany(jobs);
    if (next) cursors.set(`${filtersKey(query.filters)}|${query.page + 1}`, next);
    if (query.cursor) cursors.set(`${filtersKey(query.filters)}|${query.page}`, query.cursor);
    historyPage.value = {
      key,
      ids: jobs.map((j) => j.id),
      total,
      estimated: estimated === true,
      next: next ?? null,
      loading: false,
      error: null,
    };
  } catch (err) {
    if (seq !== loadSeq) return;
    historyPage.value = { ...historyPage.value, loading: false, error: (err as Error).message };
  }
}
