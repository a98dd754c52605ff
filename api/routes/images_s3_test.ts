import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { encode } from "fast-png";
import { createS3Storage } from "../../shared/storage/s3.ts";
import { parseS3Url } from "../../shared/storage/s3_url.ts";
import { startPrivateS3 } from "../../shared/testing/s3_server.ts";
import { imageRoutes } from "./images.ts";

const CSP = "default-src 'none'; sandbox";

function png(width: number, height: number): Uint8Array {
  let seed = 3;
  const data = Uint8Array.from(
    { length: width * height * 4 },
    () => (seed = (Math.imul(seed, 1103515245) + 12345) & 0x7fffffff) >> 16 & 0xff,
  );
  return encode({ width, height, data, channels: 4 });
}

Deno.test("images over a bucket: proxy and redirect delivery", async (t) => {
  const server = await startPrivateS3({ bucket: "media" });
  const tmpDir = await Deno.makeTempDir({ prefix: "darkroom-images-s3-" });
  try {
    const storage = createS3Storage({
      location: parseS3Url("s3://media/site"),
      region: "us-east-1",
      endpoint: server.endpoint,
      forcePathStyle: true,
      accessKeyId: server.accessKeyId,
      secretAccessKey: server.secretAccessKey,
      tmpDir,
    });
    const image = png(32, 24);
    const { file } = await storage.save(ReadableStream.from([image]), {
      name: "job1-0",
      maxBytes: 1_000_000,
    });
    const etag = `"${createHash("md5").update(image).digest("hex")}"`;

    await t.step("proxy: the object's ETag, size and date; 304; Range; HEAD", async () => {
      const app = imageRoutes({ storage });
      const res = await app.request(`/${file}`);
      assert.equal(res.status, 200);
      assert.equal(res.headers.get("etag"), etag);
      assert.equal(res.headers.get("content-length"), String(image.length));
      assert.equal(res.headers.get("content-type"), "image/png");
      assert.match(res.headers.get("last-modified") ?? "", /GMT$/);
      assert.equal(res.headers.get("cache-control"), "public, max-age=31536000, immutable");
      assert.equal(res.headers.get("content-security-policy"), CSP);
      assert.deepEqual(new Uint8Array(await res.arrayBuffer()), image);

      const cached = await app.request(`/${file}`, { headers: { "If-None-Match": etag } });
      assert.equal(cached.status, 304);
      assert.equal(cached.headers.get("etag"), etag);

      const part = await app.request(`/${file}`, { headers: { Range: "bytes=4-11" } });
      assert.equal(part.status, 206);
      assert.equal(part.headers.get("content-range"), `bytes 4-11/${image.length}`);
      assert.deepEqual(new Uint8Array(await part.arrayBuffer()), image.subarray(4, 12));

      const stale = await app.request(`/${file}`, {
        headers: { Range: "bytes=4-11", "If-Range": '"other"' },
      });
      assert.equal(stale.status, 200, "a changed validator gets the whole image");
      await stale.body?.cancel();

      const head = await app.request(`/${file}`, { method: "HEAD" });
      assert.equal(head.status, 200);
      assert.equal(head.headers.get("content-length"), String(image.length));

      const missing = await app.request("/job9-0.png");
      assert.equal(missing.status, 404);
      assert.equal(missing.headers.get("content-security-policy"), CSP);
      assert.equal((await missing.json()).error.code, "not_found");
    });

    await t.step("proxy with API keys on: private caching", async () => {
      const app = imageRoutes({ storage, security: { authMode: "api_key" } });
      const res = await app.request(`/${file}`);
      assert.equal(res.headers.get("cache-control"), "private, max-age=31536000, immutable");
      await res.body?.cancel();
    });

    await t.step("redirect: 302 to a short-lived presigned URL that serves the image", async () => {
      const app = imageRoutes({
        storage,
        config: { IMAGE_DELIVERY: "redirect", IMAGE_URL_TTL_S: 120 },
      });
      for (const method of ["GET", "HEAD"]) {
        const res = await app.request(`/${file}`, { method });
        assert.equal(res.status, 302, method);
        assert.equal(res.headers.get("cache-control"), "private, max-age=60");
        assert.equal(res.headers.get("content-security-policy"), CSP);
        const location = new URL(res.headers.get("location") ?? "");
        assert.equal(location.pathname, `/media/site/${file}`);
        assert.equal(location.searchParams.get("X-Amz-Expires"), "120");
        const fetched = await fetch(location);
        assert.equal(fetched.status, 200);
        assert.deepEqual(new Uint8Array(await fetched.arrayBuffer()), image);
      }
      for (const bad of ["/notes.txt", "/..%2Fx.png", "/a/b.png"]) {
        const res = await app.request(bad);
        assert.equal(res.status, 404, bad);
        await res.body?.cancel();
      }
    });

    await t.step("redirect with PUBLIC_IMAGE_BASE_URL: 302 to <base>/<key>", async () => {
      const base = `${server.endpoint}/media/`;
      const app = imageRoutes({
        storage,
        security: { authMode: "none" },
        config: { IMAGE_DELIVERY: "redirect", PUBLIC_IMAGE_BASE_URL: base },
      });
      const res = await app.request(`/${file}`);
      assert.equal(res.status, 302);
      assert.equal(res.headers.get("location"), `${server.endpoint}/media/site/${file}`);
      assert.equal(res.headers.get("cache-control"), "public, max-age=31536000, immutable");
      const fetched = await fetch(res.headers.get("location")!);
      assert.deepEqual(new Uint8Array(await fetched.arrayBuffer()), image);
    });
  } finally {
    await server.close();
    await Deno.remove(tmpDir, { recursive: true }).catch(() => {});
  }
});
