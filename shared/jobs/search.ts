/**
 * The library's search: one page of jobs matching filters (words of the prompt, model, status,
 * star, collection, dates), newest or oldest first, with an opaque cursor for the next page, and a
 * total that stays cheap on a large history (exact up to `EXACT_COUNT_LIMIT`, the planner's
 * estimate above). The words of each prompt live in `job_words` (migration 00011), written once
 * when the job is made; statements are planned with their own values (`customPlan`), so a rare
 * word is looked up in the word index and a common one found by walking the newest jobs.
 */
import { type Db, fragment, join, type Query, sql } from "../db/db.ts";
import { JOB_COLUMNS, type JobRow, type JobStatus } from "./repo.ts";

/** Which end of the history comes first. */
export type SortOrder = "newest" | "oldest";

/** What a page's jobs must match; every field is optional. */
export interface JobFilters {
  /** Only this API key's jobs (undefined: every job, for admins and an open API). */
  owner?: string;
  /** Words that must all start a word of the prompt or negative prompt (see `searchWords`). */
  q?: string;
  /** `owner/name` also matches its versions `owner/name:<version>`. */
  model?: string;
  status?: JobStatus;
  /** Only the jobs this provider holds (or, for a route not placed yet, will try first). */
  provider?: string;
  starred?: boolean;
  /** A collection id (the caller must have checked it is theirs). */
  collection?: string;
  /** Made at or after this moment. */
  after?: Date;
  /** Made before this moment. */
  before?: Date;
}

/** Where a page starts: after the job a cursor names, or after `skip` jobs. */
export interface PageRequest extends JobFilters {
  sort: SortOrder;
  limit: number;
  /** Jobs to skip (the old contract; keep it 0 with a cursor). */
  skip: number;
  cursor?: PageCursor;
}

/** The position after one job in one order (decoded from the opaque text). */
export interface PageCursor {
  sort: SortOrder;
  /** created_at in UTC with microseconds, as Postgres wrote it: `YYYY-MM-DDTHH:MM:SS.ffffff`. */
  at: string;
  id: string;
}

/** A page of jobs and the cursor of the next one (null at the end). */
export interface JobPage {
  rows: JobRow[];
  next: string | null;
}

/** Totals above this many matches are estimated (the planner's estimate, at least this + 1). */
export const EXACT_COUNT_LIMIT = 10_000;
/** Longest `q` and most words taken from it. */
export const SEARCH_LIMITS = { chars: 200, words: 8, wordChars: 64 } as const;

const WORD = /[\p{L}\p{N}]+/gu;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const CURSOR_AT = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})\.(\d{6})$/;

/**
 * The words of a search as a `to_tsquery('simple', …)` text: each word (a run of letters and
 * digits, lower-cased) as a prefix, all of them required: `'light':* & 'house':*`. Null when the
 * text has no word (the search is then no filter).
 */
export function searchWords(q: string): string | null {
  const words = [...new Set(q.toLowerCase().match(WORD) ?? [])]
    .map((w) => w.slice(0, SEARCH_LIMITS.wordChars))
    .slice(0, SEARCH_LIMITS.words);
  return words.length === 0 ? null : words.map((w) => `'${w}':*`).join(" & ");
}

