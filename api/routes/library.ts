/**
 * The library: stars (POST/DELETE /jobs/{id}/star), bulk actions (POST /jobs/bulk) and
 * collections (GET/POST /collections, GET/PATCH/DELETE /collections/{id}, POST
 * /collections/{id}/jobs, DELETE /collections/{id}/jobs/{job_id}). Jobs are filtered by
 * collection with GET /jobs?collection={id} (api/routes/jobs.ts).
 *
 * Each key has its own collections (the open API's belong to no key); an admin key sees every
 * job but only its own collections. A job another key owns is `not_found`, as everywhere.
 */
import { type Context, Hono } from "hono";
import { AppError, NotFoundError, ValidationError } from "../../shared/errors.ts";
import { imageUrl, jobToJson } from "../../shared/jobs/json.ts";
import { getJob } from "../../shared/jobs/repo.ts";
import { issueDetails, isUuid } from "../../shared/jobs/schemas.ts";
import type { JobTimings } from "../../shared/jobs/timing.ts";
import { runBulk } from "../../shared/library/bulk.ts";
import {
  COLLECTION_LIMITS,
  CollectionNameTaken,
  type CollectionRow,
  countCollections,
  coverThumbnail,
  createCollection,
  deleteCollection,
  getCollection,
  type JobScope,
  listCollections,
  removeFromCollection,
  renameCollection,
  starJob,
} from "../../shared/library/collections.ts";
import { bulkBody, collectionBody, collectionJobsBody } from "../../shared/library/schemas.ts";
import type { z } from "zod";
import type { AppDeps, AppEnv } from "../app.ts";
import { canSee, type Principal, principalOf } from "../auth.ts";
import { readJsonBody } from "../body.ts";

/** Bodies of these endpoints are small: a name, or at most 100 ids. */
const BODY_BYTES = 16 * 1024;

/** A collection as the API shows it. */
export interface CollectionJson {
  id: string;
  name: string;
  job_count: number;
  /** The thumbnail of the newest job added that has an image, or null. */
  cover_url: string | null;
  created_at: string;
  updated_at: string;
}

function collectionToJson(row: CollectionRow): CollectionJson {
  const cover = coverThumbnail(row);
  return {
    id: row.id,
    name: row.name,
    job_count: row.job_count,
    cover_url: cover ? imageUrl(cover) : null,
    created_at: new Date(row.created_at).toISOString(),
    updated_at: new Date(row.updated_at).toISOString(),
  };
}

/** The jobs a caller may act on: their own, or every job for admins (none without a key). */
function jobScope(principal: Principal): JobScope {
  return principal.admin ? {} : { owner: principal.key?.id ?? NO_KEY };
}

/** An owner no job has: a caller that is neither admin nor a key acts on nothing. */
const NO_KEY = "00000000-0000-0000-0000-000000000000";

/** Whose collections a caller has: their key's (null for the open API). */
function collectionOwner(principal: Principal): string | null {
  return principal.key?.id ?? null;
}

/** A JSON body checked against a zod schema (422 naming each problem). */
async function body<T extends z.ZodType>(c: Context<AppEnv>, schema: T): Promise<z.output<T>> {
  const raw = await readJsonBody(c, BODY_BYTES);
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    throw new ValidationError("Request body is invalid", issueDetails(parsed.error));
  }
  return parsed.data;
}

/** The results of an action on many jobs, with how many went through. */
function bulkAnswer(action: string, results: Awaited<ReturnType<typeof runBulk>>) {
  const succeeded = results.filter((r) => r.ok).length;
  return { action, results, succeeded, failed: results.length - succeeded };
}

