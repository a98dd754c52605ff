import assert from "node:assert/strict";
import { brotliDecompressSync, gunzipSync } from "node:zlib";
import { Hono } from "hono";
import { decodeBody } from "../shared/testing/encoded.ts";
import { streamSSE } from "hono/streaming";
import {
  compressedFile,
  compressResponses,
  type Encoding,
  negotiateEncoding,
} from "./compression.ts";

/** The decoded body, checked to have been smaller on the wire when encoded. */
async function decodedText(res: Response): Promise<string> {
  const { bytes, encoding, sent } = await decodeBody(res);
  assert.ok(encoding === null || sent < bytes.length, "smaller when encoded");
  return new TextDecoder().decode(bytes);
}

Deno.test("negotiateEncoding: q-values, wildcards and brotli first on a tie", () => {
  const cases: [string | undefined, Encoding | null][] = [
    [undefined, null],
    ["", null],
    ["identity", null],
    ["gzip", "gzip"],
    ["x-gzip", "gzip"],
    ["br", "br"],
    ["gzip, deflate, br, zstd", "br"],
    ["gzip, deflate", "gzip"],
    ["br;q=0.5, gzip", "gzip"],
    ["br;q=0, gzip;q=0", null],
    ["GZIP;Q=0.8", "gzip"],
    ["*", "br"],
    ["*;q=0.1, br;q=0", "gzip"],
    ["deflate, identity;q=1", null],
    ["br;q=abc, gzip", "gzip"],
  ];
  for (const [header, expected] of cases) {
    assert.equal(negotiateEncoding(header), expected, String(header));
  }
  assert.equal(negotiateEncoding("br, gzip", ["gzip"]), "gzip");
  assert.equal(negotiateEncoding("br", ["gzip"]), null);
});

function testApp(): Hono {
  const app = new Hono();
  app.use("*", compressResponses());
  const big = { items: Array.from({ length: 200 }, (_, i) => ({ id: i, name: `item ${i}` })) };
  app.get("/big", (c) => c.json(big));
  app.get("/small", (c) => c.json({ ok: true }));
  app.get("/error", (c) => c.json({ error: { code: "x", message: "y".repeat(2000) } }, 422));
  app.get("/tagged", (c) => c.json(big, 200, { ETag: '"abc"' }));
  app.get("/no-transform", (c) => c.json(big, 200, { "Cache-Control": "no-transform" }));
  app.get("/image", (c) => c.body(new Uint8Array(5000), 200, { "Content-Type": "image/png" }));
  app.get("/encoded", (c) =>
    c.body(new Uint8Array(5000), 200, {
      "Content-Type": "text/javascript",
      "Content-Encoding": "br",
    }));
  app.get("/events", (c) =>
    streamSSE(c, async (stream) => {
      await stream.writeSSE({ data: "x".repeat(5000) });
    }));
  return app;
}

Deno.test("compressResponses: JSON of 1 KB or more in the client's best coding", async () => {
  const app = testApp();
  const plain = await (await app.request("/big")).text();
  for (const [accept, encoding] of [["br", "br"], ["gzip, deflate", "gzip"], ["*", "br"]]) {
    const res = await app.request("/big", { headers: { "Accept-Encoding": accept } });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-encoding"), encoding, accept);
    assert.equal(res.headers.get("vary"), "Accept-Encoding");
    assert.match(res.headers.get("content-type") ?? "", /^application\/json/);
    const length = Number(res.headers.get("content-length"));
    const text = await decodedText(res);
    assert.equal(text, plain);
    assert.ok(length * 4 < plain.length, `${accept}: ${length} of ${plain.length} bytes`);
  }
  // Errors too; a strong ETag becomes weak (the bytes differ from the plain answer's).
  const error = await app.request("/error", { headers: { "Accept-Encoding": "gzip" } });
  assert.equal(error.status, 422);
  assert.equal(error.headers.get("content-encoding"), "gzip");
  assert.equal(JSON.parse(await decodedText(error)).error.code, "x");
  const tagged = await app.request("/tagged", { headers: { "Accept-Encoding": "br" } });
  assert.equal(tagged.headers.get("etag"), 'W/"abc"');
  await tagged.body?.cancel();
});

Deno.test("compressResponses: no Accept-Encoding, small bodies, images, SSE stay as they are", async () => {
  const app = testApp();
  const none = await app.request("/big");
  assert.equal(none.headers.get("content-encoding"), null);
  assert.equal(none.headers.get("vary"), null, "nothing looked at when nothing is accepted");
  assert.equal(JSON.parse(await none.text()).items.length, 200);

  const refused = await app.request("/big", { headers: { "Accept-Encoding": "identity" } });
  assert.equal(refused.headers.get("content-encoding"), null);
  await refused.body?.cancel();

  const small = await app.request("/small", { headers: { "Accept-Encoding": "br" } });
  assert.equal(small.headers.get("content-encoding"), null);
  assert.equal(small.headers.get("vary"), "Accept-Encoding");
  assert.deepEqual(await small.json(), { ok: true });

  const head = await app.request("/big", { method: "HEAD", headers: { "Accept-Encoding": "br" } });
  assert.equal(head.headers.get("content-encoding"), null);

  for (const path of ["/image", "/encoded", "/no-transform"]) {
    const res = await app.request(path, { headers: { "Accept-Encoding": "gzip" } });
    assert.equal(
      res.headers.get("content-encoding"),
      path === "/encoded" ? "br" : null,
      path,
    );
    assert.ok((await res.arrayBuffer()).byteLength >= 5000, path);
  }

  const sse = await app.request("/events", { headers: { "Accept-Encoding": "br, gzip" } });
  assert.match(sse.headers.get("content-type") ?? "", /^text\/event-stream/);
  assert.equal(sse.headers.get("content-encoding"), null);
  assert.match(await sse.text(), /^data: x{5000}/);
});

Deno.test("compressedFile: each coding made once, small files sent plain", async () => {
  let loads = 0;
  const text = JSON.stringify({ paths: Array.from({ length: 300 }, (_, i) => `/p/${i}`) });
  const file = compressedFile(() => {
    loads++;
    return Promise.resolve(new TextEncoder().encode(text));
  });
  const [a, b] = await Promise.all([file.pick("br"), file.pick("br")]);
  assert.equal(a.encoding, "br");
  assert.equal(a.body, b.body, "the same bytes, compressed once");
  assert.equal(new TextDecoder().decode(brotliDecompressSync(a.body)), text);
  const gz = await file.pick("gzip");
  assert.equal(new TextDecoder().decode(gunzipSync(gz.body)), text);
  const plain = await file.pick(undefined);
  assert.equal(plain.encoding, null);
  assert.equal(new TextDecoder().decode(plain.body), text);
  assert.equal(loads, 1);

  const tiny = compressedFile(() => Promise.resolve(new Uint8Array(100)));
  assert.equal((await tiny.pick("br")).encoding, null);
});
