import assert from "node:assert/strict";
import { join } from "node:path";
import { Hono } from "hono";
import { encode } from "fast-png";
import { imageDimensions } from "../../shared/media/image_info.ts";
import { createLocalStorage } from "../../shared/storage/local.ts";
import { imageRoutes } from "./images.ts";

const MTIME = new Date("2025-03-04T05:06:07.890Z");
const NOT_FOUND = { error: { code: "not_found", message: "Image not found" } };

interface Fixture {
  app: Hono;
  root: string;
  image: Uint8Array;
  file: string;
}

function png(width: number, height: number): Uint8Array {
  let seed = 7;
  const data = Uint8Array.from(
    { length: width * height * 4 },
    () => (seed = (Math.imul(seed, 1103515245) + 12345) & 0x7fffffff) >> 16 & 0xff,
  );
  return encode({ width, height, data, channels: 4 });
}

async function withApp(fn: (fixture: Fixture) => Promise<void>): Promise<void> {
  const root = await Deno.makeTempDir({ prefix: "darkroom-images-" });
  try {
    const storage = createLocalStorage(root);
    const image = png(40, 30);
    const stored = await storage.save(ReadableStream.from([image]), {
      name: "job1-0",
      maxBytes: 1_000_000,
    });
    await Deno.utime(join(root, "generated", stored.file), MTIME, MTIME);
    await fn({ app: imageRoutes({ storage }), root, image, file: stored.file });
    assert.deepEqual(await openFilesUnder(root), [], "every served file is closed");
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}

/** Targets of this process's open file descriptors under `root` (Linux /proc). */
async function openFilesUnder(root: string): Promise<string[]> {
  const open: string[] = [];
  for await (const entry of Deno.readDir("/proc/self/fd")) {
    const target = await Deno.readLink(`/proc/self/fd/${entry.name}`).catch(() => "");
    if (target.startsWith(root)) open.push(target);
  }
  return open;
}

async function bodyBytes(res: Response): Promise<Uint8Array> {
  return new Uint8Array(await res.arrayBuffer());
}

/** The JSON 404; a HEAD answer has the same status and headers but no body. */
async function assertNotFound(res: Response, label: string, head = false): Promise<void> {
  assert.equal(res.status, 404, label);
  assert.match(res.headers.get("content-type") ?? "", /^application\/json/, label);
  if (head) assert.equal((await bodyBytes(res)).length, 0, label);
  else assert.deepEqual(await res.json(), NOT_FOUND, label);
}

Deno.test("GET serves the file with caching and validator headers", async () => {
  await withApp(async ({ app, image, file }) => {
    const res = await app.request(`/${file}`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-type"), "image/png");
    assert.equal(res.headers.get("content-length"), String(image.length));
    assert.match(res.headers.get("etag") ?? "", /^"[0-9a-f]+-[0-9a-f]+"$/);
    assert.equal(res.headers.get("last-modified"), "Tue, 04 Mar 2025 05:06:07 GMT");
    assert.equal(res.headers.get("cache-control"), "public, max-age=31536000, immutable");
    assert.equal(res.headers.get("accept-ranges"), "bytes");
    assert.equal(res.headers.get("x-content-type-options"), "nosniff");
    assert.deepEqual(await bodyBytes(res), image);
  });
});

Deno.test("content type follows the extension; other extensions are 404", async () => {
  await withApp(async ({ app, root, image }) => {
    const types = { "a.jpg": "image/jpeg", "a.jpeg": "image/jpeg", "a.webp": "image/webp" };
    for (const [name, type] of Object.entries({ ...types, "a.gif": "image/gif" })) {
      await Deno.writeFile(join(root, "generated", name), image);
      const res = await app.request(`/${name}`);
      assert.equal(res.status, 200, name);
      assert.equal(res.headers.get("content-type"), type, name);
      await res.body?.cancel();
    }
    for (const name of ["a.svg", "a.html", "a.txt", "noext", "a.png.txt"]) {
      await Deno.writeFile(join(root, "generated", name), image);
      await assertNotFound(await app.request(`/${name}`), name);
    }
    await assertNotFound(await app.request("/missing.png"), "missing");
  });
});

Deno.test("HEAD answers the headers and the real length without a body", async () => {
  await withApp(async ({ app, image, file }) => {
    const res = await app.request(`/${file}`, { method: "HEAD" });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-length"), String(image.length));
    assert.equal(res.headers.get("content-type"), "image/png");
    assert.ok(res.headers.get("etag"));
    assert.equal((await bodyBytes(res)).length, 0);

    const ranged = await app.request(`/${file}`, {
      method: "HEAD",
      headers: { Range: "bytes=0-9" },
    });
    assert.equal(ranged.status, 206);
    assert.equal(ranged.headers.get("content-length"), "10");
    assert.equal((await bodyBytes(ranged)).length, 0);

    await assertNotFound(await app.request("/missing.png", { method: "HEAD" }), "missing", true);
  });
});

Deno.test("If-None-Match answers 304 for matching tags, lists, weak tags and *", async () => {
  await withApp(async ({ app, file }) => {
    const etag = (await app.request(`/${file}`, { method: "HEAD" })).headers.get("etag")!;
    for (const value of [etag, `W/${etag}`, `"other", ${etag}`, `"a",W/${etag} ,"b"`, "*"]) {
      const res = await app.request(`/${file}`, { headers: { "If-None-Match": value } });
      assert.equal(res.status, 304, value);
      assert.equal(res.headers.get("etag"), etag);
      assert.equal(res.headers.get("cache-control"), "public, max-age=31536000, immutable");
      assert.equal((await bodyBytes(res)).length, 0);
    }
    for (const value of ['"other"', `${etag.slice(0, -2)}"`, 'W/"x"']) {
      const res = await app.request(`/${file}`, { headers: { "If-None-Match": value } });
      assert.equal(res.status, 200, value);
      await res.body?.cancel();
    }
  });
});

Deno.test("If-Modified-Since answers 304 unless the file is newer", async () => {
  await withApp(async ({ app, file }) => {
    const cases: [string, number][] = [
      ["Tue, 04 Mar 2025 05:06:07 GMT", 304], // equal at one-second precision
      ["Tue, 04 Mar 2025 06:00:00 GMT", 304],
      ["Tue, 04 Mar 2025 05:06:06 GMT", 200],
      ["Mon, 01 Jan 2024 00:00:00 GMT", 200],
      ["not a date", 200],
    ];
    for (const [since, status] of cases) {
      const res = await app.request(`/${file}`, { headers: { "If-Modified-Since": since } });
      assert.equal(res.status, status, since);
      await res.body?.cancel();
    }
    // If-None-Match takes precedence over If-Modified-Since.
    const res = await app.request(`/${file}`, {
      headers: { "If-None-Match": '"other"', "If-Modified-Since": "Tue, 04 Mar 2025 06:00:00 GMT" },
    });
    assert.equal(res.status, 200);
    await res.body?.cancel();
  });
});

Deno.test("Range serves 206 for the three single-range forms", async () => {
  await withApp(async ({ app, image, file }) => {
    const size = image.length;
    const cases: [string, number, number][] = [
      ["bytes=0-9", 0, 9],
      ["bytes=100-199", 100, 199],
      [`bytes=${size - 5}-${size + 1000}`, size - 5, size - 1], // end clamped
      ["bytes=1000-", 1000, size - 1],
      ["bytes=-50", size - 50, size - 1],
      [`bytes=-${size + 10}`, 0, size - 1],
      ["BYTES = 3 - 3", 3, 3],
    ];
    for (const [range, start, end] of cases) {
      const res = await app.request(`/${file}`, { headers: { Range: range } });
      assert.equal(res.status, 206, range);
      assert.equal(res.headers.get("content-range"), `bytes ${start}-${end}/${size}`, range);
      assert.equal(res.headers.get("content-length"), String(end - start + 1), range);
      assert.equal(res.headers.get("content-type"), "image/png", range);
      assert.deepEqual(await bodyBytes(res), image.slice(start, end + 1), range);
    }
  });
});

Deno.test("unsatisfiable ranges answer 416 with the size", async () => {
  await withApp(async ({ app, image, file }) => {
    for (
      const range of [
        `bytes=${image.length}-`,
        `bytes=${image.length + 5}-${image.length + 9}`,
        "bytes=-0",
      ]
    ) {
      const res = await app.request(`/${file}`, { headers: { Range: range } });
      assert.equal(res.status, 416, range);
      assert.equal(res.headers.get("content-range"), `bytes */${image.length}`, range);
      await res.body?.cancel();
    }
  });
});

Deno.test("malformed, multiple or foreign-unit ranges are ignored (200)", async () => {
  await withApp(async ({ app, image, file }) => {
    for (
      const range of [
        "bytes=abc",
        "bytes=9-2",
        "bytes=0-1,4-5",
        "items=0-5",
        "bytes=-",
        "0-5",
        "bytes=1.5-2",
      ]
    ) {
      const res = await app.request(`/${file}`, { headers: { Range: range } });
      assert.equal(res.status, 200, range);
      assert.equal(res.headers.get("content-range"), null, range);
      assert.deepEqual(await bodyBytes(res), image, range);
    }
  });
});

Deno.test("If-Range applies the range only while the validator matches", async () => {
  await withApp(async ({ app, file }) => {
    const head = await app.request(`/${file}`, { method: "HEAD" });
    const etag = head.headers.get("etag")!;
    const lastModified = head.headers.get("last-modified")!;
    const cases: [string, number][] = [
      [etag, 206],
      [lastModified, 206],
      ['"stale"', 200],
      [`W/${etag}`, 200], // weak tags never match If-Range
      ["Mon, 01 Jan 2024 00:00:00 GMT", 200],
    ];
    for (const [ifRange, status] of cases) {
      const res = await app.request(`/${file}`, {
        headers: { Range: "bytes=0-3", "If-Range": ifRange },
      });
      assert.equal(res.status, status, ifRange);
      await res.body?.cancel();
    }
  });
});

Deno.test("path traversal and odd names answer the JSON 404", async () => {
  await withApp(async ({ app, root, image }) => {
    // Real files just outside generated/ that a traversal would reach.
    await Deno.writeFile(join(root, "secret.png"), image);
    await Deno.writeFile(join(root, "generated", ".hidden.png"), image);
    const paths = [
      "/..%2F..%2Fetc%2Fpasswd",
      "/..%2Fsecret.png",
      "/%2e%2e%2fsecret.png",
      "/%2e%2e",
      "/..%5Csecret.png",
      "/..\\x",
      "/x%5C..%5Csecret.png",
      "/%00",
      "/job1-0.png%00",
      "/job1-0%00.png",
      "/.hidden",
      "/.hidden.png",
      "/a/b",
      "/a%2Fb.png",
      "/tmp%2F..%2Fsecret.png",
      "/%252e%252e%252fsecret.png",
      "/%E0%A4%A.png",
      "/",
    ];
    for (const path of paths) {
      await assertNotFound(await app.request(path), path);
      await assertNotFound(await app.request(path, { method: "HEAD" }), `HEAD ${path}`, true);
    }
  });
});

Deno.test("the routes work mounted at /images", async () => {
  await withApp(async ({ app, image, file }) => {
    const root = new Hono().route("/images", app);
    const res = await root.request(`/images/${file}`, { headers: { Range: "bytes=-4" } });
    assert.equal(res.status, 206);
    assert.deepEqual(await bodyBytes(res), image.slice(-4));
    const head = await root.request(`/images/${file}`, { method: "HEAD" });
    assert.equal(head.headers.get("content-length"), String(image.length));
    assert.equal((await bodyBytes(head)).length, 0);
    await assertNotFound(await root.request("/images/..%2F..%2Fetc%2Fpasswd"), "mounted traversal");
    await assertNotFound(await root.request("/images/a/b.png"), "mounted nested");
  });
});

Deno.test("a missing thumbnail of a stored image is made on first request, then served", async () => {
  await withApp(async ({ app, root, file }) => {
    const thumbFile = file.replace(/\.png$/, ".thumb.webp");
    const res = await app.request(`/${thumbFile}`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-type"), "image/webp");
    assert.equal(res.headers.get("cache-control"), "public, max-age=31536000, immutable");
    const body = await bodyBytes(res);
    assert.deepEqual(imageDimensions(body), { width: 40, height: 30 }, "never enlarged");
    assert.deepEqual(await Deno.readFile(join(root, "generated", thumbFile)), body, "stored");

    // Served from storage from now on: same validator, 304 on revalidation.
    const again = await app.request(`/${thumbFile}`);
    assert.equal(again.headers.get("etag"), res.headers.get("etag"));
    await again.body?.cancel();
    const cached = await app.request(`/${thumbFile}`, {
      headers: { "If-None-Match": res.headers.get("etag")! },
    });
    assert.equal(cached.status, 304);

    // No original under any extension: the usual 404, nothing stored.
    await assertNotFound(await app.request("/nojob-0.thumb.webp"), "no original");
    await assertNotFound(
      await app.request("/nojob-0.thumb.webp", { method: "HEAD" }),
      "HEAD",
      true,
    );
    assert.equal(
      await Deno.stat(join(root, "generated", "nojob-0.thumb.webp")).catch(() => null),
      null,
    );
  });
});

Deno.test("every answer carries a sandbox CSP; private caching when API keys are on", async () => {
  await withApp(async ({ root, file }) => {
    const storage = createLocalStorage(root);
    const csp = "default-src 'none'; sandbox";
    const open = await imageRoutes({ storage }).request(`/${file}`);
    assert.equal(open.headers.get("content-security-policy"), csp);
    assert.equal(open.headers.get("cache-control"), "public, max-age=31536000, immutable");
    await open.body?.cancel();
    const keyed = imageRoutes({ storage, security: { authMode: "api_key" } });
    for (const path of [`/${file}`, "/missing.png", "/a/b"]) {
      const res = await keyed.request(path);
      assert.equal(res.headers.get("content-security-policy"), csp, path);
      if (res.ok) {
        assert.equal(res.headers.get("cache-control"), "private, max-age=31536000, immutable");
      }
      await res.body?.cancel();
    }
    const cached = await keyed.request(`/${file}`, { headers: { "If-None-Match": "*" } });
    assert.equal(cached.status, 304);
    assert.equal(cached.headers.get("cache-control"), "private, max-age=31536000, immutable");
  });
});