/** Routes mounted under the API prefix. */
export function libraryRoutes(deps: AppDeps & { timings: JobTimings }): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const prefix = deps.config.API_V1_PREFIX;

  /** The caller's collection, or 404. */
  const findCollection = async (c: Context<AppEnv>, id: string) => {
    const row = isUuid(id)
      ? await getCollection(deps.db, id.toLowerCase(), collectionOwner(principalOf(c)))
      : null;
    if (!row) throw new NotFoundError(`Collection ${id.slice(0, 100)} not found`);
    return row;
  };

  /** Stars or unstars one job the caller may see (404 otherwise) and answers the job. */
  const star = async (c: Context<AppEnv>, id: string, starred: boolean) => {
    const row = isUuid(id) ? await getJob(deps.db, id.toLowerCase()) : null;
    if (!row || !canSee(principalOf(c), row)) {
      throw new NotFoundError(`Job ${id.slice(0, 100)} not found`);
    }
    const changed = await starJob(deps.db, row.id, starred);
    if (!changed) throw new NotFoundError(`Job ${row.id} not found`);
    return jobToJson(changed, deps.timings.of(changed));
  };

  app.post("/jobs/:id/star", async (c) => c.json(await star(c, c.req.param("id"), true)));
  app.delete("/jobs/:id/star", async (c) => c.json(await star(c, c.req.param("id"), false)));

  app.post("/jobs/bulk", async (c) => {
    const request = await body(c, bulkBody);
    const principal = principalOf(c);
    let collection: string | undefined;
    if (request.action === "add_to" || request.action === "remove_from") {
      const id = request.collection ?? "";
      const found = isUuid(id)
        ? await getCollection(deps.db, id.toLowerCase(), collectionOwner(principal))
        : null;
      if (!found) {
        throw new ValidationError(`Collection ${id.slice(0, 100)} was not found`, [
          { field: "collection", message: `collection ${id.slice(0, 100)} was not found` },
        ]);
      }
      collection = found.id;
    }
    const results = await runBulk(
      {
        db: deps.db,
        storage: deps.storage,
        dequeue: (id) => deps.queue.remove(id),
        logger: c.get("logger"),
      },
      { ids: request.ids, action: request.action, collection },
      jobScope(principal),
    );
    return c.json(bulkAnswer(request.action, results));
  });

  app.get("/collections", async (c) => {
    const rows = await listCollections(deps.db, collectionOwner(principalOf(c)));
    return c.json(rows.map(collectionToJson));
  });

  app.post("/collections", async (c) => {
    const { name } = await body(c, collectionBody);
    const owner = collectionOwner(principalOf(c));
    if (await countCollections(deps.db, owner) >= COLLECTION_LIMITS.perOwner) {
      throw new ValidationError(
        `A key may have at most ${COLLECTION_LIMITS.perOwner} collections`,
        [{ field: "name", message: `at most ${COLLECTION_LIMITS.perOwner} collections` }],
      );
    }
    const row = await createCollection(deps.db, owner, name).catch(nameConflict);
    c.header("Location", `${prefix}/collections/${row.id}`);
    return c.json(collectionToJson(row), 201);
  });

  app.get(
    "/collections/:id",
    async (c) => c.json(collectionToJson(await findCollection(c, c.req.param("id")))),
  );

  app.patch("/collections/:id", async (c) => {
    const found = await findCollection(c, c.req.param("id"));
    const { name } = await body(c, collectionBody);
    const owner = collectionOwner(principalOf(c));
    const row = await renameCollection(deps.db, found.id, owner, name).catch(nameConflict);
    if (!row) throw new NotFoundError(`Collection ${found.id} not found`);
    return c.json(collectionToJson(row));
  });

  app.delete("/collections/:id", async (c) => {
    const found = await findCollection(c, c.req.param("id"));
    await deleteCollection(deps.db, found.id, collectionOwner(principalOf(c)));
    return c.body(null, 204);
  });

  app.post("/collections/:id/jobs", async (c) => {
    const found = await findCollection(c, c.req.param("id"));
    const { ids } = await body(c, collectionJobsBody);
    const results = await runBulk(
      {
        db: deps.db,
        storage: deps.storage,
        dequeue: (id) => deps.queue.remove(id),
        logger: c.get("logger"),
      },
      { ids, action: "add_to", collection: found.id },
      jobScope(principalOf(c)),
    );
    return c.json(bulkAnswer("add_to", results));
  });

  app.delete("/collections/:id/jobs/:job_id", async (c) => {
    const found = await findCollection(c, c.req.param("id"));
    const jobId = c.req.param("job_id");
    const scope = jobScope(principalOf(c));
    const removed = isUuid(jobId)
      ? await removeFromCollection(deps.db, found.id, [jobId.toLowerCase()], scope)
      : new Set<string>();
    if (removed.size === 0) throw new NotFoundError(`Job ${jobId.slice(0, 100)} not found`);
    return c.body(null, 204);
  });

  return app;
}

/** A name already used answers 409. */
function nameConflict(err: unknown): never {
  if (err instanceof CollectionNameTaken) throw new AppError(409, "conflict", err.message);
  throw err;
}
