/** Uploads on the real app, Postgres and a temporary storage folder. */
import assert from "node:assert/strict";
import { createApiKey } from "../../shared/auth/api_keys.ts";
import { sql } from "../../shared/db/db.ts";
import { createTestDeps, type TestDeps, testSecurity } from "../../shared/testing/app_deps.ts";
import { GIF_1X1, pngBytes } from "../../shared/testing/image_fixtures.ts";
import { createUploadSigner } from "../../shared/uploads/signing.ts";
import { sweepExpiredUploads } from "../../shared/uploads/store.ts";
import { createApp } from "../app.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };
type App = ReturnType<typeof createApp>;

function withUploads(
  name: string,
  fn: (deps: TestDeps, app: App, keys: { alice: string; bob: string }) => Promise<void>,
) {
  Deno.test({
    name,
    ...opts,
    fn: async () => {
      const deps = await createTestDeps();
      try {
        const app = createApp({
          ...deps,
          security: testSecurity(),
          config: { ...deps.config, UPLOAD_MAX_BYTES: 64 * 1024, UPLOAD_TTL_S: 3600 },
        });
        const keys = {
          alice: (await createApiKey(deps.db, { name: "alice" })).key,
          bob: (await createApiKey(deps.db, { name: "bob" })).key,
        };
        await fn(deps, app, keys);
      } finally {
        await deps.cleanup();
      }
    },
  });
}

function upload(app: App, key: string, body: BodyInit, type?: string) {
  const headers: Record<string, string> = { authorization: `Bearer ${key}` };
  if (type) headers["content-type"] = type;
  return Promise.resolve(app.request("/api/v1/uploads", { method: "POST", headers, body }));
}

function get(app: App, path: string, key?: string) {
  return Promise.resolve(
    app.request(path, { headers: key ? { authorization: `Bearer ${key}` } : {} }),
  );
}

withUploads("uploads: a raw body and a multipart file are stored, typed by magic bytes", async (
  deps,
  app,
  { alice },
) => {
  const png = pngBytes(20, 10);
  // The declared type is not trusted: the bytes say PNG.
  const res = await upload(app, alice, png, "application/octet-stream");
  assert.equal(res.status, 201);
  const body = await res.json();
  assert.match(body.id, /^[0-9a-f-]{36}$/);
  assert.equal(body.url, `/uploads/${body.id}`);
  assert.equal(res.headers.get("location"), `/api/v1/uploads/${body.id}`);
  assert.equal(body.content_type, "image/png");
  assert.equal(body.width, 20);
  assert.equal(body.height, 10);
  assert.equal(body.bytes, png.byteLength);
  const ttl = Date.parse(body.expires_at) - Date.now();
  assert.ok(ttl > 3500_000 && ttl <= 3600_000, `expires in ${ttl} ms`);
  // The file is in the image storage, under a name /images never serves.
  const [row] = await deps.db.query<{ file: string }>(
    sql`SELECT file FROM uploads WHERE id = ${body.id}`,
  );
  assert.equal(row.file, `upload-${body.id}.png`);
  assert.ok(await deps.storage.stat(row.file));
  assert.equal((await get(app, `/images/${row.file}`)).status, 404);

  const form = new FormData();
  form.append("file", new Blob([GIF_1X1], { type: "image/gif" }), "dot.gif");
  const multi = await upload(app, alice, form);
  assert.equal(multi.status, 201);
  const gif = await multi.json();
  assert.equal(gif.content_type, "image/gif");
  assert.equal(gif.width, 1);

  // The owner reads the details and the image (with the key header).
  const details = await get(app, `/api/v1/uploads/${body.id}`, alice);
  assert.equal(details.status, 200);
  assert.deepEqual(await details.json(), body);
  const image = await get(app, `/uploads/${body.id}`, alice);
  assert.equal(image.status, 200);
  assert.equal(image.headers.get("content-type"), "image/png");
  assert.equal(image.headers.get("content-security-policy"), "default-src 'none'; sandbox");
  assert.deepEqual(new Uint8Array(await image.arrayBuffer()), png);
  // A key in the URL is accepted only by the event stream (README, Security): not here.
  const query = await get(app, `/uploads/${body.id}?access_token=${alice}`);
  assert.equal(query.status, 401);
  await query.body?.cancel();
});

