/**
 * Uploads, for image inputs: POST /uploads takes an image (the raw body, or multipart field
 * `file`), GET and DELETE /uploads/{id} read and remove one. The image itself is served at
 * `/uploads/{id}` (outside the API prefix): to its owner with their key, or to anyone holding a
 * signed, expiring URL (what a provider gets from the worker).
 */
import { type Context, Hono } from "hono";
import {
  AppError,
  BadRequestError,
  NotFoundError,
  PayloadTooLargeError,
} from "../../shared/errors.ts";
import { isUuid } from "../../shared/jobs/schemas.ts";
import type { Storage } from "../../shared/storage/storage.ts";
import {
  deleteUnusedUpload,
  findUpload,
  type UploadRow,
  type UploadViewer,
} from "../../shared/uploads/repo.ts";
import type { UploadSigner } from "../../shared/uploads/signing.ts";
import { storeUpload, uploadToJson } from "../../shared/uploads/store.ts";
import { removeImages } from "../../shared/media/thumbnails.ts";
import type { AppDeps, AppEnv } from "../app.ts";
import { type Principal, principalOf } from "../auth.ts";
import { readBody } from "../body.ts";

/** Default cap of one upload (UPLOAD_MAX_BYTES). */
export const DEFAULT_UPLOAD_MAX_BYTES = 20 * 1024 * 1024;
/** Room for the multipart framing around the file. */
const MULTIPART_SLACK = 64 * 1024;
/** An image is a document of its own: no scripts, no plugins, no same-origin access. */
const IMAGE_CSP = "default-src 'none'; sandbox";

/** What the upload routes need. */
export type UploadRouteDeps = Pick<AppDeps, "db" | "storage" | "config"> & {
  signer: UploadSigner;
};

function viewerOf(principal: Principal): UploadViewer {
  return { admin: principal.admin, keyId: principal.key?.id ?? null };
}

/** The API routes (mounted under the prefix): POST /uploads, GET and DELETE /uploads/{id}. */
export function uploadRoutes(deps: UploadRouteDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const prefix = deps.config.API_V1_PREFIX;
  const maxBytes = deps.config.UPLOAD_MAX_BYTES ?? DEFAULT_UPLOAD_MAX_BYTES;
  const ttlS = deps.config.UPLOAD_TTL_S ?? 86_400;

  const find = async (c: Context<AppEnv>): Promise<UploadRow> => {
    const id = c.req.param("id") ?? "";
    const row = isUuid(id)
      ? await findUpload(deps.db, id.toLowerCase(), viewerOf(principalOf(c)))
      : null;
    if (!row) throw new NotFoundError(`Upload ${id.slice(0, 100)} not found`);
    return row;
  };

  app.post("/uploads", async (c) => {
    const bytes = await readUpload(c, maxBytes);
    const row = await storeUpload(deps, bytes, {
      owner: principalOf(c).key?.id ?? null,
      maxBytes,
      ttlS,
    });
    c.get("logger").info("upload stored", { uploadId: row.id, bytes: Number(row.bytes) });
    c.header("Location", `${prefix}/uploads/${row.id}`);
    return c.json(uploadToJson(row), 201);
  });

  app.get("/uploads/:id", async (c) => c.json(uploadToJson(await find(c))));

  app.delete("/uploads/:id", async (c) => {
    const row = await find(c);
    const deleted = await deleteUnusedUpload(deps.db, row.id);
    if (!deleted) {
      throw new AppError(
        409,
        "conflict",
        `Upload ${row.id} is used by a job; delete the job first`,
      );
    }
    await removeImages(deps.storage, [{ ...deleted, bytes: Number(deleted.bytes) }]);
    return c.body(null, 204);
  });

  return app;
}

/**
 * The image of an upload, mounted at `/uploads`: GET /uploads/{id} with the owner's key (in
 * Authorization), or with `expires` and `signature` from a signed URL.
 */
export function uploadFileRoutes(deps: UploadRouteDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.use("*", async (c, next) => {
    c.header("Content-Security-Policy", IMAGE_CSP);
    await next();
  });
  app.get("/:id", async (c) => {
    const id = (c.req.param("id") ?? "").toLowerCase();
    if (!isUuid(id)) throw new NotFoundError("Upload not found");
    const { expires, signature } = c.req.query();
    let viewer: UploadViewer | null;
    if (signature !== undefined) {
      if (!(await deps.signer.verify(id, expires, signature))) {
        throw new AppError(403, "forbidden", "The signed upload URL is invalid or has expired");
      }
      viewer = null;
    } else {
      viewer = viewerOf(principalOf(c));
    }
    const row = await findUpload(deps.db, id, viewer);
    if (!row) throw new NotFoundError("Upload not found");
    return await serveUpload(c, deps.storage, row, viewer === null);
  });
  return app;
}

async function serveUpload(
  c: Context<AppEnv>,
  storage: Storage,
  row: UploadRow,
  signed: boolean,
): Promise<Response> {
  const headers = {
    "Content-Type": row.content_type,
    "Content-Length": String(Number(row.bytes)),
    "Cache-Control": signed ? "private, max-age=60" : "private, max-age=3600",
    "X-Content-Type-Options": "nosniff",
  };
  if (c.req.method === "HEAD") return c.body(null, 200, headers);
  let body: ReadableStream<Uint8Array>;
  try {
    body = await storage.read(row.file);
  } catch (err) {
    if (err instanceof NotFoundError) throw new NotFoundError("Upload not found");
    throw err;
  }
  return c.body(body, 200, headers);
}

/** The uploaded bytes: the raw body, or the `file` field of a multipart form. */
async function readUpload(c: Context<AppEnv>, maxBytes: number): Promise<Uint8Array> {
  const type = c.req.header("content-type") ?? "";
  if (/^multipart\/form-data\s*;/i.test(type)) {
    const body = await readBody(c, maxBytes + MULTIPART_SLACK);
    let form: FormData;
    try {
      form = await new Response(body as Uint8Array<ArrayBuffer>, {
        headers: { "content-type": type },
      }).formData();
    } catch {
      throw new BadRequestError("Cannot read the multipart form");
    }
    const file = form.get("file");
    if (!(file instanceof File)) {
      throw new BadRequestError('The multipart form needs the image in a field named "file"');
    }
    if (file.size > maxBytes) throw new PayloadTooLargeError(maxBytes);
    return new Uint8Array(await file.arrayBuffer());
  }
  const bytes = await readBody(c, maxBytes);
  if (bytes.byteLength === 0) {
    throw new BadRequestError(
      'The upload is empty: send the image as the body, or as multipart field "file"',
    );
  }
  return bytes;
}
