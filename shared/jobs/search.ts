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
 * How a page is read. `jobs`: from the jobs table and its indexes (listing, status, star,
 * collection and date filters). `search` (words or a model): from job_search, the narrow table of
 * what never changes once a job is made (migration 00011), joined to jobs; `walk` lets Postgres
 * walk it newest first and stop at the page's end (cheap when many jobs match), `gather` first
 * gathers every match from the word index, then sorts them (cheap when few match).
 */
type Shape = "jobs" | "walk" | "gather";

/**
 * Above this many estimated matches a search walks the history instead of gathering the matches.
 * The planner's own choice between the two, made from its cost model, was measured to walk far
 * too long for words in 0.1–1 % of a million jobs (100–250 ms instead of a few): testing a word
 * costs much more than its cost model assumes.
 */
export const GATHER_MAX_ROWS = 5_000;

interface Parts {
  /** Conditions on job_search `w` (search shapes only). */
  search: Query[];
  /** Conditions on jobs. */
  jobs: Query[];
}

function isSearch(f: JobFilters): boolean {
  return Boolean(f.model) || (f.q !== undefined && searchWords(f.q) !== null);
}

/** The filters as conditions; in a search shape the immutable ones go to job_search. */
function conditions(f: JobFilters, search: boolean): Parts {
  const s: Query[] = [];
  const j: Query[] = [];
  const time = search ? "w.made_at" : "created_at";
  if (f.owner !== undefined) {
    (search ? s : j).push(search ? sql`w.owner = ${f.owner}` : sql`owner_key_id = ${f.owner}`);
  }
  if (f.model) {
    // The name part has an index (job_search_model_idx); a version narrows it further.
    const column = raw(search ? "w.model" : "model");
    const name = f.model.split(":")[0];
    (search ? s : j).push(sql`split_part(${column}, ':', 1) = ${name}`);
    if (f.model.includes(":")) (search ? s : j).push(sql`${column} = ${f.model}`);
  }
  const at = search ? s : j;
  if (f.after) at.push(sql`${raw(time)} >= ${f.after.toISOString()}::text::timestamptz`);
  if (f.before) at.push(sql`${raw(time)} < ${f.before.toISOString()}::text::timestamptz`);
  const words = f.q === undefined ? null : searchWords(f.q);
  if (words !== null) s.push(sql`w.words @@ to_tsquery('simple', ${words})`);
  if (f.status) j.push(sql`status = ${f.status}`);
  if (f.starred !== undefined) j.push(f.starred ? sql`starred` : sql`NOT starred`);
  if (f.collection) {
    j.push(sql`EXISTS (SELECT 1 FROM collection_jobs cj
                       WHERE cj.job_id = jobs.id AND cj.collection_id = ${f.collection})`);
  }
  return { search: s, jobs: j };
}

/** A fixed piece of SQL text (never a value). */
function raw(text: string): Query {
  return fragment({ text, values: [] });
}

function where(parts: Query[], keyword = "WHERE"): Query {
  return parts.length ? fragment(sql`${raw(keyword)} ${join(parts, " AND ")}`) : fragment(sql``);
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

/** The page statement for a shape. */
function pageStatement(page: PageRequest, shape: Shape, parts: Parts): Query {
  const dir = raw(page.sort === "newest" ? "DESC" : "ASC");
  const range = fragment(sql`OFFSET ${page.skip} LIMIT ${page.limit + 1}`);
  if (shape === "jobs") {
    const conds = [...parts.jobs];
    if (page.cursor) conds.push(afterCursor(page.cursor, "created_at", "id"));
    return sql`
      SELECT ${JOB_COLUMNS}, ${PAGE_AT("created_at")} AS page_at
      FROM jobs ${where(conds)}
      ORDER BY created_at ${dir}, id ${dir} ${range}`;
  }
  const conds = [...parts.search, ...parts.jobs];
  if (page.cursor) conds.push(afterCursor(page.cursor, "w.made_at", "w.job_id"));
  // MATERIALIZED: every match first, by the best plan for all of them (the word index, the
  // status index...), then sorted; NOT MATERIALIZED: Postgres may walk newest first.
  const how = raw(shape === "gather" ? "MATERIALIZED" : "NOT MATERIALIZED");
  return sql`
    WITH m AS ${how} (SELECT w.job_id, w.made_at FROM ${searchFrom(parts)} ${where(conds)})
    SELECT ${JOB_COLUMNS}, ${PAGE_AT("m.made_at")} AS page_at
    FROM m JOIN jobs ON jobs.id = m.job_id
    ORDER BY m.made_at ${dir}, m.job_id ${dir} ${range}`;
}

/** job_search, joined to jobs when a condition is about what changes (status, star...). */
function searchFrom(parts: Parts): Query {
  return parts.jobs.length === 0
    ? fragment(sql`job_search w`)
    : fragment(sql`job_search w JOIN jobs ON jobs.id = w.job_id`);
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
  if (!search) return sql`SELECT 1 FROM jobs ${where(parts.jobs)}`;
  return sql`SELECT 1 FROM ${searchFrom(parts)} ${where([...parts.search, ...parts.jobs])}`;
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
  const search = isSearch(page);
  const parts = conditions(page, search);
  let shape: Shape = "jobs";
  if (search) {
    // Only a word search is worth gathering first: a model alone has an index in time order.
    const words = page.q !== undefined && searchWords(page.q) !== null;
    const few = words &&
      await estimateRows(db, matching(parts, true)) <= (options.gatherMaxRows ?? GATHER_MAX_ROWS);
    shape = few ? "gather" : "walk";
  }
  const rows = await db.query<JobRow & { page_at: string }>({
    ...pageStatement(page, shape, parts),
    // Plans that depend on how common a word or a model is are made with the values.
    customPlan: search,
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
 * the page itself; an estimate is a planning step.
 */
export async function countMatching(
  db: Db,
  filters: JobFilters,
  options: { exactUpTo?: number } = {},
): Promise<{ total: number; estimated: boolean }> {
  const limit = options.exactUpTo ?? EXACT_COUNT_LIMIT;
  const search = isSearch(filters);
  const statement = matching(conditions(filters, search), search);
  const estimate = await estimateRows(db, statement);
  if (estimate > limit) return { total: estimate, estimated: true };
  const [row] = await db.query<{ n: number }>({
    ...sql`SELECT count(*)::int AS n FROM (${fragment(statement)}) AS m`,
    customPlan: true,
  });
  return { total: row.n, estimated: false };
}
