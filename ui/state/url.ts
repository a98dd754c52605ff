/** Page state kept in the URL (tab, history filters, open job) so a reload keeps it. */
import { signal } from "@preact/signals";
import type { JobStatus } from "../../shared/jobs/repo.ts";
import { JOB_STATUSES } from "../api_client.ts";

export const TABS = ["generate", "history", "architecture", "usage"] as const;
export type Tab = typeof TABS[number];

/** Providers History can be filtered by. */
export const PROVIDER_FILTERS = ["local", "replicate", "fal"] as const;
export type ProviderFilter = typeof PROVIDER_FILTERS[number];

export interface UrlState {
  tab: Tab;
  /** History: status filter ("" = all). */
  status: JobStatus | "";
  /** History: search over prompts. */
  q: string;
  /** History: 1-based page. */
  page: number;
  /** History: only the jobs of this provider (absent or "" = all). */
  provider?: ProviderFilter | "";
  /** History: only this model (`owner/name` also matches its versions). */
  model?: string;
  /** History: only starred jobs. */
  starred?: boolean;
  /** History: only the jobs of this collection (its id). */
  collection?: string;
  /** History: made on or after this day (`YYYY-MM-DD`, local). */
  from?: string;
  /** History: made on or before this day (`YYYY-MM-DD`, local). */
  to?: string;
  /** History: oldest first (absent = newest first). */
  sort?: "oldest";
  /** History: where the page starts (the API's opaque cursor; absent = by `page`). */
  cursor?: string;
  /** The job open in the lightbox. */
  job: string;
}

export const DEFAULT_URL_STATE: UrlState = { tab: "generate", status: "", q: "", page: 1, job: "" };

const DAY = /^\d{4}-\d{2}-\d{2}$/;
/** The History filters kept as text, each with the form it must have. */
const TEXT_FILTERS = {
  model: /^[\w.:/-]{1,200}$/,
  collection: /^[\w-]{1,64}$/,
  from: DAY,
  to: DAY,
  cursor: /^[\w-]{1,400}$/,
} as const;
type TextFilter = keyof typeof TEXT_FILTERS;
/** The query's keys after `tab`, in their order. */
const SERIALIZED = [
  "status",
  "provider",
  "model",
  "starred",
  "collection",
  "from",
  "to",
  "sort",
  "q",
  "page",
  "cursor",
  "job",
] as const;

/**
 * Reads `?tab=history&status=failed&q=cat&page=2&job=<id>` (or a `#history` hash) and History's
 * other filters (`model`, `starred`, `collection`, `from`, `to`, `sort`, `cursor`).
 */
export function parseUrlState(search: string, hash = ""): UrlState {
  const p = new URLSearchParams(search);
  const tabText = p.get("tab") ?? hash.replace(/^#/, "");
  const tab = (TABS as readonly string[]).includes(tabText) ? tabText as Tab : "generate";
  const statusText = p.get("status") ?? "";
  const status = (JOB_STATUSES as readonly string[]).includes(statusText)
    ? statusText as JobStatus
    : "";
  const pageNum = Number(p.get("page") ?? "1");
  const page = Number.isInteger(pageNum) && pageNum >= 1 && pageNum <= 100_000 ? pageNum : 1;
  const q = (p.get("q") ?? "").slice(0, 200);
  const job = /^[A-Za-z0-9-]{1,64}$/.test(p.get("job") ?? "") ? p.get("job")! : "";
  const providerText = p.get("provider") ?? "";
  const provider = (PROVIDER_FILTERS as readonly string[]).includes(providerText)
    ? providerText as ProviderFilter
    : "";
  const state: UrlState = { tab, status, q, page, job, ...(provider ? { provider } : {}) };
  for (const [k, re] of Object.entries(TEXT_FILTERS)) {
    const v = p.get(k);
    if (v && re.test(v)) state[k as TextFilter] = v;
  }
  if (p.get("starred") === "true") state.starred = true;
  if (p.get("sort") === "oldest") state.sort = "oldest";
  return state;
}

/** The query string for a state, leaving defaults out ("" when everything is default). */
export function serializeUrlState(state: UrlState): string {
  const p = new URLSearchParams();
  if (state.tab !== "generate") p.set("tab", state.tab);
  for (const k of SERIALIZED) {
    const v = k === "page" ? state.page > 1 && state.page : state[k];
    if (v) p.set(k, String(v));
  }
  const s = p.toString();
  return s ? `?${s}` : "";
}

const inBrowser = typeof location !== "undefined" && typeof history !== "undefined";

/** The page's URL state. */
export const urlState = signal<UrlState>(
  inBrowser ? parseUrlState(location.search, location.hash) : { ...DEFAULT_URL_STATE },
);

/**
 * Changes the URL state. `push` adds a history entry (tab and page changes, so Back works);
 * otherwise the current entry is replaced (typing in the search box).
 */
export function navigate(patch: Partial<UrlState>, options: { push?: boolean } = {}): void {
  const next = { ...urlState.value, ...patch };
  urlState.value = next;
  if (!inBrowser) return;
  const url = `${location.pathname}${serializeUrlState(next)}`;
  if (url === `${location.pathname}${location.search}` && !location.hash) return;
  if (options.push) history.pushState(null, "", url);
  else history.replaceState(null, "", url);
}

if (inBrowser && typeof addEventListener === "function") {
  addEventListener("popstate", () => {
    urlState.value = parseUrlState(location.search, location.hash);
  });
}
