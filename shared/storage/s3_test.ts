import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readImageSettings, readPngText, settingsChunks } from "../media/png_metadata.ts";
import { encode } from "fast-png";
import { DownloadError, NotFoundError, UnavailableError } from "../errors.ts";
import { startPrivateS3 } from "../testing/s3_server.ts";
import type { Storage } from "./storage.ts";
import { bucketBaseUrl, createS3Storage, type S3StorageOptions, scrubSecrets } from "./s3.ts";
import { parseS3Url } from "./s3_url.ts";

const SECRET = "sEcReT-never-in-a-message-0123456789";
const KEY_ID = "KEYID-never-in-a-message";

function png(width: number, height: number): Uint8Array {
  let seed = 11;
  const data = Uint8Array.from(
    { length: width * height * 4 },
    () => (seed = (Math.imul(seed, 1103515245) + 12345) & 0x7fffffff) >> 16 & 0xff,
  );
  return encode({ width, height, data, channels: 4 });
}

async function bytesOf(stream: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

async function filesUnder(dir: string): Promise<string[]> {
  const names: string[] = [];
  try {
    for await (const entry of Deno.readDir(dir)) names.push(entry.name);
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
  return names;
}

/** A stream that hands out `bytes` in `parts` chunks. */
function chunked(bytes: Uint8Array, parts = 7): ReadableStream<Uint8Array> {
  const size = Math.ceil(bytes.length / parts);
  const chunks: Uint8Array[] = [];
  for (let at = 0; at < bytes.length; at += size) chunks.push(bytes.subarray(at, at + size));
  return ReadableStream.from(chunks);
}

async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (err) {
    return err as Error;
  }
  throw new Error("expected a rejection");
}

function assertNoSecret(text: string): void {
  assert.ok(!text.includes(SECRET), `secret in: ${text}`);
  assert.ok(!text.includes(KEY_ID), `key id in: ${text}`);
  assert.ok(!/X-Amz-Signature=|Signature=[0-9a-f]/.test(text), `signature in: ${text}`);
}

Deno.test("s3 storage against a real S3-protocol server (s3rver)", async (t) => {
  const server = await startPrivateS3({ bucket: "images" });
  const tmpDir = await Deno.makeTempDir({ prefix: "darkroom-s3tmp-" });
  const storage = createS3Storage({
    location: parseS3Url("s3://images/env/prod"),
    region: "us-east-1",
    endpoint: server.endpoint,
    forcePathStyle: true,
    accessKeyId: server.accessKeyId,
    secretAccessKey: server.secretAccessKey,
    tmpDir,
  });
  const image = png(48, 32);
  try {
    await t.step("save streams to the bucket under the prefix; stat, read, range", async () => {
      const stored = await storage.save(chunked(image), {
        name: "job1-0",
        maxBytes: 1_000_000,
        expectedBytes: image.length,
      });
      assert.deepEqual(stored, {
        file: "job1-0.png",
        content_type: "image/png",
        width: 48,
        height: 32,
        bytes: image.length,
      });
      assert.equal(storage.backend, "s3");
      assert.equal(storage.objectKey?.("job1-0.png"), "env/prod/job1-0.png");
      const info = await storage.stat("job1-0.png");
      assert.ok(info);
      assert.equal(info.size, image.length);
      const md5 = createHash("md5").update(image).digest("hex");
      assert.equal(info.etag, `"${md5}"`);
      assert.ok(Math.abs(info.mtime.getTime() - Date.now()) < 60_000);
      assert.deepEqual(await bytesOf(await storage.read("job1-0.png")), image);
      assert.deepEqual(
        await bytesOf(await storage.read("job1-0.png", { start: 10, end: 19 })),
        image.subarray(10, 20),
      );
      // The object is where a public base URL would point: <bucket>/<prefix>/<file>.
      const direct = await fetch(`${server.endpoint}/images/env/prod/job1-0.png`);
      assert.deepEqual(new Uint8Array(await direct.arrayBuffer()), image);
      assert.deepEqual(await filesUnder(tmpDir), [], "the temp file is gone");
    });

    await t.step(
      "a PNG gets its settings chunks on the way; size and ETag are what is stored",
      async () => {
        const stored = await storage.save(chunked(image, 13), {
          name: "job2-0",
          maxBytes: 1_000_000,
          expectedBytes: image.length,
          pngChunks: ({ width, height }) =>
            settingsChunks({
              prompt: "a fox",
              negative_prompt: null,
              model: "local/aurora",
              parameters: { seed: 9 },
            }, { width, height }),
        });
        const kept = await bytesOf(await storage.read("job2-0.png"));
        assert.equal(stored.bytes, kept.length);
        assert.ok(kept.length > image.length);
        const info = await storage.stat("job2-0.png");
        assert.equal(info?.size, kept.length);
        assert.equal(info?.etag, `"${createHash("md5").update(kept).digest("hex")}"`);
        const settings = await readImageSettings(kept);
        assert.deepEqual(settings?.parameters, { seed: 9 });
        assert.match(
          (await readPngText(kept)).get("parameters") ?? "",
          /Seed: 9, Size: 48x32, Model: local\/aurora$/,
        );
        await storage.remove("job2-0.png");
      },
    );

    await t.step("missing objects: stat null, read NotFoundError, remove is fine", async () => {
      assert.equal(await storage.stat("nope-0.png"), null);
      assert.ok((await rejection(storage.read("nope-0.png"))) instanceof NotFoundError);
      await storage.remove("nope-0.png");
      assert.equal(await storage.stat("../escape.png"), null);
      assert.ok((await rejection(storage.read("../escape.png"))) instanceof NotFoundError);
    });

    await t.step("remove deletes the object", async () => {
      await storage.remove("job1-0.png");
      assert.equal(await storage.stat("job1-0.png"), null);
    });

    await t.step("put stores a small object whole; presignedUrl serves it", async () => {
      const thumb = png(8, 8);
      await storage.put("job2-0.thumb.png", thumb, "image/png");
      const info = await storage.stat("job2-0.thumb.png");
      assert.equal(info?.size, thumb.length);
      const url = await storage.presignedUrl!("job2-0.thumb.png", 60);
      assert.ok(url);
      const parsed = new URL(url);
      assert.equal(parsed.searchParams.get("X-Amz-Expires"), "60");
      assert.ok(parsed.searchParams.get("X-Amz-Signature"));
      const res = await fetch(url);
      assert.equal(res.status, 200);
      assert.equal(res.headers.get("content-type"), "image/png");
      assert.deepEqual(new Uint8Array(await res.arrayBuffer()), thumb);
      assert.equal(await storage.presignedUrl!("../x.png", 60), null);
      await storage.remove("job2-0.thumb.png");
    });

    await t.step("over the cap: refused for good, nothing stored", async () => {
      const big = await rejection(
        storage.save(chunked(image), { name: "job3-0", maxBytes: image.length - 1 }),
      );
      assert.ok(big instanceof DownloadError && !big.retryable, String(big));
      const announced = await rejection(
        storage.save(chunked(image), { name: "job3-0", maxBytes: 100, expectedBytes: 5000 }),
      );
      assert.ok(announced instanceof DownloadError && !announced.retryable);
      assert.equal(await storage.stat("job3-0.png"), null);
      assert.deepEqual(await filesUnder(tmpDir), []);
    });

    await t.step("not an image (magic bytes): refused, nothing stored", async () => {
      const html = new TextEncoder().encode("<html><body>rate limited</body></html>");
      const err = await rejection(
        storage.save(ReadableStream.from([html]), { name: "job4-0", maxBytes: 1_000_000 }),
      );
      assert.ok(err instanceof DownloadError);
      assert.match(err.message, /not an image/);
      for (const ext of ["png", "jpg", "webp", "gif"]) {
        assert.equal(await storage.stat(`job4-0.${ext}`), null);
      }
    });

    await t.step("a truncated or broken body is retryable, nothing stored", async () => {
      const short = await rejection(storage.save(chunked(image.subarray(0, 100)), {
        name: "job5-0",
        maxBytes: 1_000_000,
        expectedBytes: image.length,
      }));
      assert.ok(short instanceof DownloadError && short.retryable, String(short));
      assert.match(short.message, /truncated/);
      let sent = 0;
      const broken = new ReadableStream<Uint8Array>({
        pull(controller) {
          if (sent++ === 0) controller.enqueue(image.subarray(0, 64));
          else controller.error(new TypeError("connection reset"));
        },
      });
      const reset = await rejection(storage.save(broken, { name: "job5-0", maxBytes: 1e6 }));
      assert.ok(reset instanceof DownloadError && reset.retryable, String(reset));
      assert.equal(await storage.stat("job5-0.png"), null);
      assert.deepEqual(await filesUnder(tmpDir), []);
    });

    await t.step("checkWritable passes, and leaves no probe object behind", async () => {
      await storage.checkWritable();
      const leftovers = await filesUnder(`${server.dir}/images/env/prod`);
      assert.deepEqual(leftovers.filter((n) => n.includes("write-check")), []);
    });

    await t.step("a missing bucket: checkWritable says so without credentials", async () => {
      const other = createS3Storage({
        location: parseS3Url("s3://no-such-bucket"),
        region: "us-east-1",
        endpoint: server.endpoint,
        forcePathStyle: true,
        accessKeyId: server.accessKeyId,
        secretAccessKey: server.secretAccessKey,
        tmpDir,
      });
      const err = await rejection(other.checkWritable());
      assert.match(err.message, /s3:\/\/no-such-bucket: status 404 NoSuchBucket/);
      const save = await rejection(
        other.save(ReadableStream.from([image]), { name: "job6-0", maxBytes: 1e6 }),
      );
      // The store's trouble never fails a job: the attempt is retried later.
      assert.ok(save instanceof DownloadError && save.retryable, String(save));
    });

    await t.step("a stopped server: reads 503, saves retryable; back when it returns", async () => {
      await storage.put("job7-0.png", image, "image/png");
      await server.stop();
      const stat = await rejection(storage.stat("job7-0.png"));
      assert.ok(stat instanceof UnavailableError, String(stat));
      const quick = createS3Storage({
        location: parseS3Url("s3://images/env/prod"),
        region: "us-east-1",
        endpoint: server.endpoint,
        forcePathStyle: true,
        accessKeyId: server.accessKeyId,
        secretAccessKey: server.secretAccessKey,
        tmpDir,
        retryDelayMs: 1,
      });
      const save = await rejection(
        quick.save(ReadableStream.from([image]), { name: "job7-1", maxBytes: 1e6 }),
      );
      assert.ok(save instanceof DownloadError && save.retryable, String(save));
      await server.start();
      assert.equal((await storage.stat("job7-0.png"))?.size, image.length);
    });
  } finally {
    await server.close();
    await Deno.remove(tmpDir, { recursive: true }).catch(() => {});
  }
});

/** A scripted bucket: answers each PUT with the next of `answers`, recording what it got. */
function fakeBucket(answers: ((md5: string) => Response)[]) {
  const seen: { method: string; headers: Headers; bytes: number }[] = [];
  let next = 0;
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const body = new Uint8Array(await req.arrayBuffer());
    seen.push({ method: req.method, headers: req.headers, bytes: body.length });
    const md5 = createHash("md5").update(body).digest("hex");
    const answer = answers[Math.min(next++, answers.length - 1)];
    return answer(md5);
  });
  return {
    seen,
    endpoint: `http://127.0.0.1:${server.addr.port}`,
    close: () => server.shutdown(),
  };
}