/** The opaque text of a cursor (base64url; clients pass it back as they got it). */
export function encodeCursor(cursor: PageCursor): string {
  const text = `${cursor.sort === "newest" ? "n" : "o"}.${cursor.at}.${cursor.id}`;
  return btoa(text).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

/** A cursor from its text, or null when it is not one this service made. */
export function decodeCursor(text: string): PageCursor | null {
  if (text.length > 200 || !/^[A-Za-z0-9_-]+$/.test(text)) return null;
  let plain: string;
  try {
    plain = atob(text.replaceAll("-", "+").replaceAll("_", "/"));
  } catch {
    return null;
  }
  const m = /^([no])\.([0-9T:.-]{26})\.([0-9a-f-]{36})$/.exec(plain);
  if (!m || !validStamp(m[2]) || !UUID.test(m[3])) return null;
  return { sort: m[1] === "n" ? "newest" : "oldest", at: m[2], id: m[3] };
}

/** True for a real moment written as `YYYY-MM-DDTHH:MM:SS.ffffff` (no Feb 30, no hour 24). */
function validStamp(stamp: string): boolean {
  const m = CURSOR_AT.exec(stamp);
  if (!m) return false;
  const [y, mo, d, h, mi, s] = m.slice(1, 7).map(Number);
  const date = new Date(Date.UTC(y, mo - 1, d, h, mi, s));
  return y >= 1970 && date.getUTCFullYear() === y && date.getUTCMonth() === mo - 1 &&
    date.getUTCDate() === d && date.getUTCHours() === h && date.getUTCMinutes() === mi &&
    date.getUTCSeconds() === s;
}

/**
 * How a page is read:
 * - `jobs`: from jobs and its indexes (listing; status, star, collection and date filters).
 * - `walk` (words or a model, nothing about what changes): job_search, the narrow table of what
 *   never changes once a job is made (migration 00011), walked newest first to the page's end.
 * - `probe` (words or a model with a status, star or collection): jobs walked by what narrows
 *   them most (the status index, the starred index...), each probed in job_search.
 * - `gather` (words that few jobs have): every match from the word index first, then sorted.
 * Postgres chooses the plan within a shape; the shape is chosen here. Its own choice between
 * walking and gathering, made from its cost model, was measured to walk far too long for words in
 * 0.1–1 % of a million jobs (100–250 ms instead of a few): testing a word costs much more than
 * the model assumes.
 */
type Shape = "jobs" | "walk" | "probe" | "gather";

/**
 * Up to this many jobs estimated to have the words, a word search gathers them. Gathering costs
 * a visit per match; walking about a row per `limit / share of matches` rows, but in time order
 * (pages in a row): measured at a million jobs, the two cross near a few thousand matches.
 */
export const GATHER_MAX_ROWS = 3_000;

/** The filters as conditions, each on the table (and column) of each shape. */
interface Parts {
  /** About the job's immutable attributes on job_search `w`: owner, dates, model, words. */
  search: Query[];
  /** The same attributes on jobs (owner, dates, model; not the words). */
  same: Query[];
  /** About what changes: status, provider, star, collection (on jobs). */
  jobs: Query[];
  /** The words, on job_search `w` (also in `search`); null without words. */
  words: Query | null;
}

/** The filters as conditions for every shape. */
function conditions(f: JobFilters): Parts {
  const search: Query[] = [];
  const same: Query[] = [];
  const jobs: Query[] = [];
  if (f.owner !== undefined) {
    search.push(sql`w.owner = ${f.owner}`);
    same.push(sql`owner_key_id = ${f.owner}`);
  }
  if (f.model) {
    // The name part has an index (job_search_model_idx); a version narrows it further.
    const name = f.model.split(":")[0];
    search.push(sql`split_part(w.model, ':', 1) = ${name}`);
    same.push(sql`split_part(model, ':', 1) = ${name}`);
    if (f.model.includes(":")) {
      search.push(sql`w.model = ${f.model}`);
      same.push(sql`model = ${f.model}`);
    }
  }
  for (const [at, op] of [[f.after, ">="], [f.before, "<"]] as const) {
    if (!at) continue;
    search.push(sql`w.made_at ${raw(op)} ${at.toISOString()}::text::timestamptz`);
    same.push(sql`created_at ${raw(op)} ${at.toISOString()}::text::timestamptz`);
  }
  const text = f.q === undefined ? null : searchWords(f.q);
  const words = text === null ? null : sql`w.words @@ to_tsquery('simple', ${text})`;
  if (words) search.push(words);
  if (f.status) jobs.push(sql`status = ${f.status}`);
  // A job's provider changes when a route fails over: a condition on what changes.
  if (f.provider) jobs.push(sql`provider = ${f.provider}`);
  if (f.starred !== undefined) jobs.push(f.starred ? sql`starred` : sql`NOT starred`);
  if (f.collection) {
    jobs.push(sql`EXISTS (SELECT 1 FROM collection_jobs cj
                          WHERE cj.job_id = jobs.id AND cj.collection_id = ${f.collection})`);
  }
  return { search, same, jobs, words };
}

/** True when the filters need job_search (words or a model). */
function needsSearch(f: JobFilters): boolean {
  return Boolean(f.model) || (f.q !== undefined && searchWords(f.q) !== null);
}

/** A fixed piece of SQL text (never a value). */
function raw(text: string): Query {
  return fragment({ text, values: [] });
}

function where(parts: Query[]): Query {
  return parts.length ? fragment(sql`WHERE ${join(parts, " AND ")}`) : fragment(sql``);
}

/**
 * After the cursor's job in its order. Written so that the time column bounds the index scan (a
 * row comparison would be only a filter on the indexes that do not end with the id).
 */
function afterCursor(c: PageCursor, time: string, id: string): Query {
  const at = fragment(sql`(${c.at}::text::timestamp AT TIME ZONE 'UTC')`);
  const [t, i] = [raw(time), raw(id)];
  return c.sort === "newest"
    ? sql`${t} <= ${at} AND (${t} < ${at} OR ${i} < ${c.id}::uuid)`
    : sql`${t} >= ${at} AND (${t} > ${at} OR ${i} > ${c.id}::uuid)`;
}

const PAGE_AT = (time: string) =>
  raw(`to_char(${time} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US')`);

/** job_search, joined to jobs when a condition is about what changes (status, star...). */
function searchFrom(parts: Parts): Query {
  return parts.jobs.length === 0
    ? fragment(sql`job_search w`)
    : fragment(sql`job_search w JOIN jobs ON jobs.id = w.job_id`);
}

/** The conditions on jobs; with `probe`, the words as a probe into job_search. */
function jobsWhere(parts: Parts, probe: boolean): Query[] {
  const conds = [...parts.same, ...parts.jobs];
  if (probe && parts.words) {
    conds.push(sql`EXISTS (SELECT 1 FROM job_search w
                           WHERE w.job_id = jobs.id AND ${fragment(parts.words)})`);
  }
  return conds;
}

/** The page statement for a shape. */
function pageStatement(page: PageRequest, shape: Shape, parts: Parts): Query {
  const dir = raw(page.sort === "newest" ? "DESC" : "ASC");
  const range = fragment(sql`OFFSET ${page.skip} LIMIT ${page.limit + 1}`);
  if (shape === "jobs" || shape === "probe") {
    const conds = jobsWhere(parts, shape === "probe");
    if (page.cursor) conds.push(afterCursor(page.cursor, "created_at", "id"));
    return sql`
      SELECT ${JOB_COLUMNS}, ${PAGE_AT("created_at")} AS page_at
      FROM jobs ${where(conds)}
      ORDER BY created_at ${dir}, id ${dir} ${range}`;
  }
  const conds = [...parts.search, ...parts.jobs];
  if (page.cursor) conds.push(afterCursor(page.cursor, "w.made_at", "w.job_id"));
  // MATERIALIZED: every match first, by the best plan for all of them, then sorted; NOT
  // MATERIALIZED: Postgres may walk job_search newest first.
  const how = raw(shape === "gather" ? "MATERIALIZED" : "NOT MATERIALIZED");
  return sql`
    WITH m AS ${how} (SELECT w.job_id, w.made_at FROM ${searchFrom(parts)} ${where(conds)})
    SELECT ${JOB_COLUMNS}, ${PAGE_AT("m.made_at")} AS page_at
    FROM m JOIN jobs ON jobs.id = m.job_id
    ORDER BY m.made_at ${dir}, m.job_id ${dir} ${range}`;
}

/** The planner's estimate of the rows a statement returns (its top plan node's). */
async function estimateRows(db: Db, statement: Query): Promise<number> {
  const [plan] = await db.query<{ "QUERY PLAN": unknown }>({
    ...sql`EXPLAIN (FORMAT JSON) ${fragment(statement)}`,
    customPlan: true,
  });
  const value = plan?.["QUERY PLAN"];
  const parsed = typeof value === "string" ? JSON.parse(value) : value;
  const rows = Array.isArray(parsed) ? parsed[0]?.Plan?.["Plan Rows"] : undefined;
  return typeof rows === "number" && Number.isFinite(rows) ? Math.round(rows) : 0;
}

/** The jobs that match, as one statement without order (for counts and estimates). */
function matching(parts: Parts, search: boolean): Query {
  if (!search) return sql`SELECT 1 FROM jobs ${where(jobsWhere(parts, false))}`;
  return sql`SELECT 1 FROM ${searchFrom(parts)} ${where([...parts.search, ...parts.jobs])}`;
}

/** The shape of a page (see Shape); may ask the planner how many jobs have the words. */
async function shapeOf(db: Db, f: JobFilters, parts: Parts, gatherMax: number): Promise<Shape> {
  if (!needsSearch(f)) return "jobs";
  if (parts.words) {
    const few = await estimateRows(db, sql`SELECT 1 FROM job_search w ${where(parts.search)}`);
    if (few <= gatherMax) return "gather";
  }
  return parts.jobs.length > 0 ? "probe" : "walk";
}

/**
 * One page of matching jobs in the requested order, and the cursor after its last job.
 * `gatherMaxRows` (GATHER_MAX_ROWS) is where a word search switches from gathering to walking.
 */
export async function searchJobs(
  db: Db,
  page: PageRequest,
  options: { gatherMaxRows?: number } = {},
): Promise<JobPage> {
  const parts = conditions(page);
  const shape = await shapeOf(db, page, parts, options.gatherMaxRows ?? GATHER_MAX_ROWS);
  const rows = await db.query<JobRow & { page_at: string }>({
    ...pageStatement(page, shape, parts),
    // Plans that depend on how common a word or a model is are made with the values.
    customPlan: shape !== "jobs",
  });
  const more = rows.length > page.limit;
  const shown = more ? rows.slice(0, page.limit) : rows;
  const last = shown[shown.length - 1];
  return {
    rows: shown.map(({ page_at: _, ...row }) => row),
    next: more && last ? encodeCursor({ sort: page.sort, at: last.page_at, id: last.id }) : null,
  };
}

/**
 * How many jobs match: exact when the planner expects at most `exactUpTo` (EXACT_COUNT_LIMIT),
 * its estimate otherwise (then `estimated`). Counting a million rows exactly takes longer than
 * the page itself; an estimate is a planning step. With words, also their matches alone must be
 * few: counting a common word's jobs that have a rare status means visiting all of them.
 */
export async function countMatching(
  db: Db,
  filters: JobFilters,
  options: { exactUpTo?: number } = {},
): Promise<{ total: number; estimated: boolean }> {
  const limit = options.exactUpTo ?? EXACT_COUNT_LIMIT;
  const parts = conditions(filters);
  const statement = matching(parts, needsSearch(filters));
  const estimate = await estimateRows(db, statement);
  if (estimate > limit) return { total: estimate, estimated: true };
  if (parts.words && parts.jobs.length > 0) {
    const words = await estimateRows(db, sql`SELECT 1 FROM job_search w ${where(parts.search)}`);
    if (words > limit) return { total: estimate, estimated: true };
  }
  const [row] = await db.query<{ n: number }>({
    ...sql`SELECT count(*)::int AS n FROM (${fragment(statement)}) AS m`,
    customPlan: true,
  });
  return { total: row.n, estimated: false };
}

/**
 * Merges the word index's pending entries into the index (migration 00011): done by workers every
 * few seconds, so that a submit never has to. Returns the pages merged.
 */
export async function flushSearchIndex(db: Db): Promise<number> {
  const [row] = await db.query<{ n: number }>(
    sql`SELECT gin_clean_pending_list('job_search_words_idx'::regclass)::int AS n`,
  );
  return row?.n ?? 0;
}
