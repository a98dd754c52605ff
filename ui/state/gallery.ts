/**
 * The History gallery's pure logic: one tile per image (one per job while it has none), the
 * justified rows they are laid out in, and History's filters as the API's query and as a check
 * the page can run itself (on live arrivals, and on servers that ignore a filter).
 */
import type { ImageJson, JobListQuery } from "../api_client.ts";
import { type Job, jobSize } from "./jobs.ts";
import type { UrlState } from "./url.ts";

/** One tile of the gallery: an image of a job, or the job itself while it has no image. */
export interface Tile {
  /** `jobId:index`, stable while the job keeps its images. */
  key: string;
  job: Job;
  /** Which of the job's images (0 for a job without images). */
  index: number;
  img?: ImageJson;
  /** The size to lay the tile out with (the image's, else the size the job asked for). */
  width: number;
  height: number;
}

/** The tiles of `jobs`, in their order: each image of a job, or one tile for a job without any. */
export function galleryTiles(jobs: Job[]): Tile[] {
  const tiles: Tile[] = [];
  for (const job of jobs) {
    const asked = jobSize(job);
    if (!job.images.length) {
      tiles.push({ key: `${job.id}:0`, job, index: 0, ...asked });
      continue;
    }
    job.images.forEach((img, index) => {
      const known = !!(img.width && img.height);
      tiles.push({
        key: `${job.id}:${index}`,
        job,
        index,
        img,
        width: known ? img.width! : asked.width,
        height: known ? img.height! : asked.height,
      });
    });
  }
  return tiles;
}

export interface LayoutOptions {
  /** Inner width of the gallery, in CSS pixels. */
  width: number;
  /** The height rows aim for. */
  rowHeight: number;
  /** Space between tiles, across and down. */
  gap: number;
  /** No row taller than this (a row of one very tall image); default 2 × rowHeight. */
  maxRowHeight?: number;
}

/** A row of the justified layout: its height and the width of each of its tiles. */
export interface Row {
  height: number;
  /** Index into the tiles given, and the width to draw it at. */
  items: { index: number; width: number }[];
  /** False for the last row when it was too short to fill the width (drawn at `rowHeight`). */
  full: boolean;
}

/** Aspect ratios beyond 1:4 or 4:1 are drawn cropped, so one odd image cannot flatten a row. */
function aspect(size: { width: number; height: number }): number {
  const a = size.width > 0 && size.height > 0 ? size.width / size.height : 1;
  return Math.min(4, Math.max(0.25, a));
}

function round2(n: number): number {
  return Math.round(n * 100) / 100;
}

/**
 * Justified rows (as Flickr and Google Photos lay images out): tiles keep their order and aspect
 * ratio, and every row but the last fills the width exactly, its height the one that makes it fit.
 * A row takes the next tile when that brings its height nearer to `rowHeight` than stopping
 * would. The last row keeps `rowHeight` instead of stretching; nothing leaves a hole.
 */
export function justifyRows(
  sizes: { width: number; height: number }[],
  options: LayoutOptions,
): Row[] {
  const { width, rowHeight, gap } = options;
  const maxRow = options.maxRowHeight ?? rowHeight * 2;
  const rows: Row[] = [];
  if (width <= 0) return rows;
  // Height of a row of `n` tiles whose aspect ratios add up to `sum`, when it fills the width.
  const fit = (n: number, sum: number) => (width - gap * (n - 1)) / sum;
  let start = 0;
  while (start < sizes.length) {
    let sum = aspect(sizes[start]);
    let end = start + 1;
    while (end < sizes.length) {
      const now = fit(end - start, sum);
      if (now <= rowHeight) break;
      const next = sum + aspect(sizes[end]);
      const taking = fit(end - start + 1, next);
      // Still taller than the target with the next tile: take it. Below: take it if nearer.
      if (taking >= rowHeight || Math.abs(taking - rowHeight) < Math.abs(now - rowHeight)) {
        sum = next;
        end++;
      }
      if (taking < rowHeight) break;
    }
    const filled = fit(end - start, sum);
    // The last row, when it cannot fill the width at the target height, keeps that height.
    const short = end === sizes.length && filled > rowHeight;
    const height = Math.min(short ? rowHeight : filled, maxRow);
    const items = [];
    for (let i = start; i < end; i++) {
      items.push({ index: i, width: round2(aspect(sizes[i]) * height) });
    }
    rows.push({ height: round2(height), items, full: height === filled });
    start = end;
  }
  return rows;
}

