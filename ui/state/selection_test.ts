import assert from "node:assert/strict";
import {
  clickTile,
  EMPTY_SELECTION,
  keepShown,
  selectAll,
  type Selection,
  selectionSummary,
} from "./selection.ts";

/** The page's tiles: job a has 3 images, b 1, c 2, d 1, e 1. */
const ORDER = ["a", "a", "a", "b", "c", "c", "d", "e"];
const ids = (s: Selection) => [...s.ids].sort();

Deno.test("selection: a click toggles the tile's job and sets the anchor", () => {
  let s = clickTile(EMPTY_SELECTION, ORDER, 1, false);
  assert.deepEqual(ids(s), ["a"]);
  assert.equal(s.anchor, 1);
  s = clickTile(s, ORDER, 4, false);
  assert.deepEqual(ids(s), ["a", "c"]);
  s = clickTile(s, ORDER, 0, false);
  assert.deepEqual(ids(s), ["c"], "any tile of a job unpicks the job");
  assert.equal(clickTile(s, ORDER, 99, false), s);
});

Deno.test("selection: shift-click adds the range from the anchor, either way", () => {
  let s = clickTile(EMPTY_SELECTION, ORDER, 2, false);
  s = clickTile(s, ORDER, 6, true);
  assert.deepEqual(ids(s), ["a", "b", "c", "d"]);
  assert.equal(s.anchor, 2, "the anchor stays for the next shift-click");
  s = clickTile(s, ORDER, 7, true);
  assert.deepEqual(ids(s), ["a", "b", "c", "d", "e"]);
  // Backwards from a new anchor, adding to what is there.
  let t = clickTile(EMPTY_SELECTION, ORDER, 7, false);
  t = clickTile(t, ORDER, 4, true);
  assert.deepEqual(ids(t), ["c", "d", "e"]);
  // Without an anchor, shift-click is a plain click.
  assert.deepEqual(ids(clickTile(EMPTY_SELECTION, ORDER, 3, true)), ["b"]);
  // A job still being sent (null) is never picked, alone or in a range.
  const sending = ["a", null, "b"];
  assert.equal(clickTile(EMPTY_SELECTION, sending, 1, false), EMPTY_SELECTION);
  const range = clickTile(clickTile(EMPTY_SELECTION, sending, 0, false), sending, 2, true);
  assert.deepEqual(ids(range), ["a", "b"]);
});

Deno.test("selection: select all, keep only shown jobs, and the summary", () => {
  const one = clickTile(EMPTY_SELECTION, ORDER, 3, false);
  const all = selectAll(one, ORDER);
  assert.deepEqual(ids(all), ["a", "b", "c", "d", "e"]);
  assert.equal(all.anchor, 3);
  assert.equal(selectionSummary(all, ORDER), "5 jobs (8 images)");
  assert.equal(selectionSummary(one, ORDER), "1 job");
  assert.equal(keepShown(all, ORDER, true), all, "unchanged when everything is still there");
  const fewer = keepShown(all, ["a", "a", "a", "e"], false);
  assert.deepEqual(ids(fewer), ["a", "e"]);
  assert.equal(fewer.anchor, null, "other tiles: the anchor no longer points anywhere");
  assert.deepEqual(ids(keepShown(all, [], false)), []);
});
