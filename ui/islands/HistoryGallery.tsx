/**
 * History: every job, newest first, filtered by status, provider and prompt search, paginated in
 * the URL.
 */
import { useEffect } from "preact/hooks";
import type { JobStatus } from "../../shared/jobs/repo.ts";
import { Icon } from "../components/Icon.tsx";
import { JobGrid } from "../components/JobGrid.tsx";
import { historyPage, historyView, loadHistory, PAGE_SIZE, pageKey } from "../state/history.ts";
import { jobsStore } from "../state/jobs.ts";
import { api, resyncTick, sessionReady } from "../state/live.ts";
import { navigate, PROVIDER_FILTERS, type ProviderFilter, urlState } from "../state/url.ts";

export interface HistoryGalleryProps {
  /** Cards rendered as skeletons while the first page loads. */
  skeletons?: number;
}

const FILTERS: { value: JobStatus | ""; label: string }[] = [
  { value: "", label: "All" },
  { value: "pending", label: "Queued" },
  { value: "processing", label: "Running" },
  { value: "completed", label: "Done" },
  { value: "failed", label: "Failed" },
  { value: "canceled", label: "Canceled" },
];

const PROVIDER_LABELS: Record<ProviderFilter, string> = {
  local: "Local",
  replicate: "Replicate",
  fal: "fal.ai",
};

export default function HistoryGallery({ skeletons = 8 }: HistoryGalleryProps) {
  const { status, page, q, tab } = urlState.value;
  const provider = urlState.value.provider ?? "";
  const active = tab === "history";
  const resync = resyncTick.value;
  // Waits for the key check; runs again after a sign-in.
  const canCall = sessionReady();

  useEffect(() => {
    if (!active || !canCall) return;
    void loadHistory(api, jobsStore, { status, page, provider, quiet: true });
  }, [status, page, provider, active, resync, canCall]);

  const hp = historyPage.value;
  const ready = hp.key === pageKey(status, page, provider);
  const { jobs, added } = historyView(jobsStore.byId.value, ready ? hp.ids : [], {
    page,
    status,
    q,
    provider,
  });
  const positions = jobsStore.queuePositions.value;
  const total = hp.total;
  const pages = total !== null ? Math.max(1, Math.ceil(total / PAGE_SIZE)) : null;
  const hasNext = pages !== null ? page < pages : ready && hp.ids.length === PAGE_SIZE;
  const loading = !canCall || (hp.loading && (!ready || !hp.ids.length));
  const countText = total !== null
    ? `${(total + (page === 1 ? added : 0)).toLocaleString("en")} ${
      total + added === 1 ? "job" : "jobs"
    }${status ? ` ${FILTERS.find((f) => f.value === status)?.label.toLowerCase()}` : ""}${
      provider ? ` on ${PROVIDER_LABELS[provider]}` : ""
    }`
    : "";

  const goPage = (p: number) => {
    navigate({ page: p }, { push: true });
    document.getElementById("history-title")?.scrollIntoView({ block: "start" });
  };

  return (
    <section class="history" aria-labelledby="history-title" aria-busy={hp.loading}>
      <div class="section-head">
        <h2 id="history-title">History</h2>
        <span class="muted" aria-live="polite">
          {countText}
          {q && ready ? ` · ${jobs.length} shown` : ""}
        </span>
      </div>
      <div class="toolbar">
        <div class="filters" role="group" aria-label="Filter by status">
          {FILTERS.map((f) => (
            <button
              key={f.value}
              type="button"
              class="filter"
              aria-pressed={status === f.value}
              onClick={() => navigate({ status: f.value, page: 1 }, { push: true })}
            >
              {f.label}
            </button>
          ))}
        </div>
        <div class="provider-filter">
          <label for="h-provider" class="sr-only">Filter by provider</label>
          <select
            id="h-provider"
            value={provider}
            onChange={(e) =>
              navigate({ provider: e.currentTarget.value as ProviderFilter | "", page: 1 }, {
                push: true,
              })}
          >
            <option value="">All providers</option>
            {PROVIDER_FILTERS.map((p) => <option key={p} value={p}>{PROVIDER_LABELS[p]}</option>)}
          </select>
        </div>
        <div class="search">
          <Icon name="search" size={16} />
          <label for="h-search" class="sr-only">Search prompts</label>
          <input
            id="h-search"
            type="search"
            placeholder="Search prompts on this page"
            value={q}
            onInput={(e) => navigate({ q: e.currentTarget.value })}
          />
        </div>
      </div>

      {hp.error && (
        <div class="notice notice-error" role="alert">
          <Icon name="alert" /> Cannot load history: {hp.error}
          <button
            type="button"
            class="btn btn-small"
            onClick={() => void loadHistory(api, jobsStore, { status, page, provider })}
          >
            Try again
          </button>
        </div>
      )}

      {loading
        ? (
          <div class="grid" aria-hidden="true">
            {Array.from({ length: skeletons }, (_, i) => <div key={i} class="card skeleton" />)}
          </div>
        )
        : jobs.length
        ? <JobGrid jobs={jobs} positions={positions} eager={4} />
        : !hp.error && (
          <div class="empty">
            <Icon name={q || status || provider ? "search" : "image"} size={32} />
            {q || status || provider
              ? (
                <>
                  <p>
                    No jobs match{q ? ` “${q}”` : ""}
                    {status || provider ? " this filter" : ""}.
                  </p>
                  <button
                    type="button"
                    class="btn"
                    onClick={() =>
                      navigate({ q: "", status: "", provider: "", page: 1 }, { push: true })}
                  >
                    Clear filters
                  </button>
                </>
              )
              : (
                <>
                  <p>No images yet.</p>
                  <button
                    type="button"
                    class="btn btn-primary"
                    onClick={() => navigate({ tab: "generate" }, { push: true })}
                  >
                    <Icon name="sparkles" /> Generate the first one
                  </button>
                </>
              )}
          </div>
        )}

      {(page > 1 || hasNext) && (
        <nav class="pager" aria-label="Pages">
          <button
            type="button"
            class="btn"
            disabled={page <= 1}
            onClick={() => goPage(page - 1)}
          >
            <Icon name="chevronLeft" /> Newer
          </button>
          <span class="muted" aria-current="page">
            Page {page}
            {pages !== null ? ` of ${pages}` : ""}
          </span>
          <button type="button" class="btn" disabled={!hasNext} onClick={() => goPage(page + 1)}>
            Older <Icon name="chevronRight" />
          </button>
        </nav>
      )}
    </section>
  );
}