/** The row height to aim for at a gallery width: smaller on phones, so two or more fit a row. */
export function targetRowHeight(width: number): number {
  return width < 520 ? 140 : width < 960 ? 190 : 240;
}

/** The History filters of the URL state that narrow the list (not the page or the open job). */
export type LibraryFilters = Pick<
  UrlState,
  "status" | "q" | "provider" | "model" | "starred" | "collection" | "from" | "to" | "sort"
>;

/** The filters of a URL state, without the unset ones (for keys and comparisons). */
export function filtersOf(state: UrlState): LibraryFilters {
  const f: LibraryFilters = { status: state.status, q: state.q.trim() };
  for (const k of ["provider", "model", "starred", "collection", "from", "to", "sort"] as const) {
    if (state[k]) (f as Record<string, unknown>)[k] = state[k];
  }
  return f;
}

/** True when any filter (other than the sort order) is set. */
export function isFiltered(f: LibraryFilters): boolean {
  return !!(f.status || f.q || f.provider || f.model || f.starred || f.collection || f.from ||
    f.to);
}

/** Local midnight at the start of a `YYYY-MM-DD` day, plus `days`, as an ISO time. */
export function dayStart(day: string, days = 0): string {
  const [y, m, d] = day.split("-").map(Number);
  return new Date(y, m - 1, d + days).toISOString();
}

/** The filters as `GET /jobs` takes them: the day range as [from 00:00, the day after `to`). */
export function apiQuery(f: LibraryFilters): Omit<JobListQuery, "limit"> {
  const q: Omit<JobListQuery, "limit"> = {};
  if (f.status) q.status = f.status;
  if (f.provider) q.provider = f.provider;
  if (f.q) q.q = f.q;
  if (f.model) q.model = f.model;
  if (f.starred) q.starred = true;
  if (f.collection) q.collection = f.collection;
  if (f.from) q.after = dayStart(f.from);
  if (f.to) q.before = dayStart(f.to, 1);
  if (f.sort) q.sort = f.sort;
  return q;
}

const WORD = /[\p{L}\p{N}]+/gu;

/** The words of a text, lower-cased (runs of letters and digits, as the API's search splits). */
export function words(text: string): string[] {
  return text.toLowerCase().match(WORD) ?? [];
}

/**
 * True when every word of `q` starts a word of the prompt or negative prompt (the API's search:
 * "light house" finds "a lighthouse by the house"... and "red car" finds "a car, red").
 */
export function matchesQuery(job: Job, q: string): boolean {
  const wanted = words(q);
  if (!wanted.length) return true;
  const have = words(`${job.prompt} ${job.negative_prompt ?? ""}`);
  return wanted.every((w) => have.some((h) => h.startsWith(w)));
}

/** `owner/name` matches that model and its versions (`owner/name:abc…`). */
export function matchesModel(job: Job, model: string | undefined): boolean {
  return !model || job.model === model || job.model.startsWith(`${model}:`) ||
    job.route === model;
}

/**
 * The filters the page can check itself, for jobs the server already chose: words, model and
 * days (a server without the library ignores them), and the star where the server has no stars
 * (a job whose star was just taken off stays on the page until the next load).
 */
export function matchesPageFilters(job: Job, f: LibraryFilters): boolean {
  if (!matchesQuery(job, f.q) || !matchesModel(job, f.model)) return false;
  if (f.starred && job.starred === undefined && !job.local) return false;
  const t = Date.parse(job.created_at);
  if (f.from && t < Date.parse(dayStart(f.from))) return false;
  if (f.to && t >= Date.parse(dayStart(f.to, 1))) return false;
  return true;
}

/** For a job that arrived live (not from the server's page): every filter it can be checked on. */
export function matchesLiveFilters(job: Job, f: LibraryFilters): boolean {
  if (f.collection || (f.starred && !job.starred)) return false;
  if (f.provider && job.provider !== f.provider) return false;
  if (f.status && job.status !== f.status) {
    // An optimistic job is shown under "pending" and "processing" alike: it is about to run.
    if (!(job.local && (f.status === "pending" || f.status === "processing"))) return false;
  }
  return matchesPageFilters(job, f);
}
