/**
 * History as an image library: every image of every job as a tile in justified rows, searched and
 * filtered by the API over the whole history (the filters in the URL), paged by cursor, with
 * per-tile actions, stars, collections and multi-select for bulk work.
 */
import { useComputed, useSignal } from "@preact/signals";
import { useEffect, useMemo } from "preact/hooks";
import type { BulkAction, CollectionJson } from "../api_client.ts";
import { BulkBar } from "../components/BulkBar.tsx";
import { FilterBar, PROVIDER_LABELS, STATUS_FILTERS } from "../components/FilterBar.tsx";
import { GalleryGrid } from "../components/GalleryGrid.tsx";
import { Icon } from "../components/Icon.tsx";
import type { TileActions } from "../components/tile_actions.ts";
import { fileNameFromPrompt } from "../state/download_name.ts";
import { formatNumber } from "../state/format.ts";
import { filtersOf, galleryTiles, isFiltered } from "../state/gallery.ts";
import {
  cursorFor,
  historyPage,
  historyView,
  loadHistory,
  PAGE_SIZE,
  pageKey,
} from "../state/history.ts";
import { jobsStore } from "../state/jobs.ts";
import { libraryDeps } from "../state/library_page.ts";
import {
  bulkMessage,
  collections,
  collectionsSupported,
  copyAndSay,
  jobLink,
  loadCollections,
  newCollection,
  queueVariation,
  reusePrompt,
  reuseSettings,
  runBulk,
  seedOf,
  setStar,
} from "../state/library.ts";
import {
  api,
  cancelJob,
  deleteJob,
  loadModels,
  models,
  receiveJob,
  resyncTick,
  retryJob,
  sessionReady,
} from "../state/live.ts";
import {
  clickTile,
  EMPTY_SELECTION,
  keepShown,
  selectAll,
  selection,
  selectionSummary,
} from "../state/selection.ts";
import { showToast } from "../state/toasts.ts";
import { navigate, type UrlState, urlState } from "../state/url.ts";

export interface HistoryGalleryProps {
  /** Placeholder tiles shown while the first page loads. */
  skeletons?: number;
}

const deps = libraryDeps;

/** Applies a filter change: back to the first page, and no cursor of the old list. */
function applyFilters(patch: Partial<UrlState>, push = true): void {
  navigate({ ...patch, page: 1, cursor: undefined }, { push });
}

const actions: TileActions = {
  star: (job, on) => void setStar(deps, job, on),
  reuse: reuseSettings,
  reusePrompt,
  variations: (job) => void queueVariation(deps, job, receiveJob),
  copySeed: (job) => {
    const seed = seedOf(job);
    if (seed !== null) void copyAndSay(deps.notify, String(seed), "Seed");
  },
  copyLink: (job) => void copyAndSay(deps.notify, jobLink(job.id), "Link"),
  remove: (job) => void deleteJob(job.id),
  retry: (job) => void retryJob(job.id),
  cancel: (job) => void cancelJob(job.id),
  filter: (patch) => applyFilters(patch),
  fileName: (job, index) =>
    fileNameFromPrompt(job.prompt, {
      id: job.id,
      index,
      count: job.images.length,
      contentType: job.images[index]?.content_type,
    }),
};