function fakeOptions(endpoint: string, tmpDir: string): S3StorageOptions {
  return {
    location: parseS3Url("s3://fake/pre"),
    region: "us-east-1",
    endpoint,
    forcePathStyle: true,
    accessKeyId: KEY_ID,
    secretAccessKey: SECRET,
    tmpDir,
    retryDelayMs: 1,
  };
}

Deno.test("s3 save: sent with Content-Length and MD5; a busy store is tried again", async () => {
  const tmpDir = await Deno.makeTempDir({ prefix: "darkroom-s3tmp-" });
  const bucket = fakeBucket([
    () => new Response("<Error><Code>SlowDown</Code></Error>", { status: 503 }),
    (md5) => new Response(null, { status: 200, headers: { ETag: `"${md5}"` } }),
  ]);
  try {
    const image = png(20, 20);
    const storage = createS3Storage(fakeOptions(bucket.endpoint, tmpDir));
    const stored = await storage.save(chunked(image), { name: "j-0", maxBytes: 1e6 });
    assert.equal(stored.file, "j-0.png");
    assert.equal(bucket.seen.length, 2);
    const put = bucket.seen[1];
    assert.equal(put.method, "PUT");
    assert.equal(put.headers.get("content-length"), String(image.length));
    assert.equal(put.headers.get("transfer-encoding"), null);
    assert.equal(put.headers.get("content-type"), "image/png");
    assert.equal(put.headers.get("content-md5"), createHash("md5").update(image).digest("base64"));
    assert.equal(
      put.headers.get("x-amz-content-sha256"),
      createHash("sha256").update(image).digest("hex"),
    );
    assert.match(put.headers.get("authorization") ?? "", /^AWS4-HMAC-SHA256 Credential=/);
    assert.deepEqual(await filesUnder(tmpDir), []);
  } finally {
    await bucket.close();
    await Deno.remove(tmpDir, { recursive: true });
  }
});

