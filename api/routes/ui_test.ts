import assert from "node:assert/strict";
import { join } from "node:path";
import { brotliCompressSync, gzipSync } from "node:zlib";
import { decodeBody, decodeText } from "../../shared/testing/encoded.ts";
import type { AppDeps } from "../app.ts";
import { uiRoutes } from "./ui.ts";

const HTML = `<!doctype html><html><head><meta name="darkroom:api" content="/api/v1">
<script type="module" src="/assets/boot-AAAAAAAA.js"></script></head><body>
<a class="topbar-link" href="/api/v1/docs">API docs</a>${
  "<p>Darkroom</p>".repeat(100)
}</body></html>`;
const SCRIPT = `export const words = ${JSON.stringify("lorem ipsum dolor ".repeat(200))};\n`;

/** A built UI folder: the shell, a script with both compressed copies, a stylesheet with gzip only. */
async function withDist(fn: (dist: string) => Promise<void>): Promise<void> {
  const dist = await Deno.makeTempDir({ prefix: "darkroom-ui-routes-" });
  try {
    await Deno.mkdir(join(dist, "assets"));
    await Deno.writeTextFile(join(dist, "index.html"), HTML);
    const script = new TextEncoder().encode(SCRIPT);
    await Deno.writeFile(join(dist, "assets", "boot-AAAAAAAA.js"), script);
    await Deno.writeFile(join(dist, "assets", "boot-AAAAAAAA.js.br"), brotliCompressSync(script));
    await Deno.writeFile(join(dist, "assets", "boot-AAAAAAAA.js.gz"), gzipSync(script));
    const css = new TextEncoder().encode("body { color: red }\n".repeat(100));
    await Deno.writeFile(join(dist, "assets", "styles-BBBBBBBB.css"), css);
    await Deno.writeFile(join(dist, "assets", "styles-BBBBBBBB.css.gz"), gzipSync(css));
    await fn(dist);
  } finally {
    await Deno.remove(dist, { recursive: true });
  }
}

function routes(dist: string, prefix = "/api/v1") {
  return uiRoutes({ uiDir: dist, config: { API_V1_PREFIX: prefix } } as AppDeps);
}

Deno.test("ui: assets come precompressed in the best coding the client takes", async () => {
  await withDist(async (dist) => {
    const app = routes(dist);
    const path = "/assets/boot-AAAAAAAA.js";
    for (const [accept, encoding] of [["br, gzip", "br"], ["gzip", "gzip"], [null, null]]) {
      const res = await app.request(path, { headers: accept ? { "Accept-Encoding": accept } : {} });
      assert.equal(res.status, 200);
      assert.equal(res.headers.get("content-encoding"), encoding, String(accept));
      assert.equal(res.headers.get("vary"), "Accept-Encoding");
      assert.equal(res.headers.get("cache-control"), "public, max-age=31536000, immutable");
      assert.match(res.headers.get("content-type") ?? "", /^text\/javascript/);
      const { bytes, sent } = await decodeBody(res);
      assert.equal(new TextDecoder().decode(bytes), SCRIPT);
      if (encoding) assert.ok(sent * 5 < bytes.length, `${encoding}: ${sent} bytes sent`);
    }
    // Only a gzip copy: a client that prefers brotli gets gzip; one without gzip, the file.
    const css = await app.request("/assets/styles-BBBBBBBB.css", {
      headers: { "Accept-Encoding": "br, gzip" },
    });
    assert.equal(css.headers.get("content-encoding"), "gzip");
    assert.match(await decodeText(css), /^body \{ color: red \}/);
    const brOnly = await app.request("/assets/styles-BBBBBBBB.css", {
      headers: { "Accept-Encoding": "br" },
    });
    assert.equal(brOnly.headers.get("content-encoding"), null);
    assert.match(await brOnly.text(), /^body/);
    // The compressed copies themselves are not assets.
    const raw = await app.request("/assets/boot-AAAAAAAA.js.br");
    assert.equal(raw.status, 404);
  });
});

Deno.test("ui: the shell is compressed, revalidated by its ETag, never cached blindly", async () => {
  await withDist(async (dist) => {
    const app = routes(dist, "/v9");
    const plain = await app.request("/");
    assert.equal(plain.status, 200);
    assert.equal(plain.headers.get("content-encoding"), null);
    assert.equal(plain.headers.get("cache-control"), "no-cache");
    assert.equal(plain.headers.get("vary"), "Accept-Encoding");
    assert.match(plain.headers.get("content-type") ?? "", /^text\/html/);
    const etag = plain.headers.get("etag") ?? "";
    assert.match(etag, /^W\/"[0-9a-f]{24}"$/);
    const text = await plain.text();
    assert.match(text, /<meta name="darkroom:api" content="\/v9">/, "the prefix is filled in");
    assert.match(text, /<a class="topbar-link" href="\/v9\/docs">/, "so is the docs link's");

    for (const encoding of ["br", "gzip"]) {
      const res = await app.request("/", { headers: { "Accept-Encoding": encoding } });
      assert.equal(res.headers.get("content-encoding"), encoding);
      assert.equal(res.headers.get("etag"), etag, "one validator for every coding");
      assert.ok(res.headers.get("content-security-policy"));
      assert.equal(await decodeText(res), text);
    }

    const notModified = await app.request("/", {
      headers: { "If-None-Match": etag, "Accept-Encoding": "br" },
    });
    assert.equal(notModified.status, 304);
    assert.equal(notModified.headers.get("etag"), etag);
    assert.equal(notModified.headers.get("cache-control"), "no-cache");
    assert.equal((await notModified.arrayBuffer()).byteLength, 0);

    // A rebuild changes the shell: a new validator, so the old one no longer matches.
    await Deno.writeTextFile(join(dist, "index.html"), HTML.replace("Darkroom", "Darkroom 2"));
    const changed = await app.request("/", { headers: { "If-None-Match": etag } });
    assert.equal(changed.status, 200);
    assert.notEqual(changed.headers.get("etag"), etag);
    assert.match(await changed.text(), /Darkroom 2/);
  });
});
