/**
 * Multi-select in the gallery. Tiles are images but bulk actions act on jobs, so the selection
 * holds job ids: picking any image of a job picks the job (all its tiles show it). A click
 * toggles one job and becomes the anchor; a shift-click adds every job from the anchor's tile to
 * the clicked one, as in a file manager.
 */
import { signal } from "@preact/signals";

export interface Selection {
  /** Selected job ids. */
  ids: ReadonlySet<string>;
  /** The tile (its position in the page's tile order) the next shift-click extends from. */
  anchor: number | null;
}

export const EMPTY_SELECTION: Selection = { ids: new Set(), anchor: null };

/** The gallery's selection. */
export const selection = signal<Selection>(EMPTY_SELECTION);

/**
 * The selection after a click on tile `at`, where `order` holds the job id of every tile of the
 * page in display order (null for a tile that cannot be picked: a job still being sent). With
 * `shift` and an anchor: the range between them is added. Otherwise the tile's job is toggled and
 * the tile becomes the anchor.
 */
export function clickTile(
  sel: Selection,
  order: readonly (string | null)[],
  at: number,
  shift: boolean,
): Selection {
  const id = order[at];
  if (id === undefined || id === null) return sel;
  if (shift && sel.anchor !== null && sel.anchor < order.length) {
    const ids = new Set(sel.ids);
    const [a, b] = sel.anchor < at ? [sel.anchor, at] : [at, sel.anchor];
    for (let i = a; i <= b; i++) if (order[i] !== null) ids.add(order[i]!);
    return { ids, anchor: sel.anchor };
  }
  const ids = new Set(sel.ids);
  if (ids.has(id)) ids.delete(id);
  else ids.add(id);
  return { ids, anchor: at };
}

/** Every job of the page selected (the anchor is kept). */
export function selectAll(sel: Selection, order: readonly string[]): Selection {
  return { ids: new Set([...sel.ids, ...order]), anchor: sel.anchor };
}

/**
 * Only the jobs still shown (a page change, a filter or a delete took the others away); the
 * anchor is dropped when the page's tiles changed under it.
 */
export function keepShown(
  sel: Selection,
  order: readonly string[],
  sameTiles: boolean,
): Selection {
  const shown = new Set(order);
  const ids = [...sel.ids].filter((id) => shown.has(id));
  if (ids.length === sel.ids.size && sameTiles) return sel;
  return { ids: new Set(ids), anchor: sameTiles ? sel.anchor : null };
}

/** "3 jobs (7 images)" for the bulk bar; `order` is the page's tile → job list. */
export function selectionSummary(sel: Selection, order: readonly string[]): string {
  const jobs = sel.ids.size;
  const images = order.filter((id) => sel.ids.has(id)).length;
  const j = `${jobs} ${jobs === 1 ? "job" : "jobs"}`;
  return images > jobs ? `${j} (${images} images)` : j;
}