Deno.test("s3 save: an ETag that is not the MD5 of what was sent is never accepted", async () => {
  const tmpDir = await Deno.makeTempDir({ prefix: "darkroom-s3tmp-" });
  const bucket = fakeBucket([
    () => new Response(null, { status: 200, headers: { ETag: `"${"0".repeat(32)}"` } }),
  ]);
  try {
    const storage = createS3Storage({ ...fakeOptions(bucket.endpoint, tmpDir), attempts: 2 });
    const err = await rejection(
      storage.save(ReadableStream.from([png(8, 8)]), { name: "j-0", maxBytes: 1e6 }),
    );
    assert.ok(err instanceof DownloadError && err.retryable, String(err));
    assert.match(err.message, /ETag 0{32}/);
    assert.equal(bucket.seen.length, 2, "tried twice");
    assertNoSecret(err.message);
    const put = await rejection(storage.put("t-0.webp", new Uint8Array([1, 2]), "image/webp"));
    assert.ok(put instanceof DownloadError && put.retryable);
  } finally {
    await bucket.close();
    await Deno.remove(tmpDir, { recursive: true });
  }
});

Deno.test("s3: an unreachable or silent endpoint is retryable and names no secret", async () => {
  const tmpDir = await Deno.makeTempDir({ prefix: "darkroom-s3tmp-" });
  // Accepts connections and never answers.
  const silent = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const held: Deno.Conn[] = [];
  const accepting = (async () => {
    for await (const conn of silent) held.push(conn);
  })();
  try {
    const closed = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const closedPort = (closed.addr as Deno.NetAddr).port;
    closed.close();
    const targets = [
      `http://127.0.0.1:${closedPort}`,
      `http://127.0.0.1:${(silent.addr as Deno.NetAddr).port}`,
    ];
    for (const endpoint of targets) {
      const storage: Storage = createS3Storage({
        ...fakeOptions(endpoint, tmpDir),
        timeoutMs: 300,
        attempts: 2,
      });
      const save = await rejection(
        storage.save(ReadableStream.from([png(8, 8)]), { name: "j-0", maxBytes: 1e6 }),
      );
      assert.ok(save instanceof DownloadError && save.retryable, `${endpoint}: ${save}`);
      assert.match(save.message, /Cannot store j-0\.png in s3:\/\/fake\/pre: /);
      const stat = await rejection(storage.stat("j-0.png"));
      assert.ok(stat instanceof UnavailableError, String(stat));
      const read = await rejection(storage.read("j-0.png"));
      assert.ok(read instanceof UnavailableError, String(read));
      const remove = await rejection(storage.remove("j-0.png"));
      const check = await rejection(storage.checkWritable());
      for (const err of [save, stat, read, remove, check]) {
        assertNoSecret(err.message);
        assertNoSecret(String(err.stack));
      }
      assert.deepEqual(await filesUnder(tmpDir), []);
    }
  } finally {
    silent.close();
    await accepting.catch(() => {});
    for (const conn of held) {
      try {
        conn.close();
      } catch { /* closed */ }
    }
    await Deno.remove(tmpDir, { recursive: true });
  }
});

