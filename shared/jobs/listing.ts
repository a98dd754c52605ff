/**
 * GET /jobs without the HTTP: the query checked (422 naming each bad parameter), one page read
 * (identical requests made while one is read share the next read and its JSON) and the total
 * (kept a second per filter; exact up to EXACT_COUNT_LIMIT, estimated above).
 */
import { createSharedReads } from "../batcher.ts";
import type { Db } from "../db/db.ts";
import { ValidationError } from "../errors.ts";
import { getCollection } from "../library/collections.ts";
import { jobToJson } from "./json.ts";
import { issueDetails, listQuery } from "./schemas.ts";
import {
  countMatching,
  decodeCursor,
  type JobFilters,
  type PageRequest,
  searchJobs,
} from "./search.ts";
import type { JobTimings } from "./timing.ts";

/** A page as the route sends it. */
export interface ListAnswer {
  /** The JSON array of jobs. */
  body: string;
  total: number;
  /** True when `total` is the planner's estimate (above EXACT_COUNT_LIMIT matches). */
  estimated: boolean;
  /** The cursor of the next page, or null at the end. */
  next: string | null;
}

/** Who lists: whose jobs they see, and whose collections they may filter by. */
export interface Lister {
  /** Only this key's jobs (undefined: every job, for admins and an open API). */
  owner?: string;
  /** The caller's collections' owner (a key id, or null for the open API's). */
  collectionOwner: string | null;
}

/** The listing of one process (its shared reads and cached totals). */
export function createJobListing(
  db: Db,
  timings: JobTimings,
): (query: Record<string, string>, lister: Lister) => Promise<ListAnswer> {
  const pages = createSharedReads<{ body: string; next: string | null }>();
  const totals = createShortCache<{ total: number; estimated: boolean }>(1000);

  return async (query, lister) => {
    const parsed = listQuery.safeParse(query);
    if (!parsed.success) throw new ValidationError("Query is invalid", issueDetails(parsed.error));
    const { skip, limit, sort = "newest", cursor: cursorText, ...rest } = parsed.data;
    const cursor = cursorText === undefined ? undefined : decodeCursor(cursorText);
    if (cursor === null) {
      throw new ValidationError("Query is invalid", [
        { field: "cursor", message: "cursor must be a cursor from X-Next-Cursor" },
      ]);
    }
    if (cursor && cursor.sort !== sort) {
      throw new ValidationError("Query is invalid", [
        { field: "cursor", message: `this cursor pages sort=${cursor.sort}; send that sort` },
      ]);
    }
    if (rest.collection !== undefined) {
      const found = await getCollection(db, rest.collection, lister.collectionOwner);
      if (!found) {
        throw new ValidationError("Query is invalid", [
          { field: "collection", message: `collection ${rest.collection} was not found` },
        ]);
      }
    }
    const filters: JobFilters = { ...rest, owner: lister.owner };
    const page: PageRequest = { ...filters, skip, limit, sort, cursor };
    // The owner is the only thing about the caller that changes the answer: it is in the keys.
    const [read, counted] = await Promise.all([
      pages(JSON.stringify(page), async () => {
        const { rows, next } = await searchJobs(db, page);
        await timings.ready(rows);
        return { body: JSON.stringify(rows.map((row) => jobToJson(row, timings.of(row)))), next };
      }),
      totals.get(JSON.stringify(filters), () => countMatching(db, filters)),
    ]);
    return { ...read, ...counted };
  };
}

/** Caches values for `ttlMs` (sharing one in-flight computation per key). */
function createShortCache<T>(ttlMs: number) {
  const entries = new Map<string, { at: number; value: Promise<T> }>();
  return {
    get(key: string, compute: () => Promise<T>): Promise<T> {
      const now = Date.now();
      const hit = entries.get(key);
      if (hit && now - hit.at < ttlMs) return hit.value;
      const value = compute();
      entries.set(key, { at: now, value });
      value.catch(() => entries.delete(key));
      if (entries.size > 10_000) entries.clear();
      return value;
    },
  };
}