export default function HistoryGallery({ skeletons = 12 }: HistoryGalleryProps) {
  const state = urlState.value;
  const { page, tab } = state;
  const active = tab === "history";
  const resync = resyncTick.value;
  // Waits for the key check; runs again after a sign-in.
  const canCall = sessionReady();
  const busy = useSignal(false);
  const filters = useMemo(() => filtersOf(state), [
    state.status,
    state.q,
    state.provider,
    state.model,
    state.starred,
    state.collection,
    state.from,
    state.to,
    state.sort,
  ]);
  const query = { filters, page, cursor: state.cursor };
  const key = pageKey(query);

  useEffect(() => {
    if (!active || !canCall) return;
    void loadHistory(api, jobsStore, { ...query, quiet: true });
  }, [key, active, resync, canCall]);

  // A server with the library says whether each job is starred: only then are there collections
  // to ask for (an older one would answer 404).
  const library = useComputed(() =>
    [...jobsStore.byId.value.values()].some((j) => j.starred !== undefined)
  );
  useEffect(() => {
    if (!active || !canCall) return;
    if (library.value && collections.value === null) void loadCollections(deps);
    if (!models.value) void loadModels();
  }, [active, canCall, library.value]);

  const hp = historyPage.value;
  const ready = hp.key === key;
  const { jobs, added } = historyView(jobsStore.byId.value, ready ? hp.ids : [], query);
  const tiles = galleryTiles(jobs);
  const order = tiles.map((t) => t.job.id);
  // A job still being sent has no id the API knows: it cannot be picked.
  const pickable = tiles.map((t) => t.job.local ? null : t.job.id);
  const list = jobs.map((j) => j.id);
  const orderKey = tiles.map((t) => t.key).join(",");

  // The selection only holds jobs on the page; a page of other tiles drops the anchor.
  const lastOrder = useSignal(orderKey);
  useEffect(() => {
    const next = keepShown(selection.value, order, lastOrder.value === orderKey);
    if (next !== selection.value) selection.value = next;
    lastOrder.value = orderKey;
  }, [orderKey]);
  useEffect(() => () => void (selection.value = EMPTY_SELECTION), []);

  // Esc clears the selection (unless a field, a menu or the lightbox has it).
  const sel = selection.value;
  useEffect(() => {
    if (!sel.ids.size) return;
    const onKey = (e: KeyboardEvent) => {
      const t = e.target as HTMLElement;
      if (e.key !== "Escape" || e.defaultPrevented || t.closest("input, [role=menu], .lb")) return;
      selection.value = EMPTY_SELECTION;
    };
    addEventListener("keydown", onKey);
    return () => removeEventListener("keydown", onKey);
  }, [sel.ids.size > 0]);

  const showStars = library.value || !!state.starred;
  const collectionList = library.value && collectionsSupported.value
    ? collections.value ?? []
    : null;
  const current = collectionList?.find((c) => c.id === state.collection);
  const modelIds = [
    ...new Set([
      ...(models.value?.models.map((m) => m.id) ?? []),
      ...(state.model ? [state.model] : []),
    ]),
  ];

  const positions = jobsStore.queuePositions.value;
  const total = hp.total;
  const pages = total !== null ? Math.max(1, Math.ceil(total / PAGE_SIZE)) : null;
  const hasNext = !!hp.next ||
    (pages !== null ? page < pages : ready && hp.ids.length === PAGE_SIZE);
  const loading = !canCall || (hp.loading && (!ready || !hp.ids.length));
  const filtered = isFiltered(filters);
  const images = tiles.filter((t) => t.img).length;
  const shownTotal = total !== null ? total + (page === 1 ? added : 0) : null;
  const jobsWord = (n: number) => n === 1 ? "job" : "jobs";
  const statusWord = STATUS_FILTERS.find((f) => f.value === filters.status)?.label.toLowerCase();
  const countText = shownTotal !== null
    ? [
      `${hp.estimated ? "about " : ""}${formatNumber(shownTotal)}${
        filtered && !filters.status && !filters.provider ? " matching" : ""
      } ${jobsWord(shownTotal)}${filters.status ? ` ${statusWord}` : ""}${
        filters.provider ? ` on ${PROVIDER_LABELS[filters.provider]}` : ""
      }`,
      images ? `${formatNumber(images)} ${images === 1 ? "image" : "images"} here` : "",
    ].filter(Boolean).join(" · ")
    : "";

  const goPage = (p: number, cursor: string | undefined) => {
    selection.value = EMPTY_SELECTION;
    navigate({ page: p, cursor }, { push: true });
    document.getElementById("history-title")?.scrollIntoView({ block: "start" });
  };

  const runAction = async (action: BulkAction, collection?: CollectionJson) => {
    const ids = [...selection.value.ids];
    if (!ids.length) return;
    busy.value = true;
    try {
      const outcome = await runBulk(deps, ids, action, collection?.id);
      showToast({
        kind: outcome.failed.length ? (outcome.done.length ? "info" : "error") : "success",
        title: bulkMessage(action, outcome, collection?.name),
      });
      // What was done leaves the selection; what was not stays picked to try again.
      const done = new Set(outcome.done);
      selection.value = {
        ids: new Set(ids.filter((id) => !done.has(id))),
        anchor: selection.value.anchor,
      };
      if (action === "add_to" || action === "remove_from") {
        void loadCollections(deps);
        if (state.collection) resyncTick.value++;
      }
    } finally {
      busy.value = false;
    }
  };

  const createCollection = async (name: string) => {
    // A name in use already: that collection.
    const same = collections.value?.find((c) => c.name.toLowerCase() === name.trim().toLowerCase());
    if (same) return same;
    try {
      return await newCollection(deps, name);
    } catch (err) {
      showToast({
        kind: "error",
        title: "Cannot make the collection",
        body: (err as Error).message,
      });
      return null;
    }
  };

  return (
    <section class="history" aria-labelledby="history-title" aria-busy={hp.loading}>
      <div class="section-head">
        <h2 id="history-title">History</h2>
        <span class="muted" aria-live="polite">{countText}</span>
      </div>
      <FilterBar
        state={state}
        models={modelIds}
        collections={collectionList}
        stars={showStars}
        onChange={applyFilters}
      />

      {hp.error && (
        <div class="notice notice-error" role="alert">
          <Icon name="alert" /> Cannot load history: {hp.error}
          <button
            type="button"
            class="btn btn-small"
            onClick={() => void loadHistory(api, jobsStore, query)}
          >
            Try again
          </button>
        </div>
      )}

      {loading
        ? (
          <div class="gallery-skeleton" aria-hidden="true">
            {Array.from({ length: skeletons }, (_, i) => <div key={i} class="skeleton" />)}
          </div>
        )
        : tiles.length
        ? (
          <GalleryGrid
            tiles={tiles}
            list={list}
            selected={sel.ids}
            positions={positions}
            actions={actions}
            onSelect={(at, shift) =>
              selection.value = clickTile(selection.value, pickable, at, shift)}
          />
        )
        : !hp.error && (
          <div class="empty">
            <Icon name={filtered ? "search" : "image"} size={32} />
            {filtered
              ? (
                <>
                  <p>
                    No jobs match{filters.q ? ` “${filters.q}”` : ""}
                    {isFiltered({ ...filters, q: "" })
                      ? `${filters.q ? " with" : ""} these filters`
                      : ""}.
                  </p>
                  <button
                    type="button"
                    class="btn"
                    onClick={() =>
                      applyFilters({
                        q: "",
                        status: "",
                        provider: "",
                        model: undefined,
                        starred: undefined,
                        collection: undefined,
                        from: undefined,
                        to: undefined,
                      })}
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

      {sel.ids.size > 0 && (
        <BulkBar
          summary={selectionSummary(sel, order)}
          count={sel.ids.size}
          allSelected={pickable.every((id) => id === null || sel.ids.has(id))}
          collection={current}
          stars={showStars}
          canCollect={collectionList !== null}
          busy={busy.value}
          onSelectAll={() =>
            selection.value = selectAll(
              selection.value,
              pickable.filter((id): id is string => id !== null),
            )}
          onClear={() => selection.value = EMPTY_SELECTION}
          onAction={(action, c) => void runAction(action, c)}
          onCreateCollection={createCollection}
        />
      )}

      {(page > 1 || hasNext) && (
        <nav class="pager" aria-label="Pages">
          <button
            type="button"
            class="btn"
            disabled={page <= 1}
            onClick={() => goPage(page - 1, cursorFor(filters, page - 1))}
          >
            <Icon name="chevronLeft" /> {filters.sort === "oldest" ? "Older" : "Newer"}
          </button>
          <span class="muted" aria-current="page">
            Page {formatNumber(page)}
            {pages !== null ? ` of ${formatNumber(pages)}` : ""}
          </span>
          <button
            type="button"
            class="btn"
            disabled={!hasNext}
            onClick={() => goPage(page + 1, hp.next ?? undefined)}
          >
            {filters.sort === "oldest" ? "Newer" : "Older"} <Icon name="chevronRight" />
          </button>
        </nav>
      )}
    </section>
  );
}
