/**
 * History's filters, all kept in the URL: a search over the whole history (words of the prompt
 * or negative prompt, asked of the API as you type), status, stars, model, provider, collection,
 * a range of days and the order.
 */
import { useSignal } from "@preact/signals";
import { useEffect, useRef } from "preact/hooks";
import type { JobStatus } from "../../shared/jobs/repo.ts";
import type { CollectionJson } from "../api_client.ts";
import { PROVIDER_FILTERS, type ProviderFilter, type UrlState } from "../state/url.ts";
import { Icon } from "./Icon.tsx";
import { LIBRARY_ICONS } from "./library_icons.ts";

export const STATUS_FILTERS: { value: JobStatus | ""; label: string }[] = [
  { value: "", label: "All" },
  { value: "pending", label: "Queued" },
  { value: "processing", label: "Running" },
  { value: "completed", label: "Done" },
  { value: "failed", label: "Failed" },
  { value: "canceled", label: "Canceled" },
];

export const PROVIDER_LABELS: Record<ProviderFilter, string> = {
  local: "Local",
  replicate: "Replicate",
  fal: "fal.ai",
};

export interface FilterBarProps {
  state: UrlState;
  /** Model ids to offer (the catalogue's, and the one filtered on). */
  models: string[];
  /** null: the server has no collections. */
  collections: CollectionJson[] | null;
  /** Offer the starred filter (the server has stars). */
  stars: boolean;
  /** Applies a change (back to the first page). `push` false while typing a search. */
  onChange(patch: Partial<UrlState>, push?: boolean): void;
}

/** Milliseconds of quiet typing before a search is sent. */
const SEARCH_DELAY_MS = 300;

export function FilterBar({ state, models, collections, stars, onChange }: FilterBarProps) {
  const text = useSignal(state.q);
  const timer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  // Back/forward or "Clear filters" changed the search: show it.
  useEffect(() => {
    if (state.q.trim() !== text.value.trim()) text.value = state.q;
  }, [state.q]);
  useEffect(() => () => clearTimeout(timer.current), []);

  const search = (value: string, now: boolean) => {
    text.value = value;
    clearTimeout(timer.current);
    const send = () => value.trim() !== state.q.trim() && onChange({ q: value.trim() }, false);
    if (now) send();
    else timer.current = setTimeout(send, SEARCH_DELAY_MS);
  };

  const provider = state.provider ?? "";
  // On a phone the selects fold away behind a button that counts the ones in use.
  const more = useSignal(false);
  const set = [state.model, provider, state.collection, state.from || state.to].filter(Boolean)
    .length;
  return (
    <div class="filter-bar">
      <div class="filter-line">
        <div class="search">
          <Icon name="search" size={16} />
          <label for="h-search" class="sr-only">Search all prompts</label>
          <input
            id="h-search"
            type="search"
            placeholder="Search all prompts"
            value={text.value}
            maxLength={200}
            onInput={(e) => search(e.currentTarget.value, false)}
            onKeyDown={(e) => {
              if (e.key === "Enter") search(e.currentTarget.value, true);
            }}
          />
        </div>
        <div class="filter-field">
          <label for="h-sort" class="sr-only">Order</label>
          <select
            id="h-sort"
            value={state.sort ?? "newest"}
            onChange={(e) =>
              onChange({ sort: e.currentTarget.value === "oldest" ? "oldest" : undefined })}
          >
            <option value="newest">Newest first</option>
            <option value="oldest">Oldest first</option>
          </select>
        </div>
      </div>
      <div class="filter-line">
        <div class="filters" role="group" aria-label="Filter by status">
          {STATUS_FILTERS.map((f) => (
            <button
              key={f.value}
              type="button"
              class="filter"
              aria-pressed={state.status === f.value}
              onClick={() => onChange({ status: f.value })}
            >
              {f.label}
            </button>
          ))}
          {stars && (
            <button
              type="button"
              class="filter filter-star"
              aria-pressed={!!state.starred}
              onClick={() => onChange({ starred: state.starred ? undefined : true })}
            >
              <Icon d={LIBRARY_ICONS.star} size={14} /> Starred
            </button>
          )}
        </div>
        <button
          type="button"
          class="filter filter-more"
          aria-expanded={more.value}
          aria-controls="h-more"
          onClick={() => more.value = !more.value}
        >
          More filters{set ? ` (${set})` : ""}
        </button>
      </div>
      <div
        id="h-more"
        class={more.value ? "filter-line filter-selects open" : "filter-line filter-selects"}
      >
        <div class="filter-field">
          <label for="h-model" class="sr-only">Filter by model</label>
          <select
            id="h-model"
            value={state.model ?? ""}
            onChange={(e) => onChange({ model: e.currentTarget.value || undefined })}
          >
            <option value="">All models</option>
            {models.map((m) => <option key={m} value={m}>{m}</option>)}
          </select>
        </div>
        <div class="filter-field provider-filter">
          <label for="h-provider" class="sr-only">Filter by provider</label>
          <select
            id="h-provider"
            value={provider}
            onChange={(e) =>
              onChange({ provider: e.currentTarget.value as ProviderFilter | "" || undefined })}
          >
            <option value="">All providers</option>
            {PROVIDER_FILTERS.map((p) => <option key={p} value={p}>{PROVIDER_LABELS[p]}</option>)}
          </select>
        </div>
        {collections && (
          <div class="filter-field">
            <label for="h-collection" class="sr-only">Filter by collection</label>
            <select
              id="h-collection"
              value={state.collection ?? ""}
              onChange={(e) => onChange({ collection: e.currentTarget.value || undefined })}
            >
              <option value="">All collections</option>
              {collections.map((c) => <option key={c.id} value={c.id}>{c.name}</option>)}
            </select>
          </div>
        )}
        <div class="filter-field filter-days" role="group" aria-label="Made between">
          <label for="h-from" class="filter-day-label">From</label>
          <input
            id="h-from"
            type="date"
            value={state.from ?? ""}
            max={state.to}
            onChange={(e) => onChange({ from: e.currentTarget.value || undefined })}
          />
          <label for="h-to" class="filter-day-label">to</label>
          <input
            id="h-to"
            type="date"
            value={state.to ?? ""}
            min={state.from}
            onChange={(e) => onChange({ to: e.currentTarget.value || undefined })}
          />
        </div>
      </div>
    </div>
  );
}