Deno.test("s3: bucket URLs for AWS, path style and custom endpoints", () => {
  const location = parseS3Url("s3://pics/a");
  assert.equal(
    bucketBaseUrl({ location, region: "eu-west-3" }),
    "https://pics.s3.eu-west-3.amazonaws.com",
  );
  assert.equal(
    bucketBaseUrl({ location, region: "auto", endpoint: "https://acc.r2.cloudflarestorage.com" }),
    "https://pics.acc.r2.cloudflarestorage.com",
  );
  assert.equal(
    bucketBaseUrl({
      location,
      region: "us-east-1",
      endpoint: "http://minio:9000/",
      forcePathStyle: true,
    }),
    "http://minio:9000/pics",
  );
});

Deno.test("s3: STORAGE_URL parsing", () => {
  assert.deepEqual(parseS3Url("s3://pics"), { bucket: "pics", prefix: "" });
  assert.deepEqual(parseS3Url("s3://pics/a/b/"), { bucket: "pics", prefix: "a/b" });
  for (
    const bad of ["http://pics", "s3://P", "s3://user:pw@pics", "s3://pics/../x", "s3://pics?x"]
  ) {
    assert.throws(() => parseS3Url(bad), Error, bad);
  }
  assert.throws(() => parseS3Url("s3://AKIA:pw@pics"), (err: Error) => !err.message.includes("pw"));
});

Deno.test("s3: scrubSecrets removes presigned parameters, signatures and given secrets", () => {
  const text = "GET http://h/b/k?X-Amz-Credential=AK%2F2025&X-Amz-Signature=abc123 failed; " +
    `Authorization: AWS4-HMAC-SHA256 Credential=AK/2025, Signature=deadbeef; ${SECRET}`;
  const out = scrubSecrets(text, [SECRET]);
  assertNoSecret(out);
  assert.ok(!out.includes("abc123") && !out.includes("deadbeef") && !out.includes("AK/2025"));
});
