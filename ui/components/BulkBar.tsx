/**
 * The bar shown while jobs are selected: how many, select all on the page, clear, and the bulk
 * actions (star, unstar, add to or remove from a collection, delete after asking), done with one
 * `POST /jobs/bulk` and reported per job.
 */
import { useSignal } from "@preact/signals";
import { useLayoutEffect, useRef } from "preact/hooks";
import type { BulkAction, CollectionJson } from "../api_client.ts";
import { collections } from "../state/library.ts";
import { Icon } from "./Icon.tsx";
import { LIBRARY_ICONS } from "./library_icons.ts";

export interface BulkBarProps {
  /** "3 jobs (7 images)". */
  summary: string;
  count: number;
  /** Everything on the page is selected already. */
  allSelected: boolean;
  /** The collection History is showing, if any (offers "Remove from"). */
  collection?: CollectionJson;
  /** Stars are offered (the server has them). */
  stars: boolean;
  /** Collections are offered (the server has them). */
  canCollect: boolean;
  busy: boolean;
  onSelectAll(): void;
  onClear(): void;
  onAction(action: BulkAction, collection?: CollectionJson): void;
  onCreateCollection(name: string): Promise<CollectionJson | null>;
}

export function BulkBar(props: BulkBarProps) {
  const confirming = useSignal(false);
  const picking = useSignal(false);
  const name = useSignal("");
  const keepRef = useRef<HTMLButtonElement>(null);
  const pickRef = useRef<HTMLDivElement>(null);

  // Layout effects: the focus moves in the same frame the question or the list appears.
  useLayoutEffect(() => {
    if (confirming.value) keepRef.current?.focus();
  }, [confirming.value]);
  useLayoutEffect(() => {
    if (picking.value) pickRef.current?.querySelector<HTMLElement>("button, input")?.focus();
  }, [picking.value]);

  const list = collections.value ?? [];
  const addTo = async (e: Event) => {
    e.preventDefault();
    const made = await props.onCreateCollection(name.value);
    if (!made) return;
    name.value = "";
    picking.value = false;
    props.onAction("add_to", made);
  };

  return (
    <div
      class="bulk-bar"
      role="region"
      aria-label="Selected jobs"
      onKeyDown={(e) => {
        if (e.key !== "Escape") return;
        e.preventDefault();
        if (confirming.value || picking.value) {
          confirming.value = false;
          picking.value = false;
        } else props.onClear();
      }}
    >
      <span class="bulk-count" aria-live="polite">
        <strong>{props.summary}</strong> selected
      </span>
      <button
        type="button"
        class="btn btn-small"
        disabled={props.allSelected}
        onClick={props.onSelectAll}
      >
        Select all on page
      </button>
      <button type="button" class="btn btn-small btn-quiet" onClick={props.onClear}>
        Clear
      </button>
      <span class="bulk-sep" aria-hidden="true" />
      {confirming.value
        ? (
          <span class="bulk-confirm" role="group" aria-label="Confirm delete">
            <span>
              Delete {props.count} {props.count === 1 ? "job" : "jobs"} and their images?
            </span>
            <button
              type="button"
              class="btn btn-small btn-danger"
              disabled={props.busy}
              onClick={() => {
                confirming.value = false;
                props.onAction("delete");
              }}
            >
              <Icon name="trash" size={14} /> Yes, delete
            </button>
            <button
              ref={keepRef}
              type="button"
              class="btn btn-small"
              onClick={() => confirming.value = false}
            >
              Keep
            </button>
          </span>
        )
        : (
          <>
            {props.stars && (
              <>
                <button
                  type="button"
                  class="btn btn-small"
                  disabled={props.busy}
                  onClick={() => props.onAction("star")}
                >
                  <Icon d={LIBRARY_ICONS.star} size={14} /> Star
                </button>
                <button
                  type="button"
                  class="btn btn-small"
                  disabled={props.busy}
                  onClick={() => props.onAction("unstar")}
                >
                  Unstar
                </button>
              </>
            )}
            {props.canCollect && (
              <span class="bulk-pick">
                <button
                  type="button"
                  class="btn btn-small"
                  aria-expanded={picking.value}
                  disabled={props.busy}
                  onClick={() => picking.value = !picking.value}
                >
                  <Icon d={LIBRARY_ICONS.folder} size={14} /> Add to collection
                  <Icon name="chevronDown" size={14} />
                </button>
                {picking.value && (
                  <div ref={pickRef} class="bulk-pop" role="group" aria-label="Add to collection">
                    {list.map((c) => (
                      <button
                        key={c.id}
                        type="button"
                        class="tile-menu-item"
                        onClick={() => {
                          picking.value = false;
                          props.onAction("add_to", c);
                        }}
                      >
                        {c.name}
                        {c.job_count !== undefined && <span class="muted">{c.job_count}</span>}
                      </button>
                    ))}
                    <form class="bulk-new" onSubmit={addTo}>
                      <label for="bulk-new-name" class="sr-only">New collection</label>
                      <input
                        id="bulk-new-name"
                        type="text"
                        maxLength={100}
                        placeholder="New collection"
                        value={name.value}
                        onInput={(e) =>
                          name.value = e.currentTarget.value}
                      />
                      <button
                        type="submit"
                        class="btn btn-small"
                        disabled={!name.value.trim()}
                      >
                        Add
                      </button>
                    </form>
                  </div>
                )}
              </span>
            )}
            {props.collection && (
              <button
                type="button"
                class="btn btn-small"
                disabled={props.busy}
                onClick={() => props.onAction("remove_from", props.collection)}
              >
                Remove from {props.collection.name}
              </button>
            )}
            <button
              type="button"
              class="btn btn-small btn-danger"
              disabled={props.busy}
              onClick={() => confirming.value = true}
            >
              <Icon name="trash" size={14} /> Delete…
            </button>
          </>
        )}
    </div>
  );
}