withUploads("uploads: not an image is 415, over the cap 413, empty 400; nothing is kept", async (
  deps,
  app,
  { alice },
) => {
  const html = await upload(app, alice, "<!doctype html><script>alert(1)</script>", "image/png");
  assert.equal(html.status, 415);
  assert.equal((await html.json()).error.code, "unsupported_media_type");
  const big = new Uint8Array(64 * 1024 + 1);
  big.set(pngBytes(2, 2));
  const tooBig = await upload(app, alice, big, "image/png");
  assert.equal(tooBig.status, 413);
  const form = new FormData();
  form.append("file", new Blob([big]), "big.png");
  assert.equal((await upload(app, alice, form)).status, 413);
  const noFile = new FormData();
  noFile.append("image", "x");
  assert.equal((await upload(app, alice, noFile)).status, 400);
  assert.equal((await upload(app, alice, new Uint8Array(0), "image/png")).status, 400);
  const [{ n }] = await deps.db.query<{ n: number }>(sql`SELECT count(*)::int AS n FROM uploads`);
  assert.equal(n, 0);
});

withUploads("uploads: another key gets 404; no key 401; a signed URL needs no key", async (
  deps,
  app,
  { alice, bob },
) => {
  const { id } = await (await upload(app, alice, pngBytes())).json();
  assert.equal((await get(app, `/api/v1/uploads/${id}`, bob)).status, 404);
  assert.equal((await get(app, `/uploads/${id}`, bob)).status, 404);
  const del = await Promise.resolve(app.request(`/api/v1/uploads/${id}`, {
    method: "DELETE",
    headers: { authorization: `Bearer ${bob}` },
  }));
  assert.equal(del.status, 404);
  assert.equal((await get(app, `/uploads/${id}`)).status, 401);
  assert.equal((await get(app, `/api/v1/uploads/not-a-uuid`, alice)).status, 404);

  const signer = createUploadSigner({ db: deps.db });
  const signed = await signer.signedPath(id, 60);
  const ok = await get(app, signed);
  assert.equal(ok.status, 200);
  assert.equal(ok.headers.get("content-type"), "image/png");
  await ok.body?.cancel();
  const forged = signed.replace(
    /signature=./,
    (m) => m.endsWith("A") ? "signature=B" : "signature=A",
  );
  assert.equal((await get(app, forged)).status, 403);
  const otherId = signed.replace(id, crypto.randomUUID());
  assert.equal((await get(app, otherId)).status, 403);
  const late = createUploadSigner({ db: deps.db, now: () => Date.now() - 120_000 });
  assert.equal((await get(app, await late.signedPath(id, 60))).status, 403);
});

withUploads("uploads: expire unless a job uses them; DELETE removes an unused one", async (
  deps,
  app,
  { alice },
) => {
  const a = await (await upload(app, alice, pngBytes())).json();
  const b = await (await upload(app, alice, pngBytes(8, 8))).json();
  await deps.db.query(sql`UPDATE uploads SET expires_at = now() - interval '1 second'`);
  assert.equal((await get(app, `/api/v1/uploads/${a.id}`, alice)).status, 404, "expired");
  // b is used by a job: it stays.
  const job = crypto.randomUUID();
  await deps.db.query(sql`INSERT INTO jobs (id, prompt, model, provider)
    VALUES (${job}, 'p', 'local/abstract', 'local')`);
  await deps.db.query(sql`INSERT INTO job_uploads (job_id, upload_id) VALUES (${job}, ${b.id})`);
  assert.equal(await sweepExpiredUploads(deps), 1);
  assert.equal(await deps.storage.stat(`upload-${a.id}.png`), null, "file removed");
  assert.equal((await get(app, `/api/v1/uploads/${b.id}`, alice)).status, 200);
  const used = await Promise.resolve(app.request(`/api/v1/uploads/${b.id}`, {
    method: "DELETE",
    headers: { authorization: `Bearer ${alice}` },
  }));
  assert.equal(used.status, 409);
  // Deleting the job releases it: it expires at once and the sweep removes it.
  await deps.db.query(sql`DELETE FROM jobs WHERE id = ${job}`);
  assert.equal((await get(app, `/api/v1/uploads/${b.id}`, alice)).status, 404);
  assert.equal(await sweepExpiredUploads(deps), 1);
  assert.equal(await deps.storage.stat(`upload-${b.id}.png`), null);

  const c = await (await upload(app, alice, pngBytes())).json();
  const gone = await Promise.resolve(app.request(`/api/v1/uploads/${c.id}`, {
    method: "DELETE",
    headers: { authorization: `Bearer ${alice}` },
  }));
  assert.equal(gone.status, 204);
  assert.equal(await deps.storage.stat(`upload-${c.id}.png`), null);
});
