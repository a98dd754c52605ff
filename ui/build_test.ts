import assert from "node:assert/strict";
import { join } from "node:path";
import { brotliDecompressSync, gunzipSync, gzipSync } from "node:zlib";
import {
  buildInputs,
  buildUi,
  eagerIslands,
  FIRST_PAGE_BUDGET,
  freshManifest,
  isBuildInput,
} from "./build.ts";

Deno.test("build: hashed assets, a strict-CSP-safe shell and a first page within budget", async () => {
  const outDir = await Deno.makeTempDir({ prefix: "darkroom-ui-" });
  try {
    const { manifest, skipped } = await buildUi({ outDir });
    assert.equal(skipped, false);

    // Every asset is content-hashed: name-HASH.ext.
    const written = [...Deno.readDirSync(join(outDir, "assets"))].map((e) => e.name).sort();
    const assets = written.filter((name) => !/\.(br|gz)$/.test(name));
    assert.ok(assets.length > 5);
    for (const name of assets) assert.match(name, /^[A-Za-z]+-[A-Z2-7]{8}\.(js|css|svg)$/, name);
    assert.match(manifest.boot, /^assets\/boot-[A-Z2-7]{8}\.js$/);
    assert.match(manifest.css, /^assets\/styles-[A-Z2-7]{8}\.css$/);
    assert.match(manifest.favicon, /^assets\/favicon-[A-Z2-7]{8}\.svg$/);
    for (const name of ["GenerateForm", "HistoryGallery", "Lightbox", "ArchitectureView"]) {
      assert.match(manifest.islands[name], new RegExp(`^assets/${name}-[A-Z2-7]{8}\\.js$`));
    }

    // index.html references only /assets/ files that exist, and nothing inline.
    const html = await Deno.readTextFile(join(outDir, "index.html"));
    const refs = [...html.matchAll(/\s(?:src|href)="([^"]*)"/g)].map((m) => m[1]);
    // Besides the skip link and the header's link to the API docs, only built assets.
    assert.ok(refs.includes("/api/v1/docs"), "the header links to the API docs");
    for (const ref of refs.filter((r) => r !== "#main" && r !== "/api/v1/docs")) {
      assert.match(ref, /^\/assets\/[A-Za-z]+-[A-Z2-7]{8}\.(js|css|svg)$/, ref);
      await Deno.stat(join(outDir, ref));
    }
    assert.ok(refs.includes(`/${manifest.boot}`));
    assert.ok(refs.includes(`/${manifest.css}`));
    assert.match(html, new RegExp(`<script type="module" src="/${manifest.boot}"></script>`));
    for (const m of html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/g)) {
      assert.match(m[1], /\ssrc="/, "every script is external");
      assert.equal(m[2].trim(), "", "no inline script content");
    }
    assert.doesNotMatch(html, /<style\b/i);
    assert.doesNotMatch(html, /\sstyle\s*=/i);
    assert.doesNotMatch(html, /\son[a-z]+\s*=/i);
    assert.doesNotMatch(html, /javascript:/i);
    assert.doesNotMatch(html, /https?:\/\//, "no external requests");

    // The bundle makes no external requests either.
    for (const name of assets.filter((n) => n.endsWith(".css"))) {
      const css = await Deno.readTextFile(join(outDir, "assets", name));
      assert.doesNotMatch(css, /@import|url\(\s*["']?https?:/i);
    }

    // First page: boot, then the eager islands and all they import statically.
    const fp = manifest.first_page;
    assert.equal(fp.js[0], manifest.boot);
    assert.ok(fp.islands.includes("GenerateForm"));
    assert.ok(!fp.islands.includes("HistoryGallery"), "hidden tabs load lazily");
    assert.ok(!fp.islands.includes("Lightbox"), "the lightbox loads when opened");
    assert.ok(!fp.js.includes(manifest.islands.Lightbox));
    assert.ok(!fp.js.includes(manifest.islands.ArchitectureView));
    let total = 0;
    for (const f of fp.js) {
      const bytes = await Deno.readFile(join(outDir, f));
      assert.equal(manifest.files[f].gzip_bytes, gzipSync(bytes).length);
      total += manifest.files[f].gzip_bytes;
    }
    assert.equal(fp.js_gzip_bytes, total);
    assert.ok(
      total <= FIRST_PAGE_BUDGET,
      `first page loads ${total} gzipped bytes of JS (budget ${FIRST_PAGE_BUDGET})`,
    );

    // Beside each script and stylesheet of 1 KB or more: brotli and gzip copies of it, smaller.
    const compressed = written.filter((name) => /\.(br|gz)$/.test(name));
    assert.ok(compressed.includes(`${manifest.boot.slice("assets/".length)}.br`));
    for (const name of assets) {
      const bytes = await Deno.readFile(join(outDir, "assets", name));
      const big = bytes.length >= 1024;
      for (
        const [suffix, decode] of [[".br", brotliDecompressSync], [".gz", gunzipSync]] as const
      ) {
        const path = join(outDir, "assets", name + suffix);
        if (!big) {
          assert.ok(!compressed.includes(name + suffix), `${name}: too small to compress`);
          continue;
        }
        const packed = await Deno.readFile(path);
        assert.ok(packed.length < bytes.length, `${name}${suffix} is smaller`);
        assert.deepEqual(new Uint8Array(decode(packed)), bytes, `${name}${suffix} decodes`);
      }
    }
    assert.ok(compressed.every((name) => assets.includes(name.slice(0, -3))), "no stray copies");

    // The manifest lists every file written.
    const listed = Object.keys(manifest.files).sort();
    assert.deepEqual(listed, ["index.html", ...assets.map((a) => `assets/${a}`)].sort());
    const onDisk = JSON.parse(await Deno.readTextFile(join(outDir, "manifest.json")));
    assert.deepEqual(onDisk, manifest);

    // --if-stale: nothing changed since, so the build is skipped.
    const again = await buildUi({ outDir, ifStale: true });
    assert.equal(again.skipped, true);
    assert.deepEqual(again.manifest, manifest);

    // A rebuild yields the same names (content hashes) and removes nothing it still needs.
    await Deno.writeTextFile(join(outDir, "assets", "stale-AAAAAAAA.js"), "old");
    await Deno.writeTextFile(join(outDir, "assets", "stale-AAAAAAAA.js.br"), "old");
    const rebuilt = await buildUi({ outDir });
    assert.deepEqual(rebuilt.manifest, manifest);
    await assert.rejects(Deno.stat(join(outDir, "assets", "stale-AAAAAAAA.js")));
    await assert.rejects(Deno.stat(join(outDir, "assets", "stale-AAAAAAAA.js.br")));
    assert.deepEqual(
      [...Deno.readDirSync(join(outDir, "assets"))].map((e) => e.name).sort(),
      written,
      "the compressed copies are kept",
    );
  } finally {
    await Deno.remove(outDir, { recursive: true });
  }
});

Deno.test("build: --if-stale rebuilds when a source is newer than the manifest", async () => {
  const outDir = await Deno.makeTempDir({ prefix: "darkroom-ui-" });
  try {
    const { manifest } = await buildUi({ outDir });
    assert.ok(manifest.inputs.includes("islands/GenerateForm.tsx"));
    assert.ok(manifest.inputs.includes("styles.css"));
    assert.ok(manifest.inputs.includes("../deno.json"));
    assert.ok(!manifest.inputs.some((f) => f.endsWith("_test.ts")), "tests are not inputs");
    assert.ok(!manifest.inputs.some((f) => f.startsWith("dist/")));
    // Older than every source, whenever they were last saved.
    const past = new Date("2000-01-01T00:00:00Z");
    await Deno.utime(join(outDir, "manifest.json"), past, past);
    const r = await buildUi({ outDir, ifStale: true });
    assert.equal(r.skipped, false);
  } finally {
    await Deno.remove(outDir, { recursive: true });
  }
});

Deno.test("isBuildInput: code, styles and markup count; tests and other files do not", () => {
  for (const f of ["boot.ts", "islands/Lightbox.tsx", "styles.css", "template.html", "x/a.svg"]) {
    assert.equal(isBuildInput(f), true, f);
  }
  for (
    const f of [
      "build_test.ts",
      "state/form_test.ts",
      "islands/Card_test.tsx",
      "README.md",
      "notes.txt",
      "shot.png",
      ".a.ts.swp",
      ".#boot.ts",
    ]
  ) {
    assert.equal(isBuildInput(f), false, f);
  }
});

Deno.test("freshManifest: only inputs make a build stale", async () => {
  const root = await Deno.makeTempDir({ prefix: "darkroom-ui-src-" });
  const uiDir = join(root, "ui");
  const outDir = join(uiDir, "dist");
  const old = new Date(Date.now() - 60_000);
  const future = new Date(Date.now() + 60_000);
  const write = async (rel: string, mtime = old) => {
    const path = join(uiDir, rel);
    await Deno.mkdir(join(path, ".."), { recursive: true });
    await Deno.writeTextFile(path, "x");
    await Deno.utime(path, mtime, mtime);
  };
  try {
    for (const f of ["boot.ts", "islands/A.tsx", "styles.css", "a_test.ts", "notes.md"]) {
      await write(f);
    }
    await write("../deno.json");
    await Deno.mkdir(outDir);
    const inputs = await buildInputs(uiDir);
    assert.deepEqual(inputs, ["../deno.json", "boot.ts", "islands/A.tsx", "styles.css"]);
    const manifestPath = join(outDir, "manifest.json");
    await Deno.writeTextFile(manifestPath, JSON.stringify({ inputs }));
    const built = new Date(Date.now() - 30_000);
    await Deno.utime(manifestPath, built, built);
    const fresh = async () => (await freshManifest(outDir, uiDir)) !== null;
    const touch = (rel: string, when: Date) => Deno.utime(join(uiDir, rel), when, when);

    assert.equal(await fresh(), true);

    // Tests, other files and the output itself do not count...
    await touch("a_test.ts", future);
    await touch("notes.md", future);
    await write("islands/B_test.tsx", future);
    await write("dist/assets/x.js", future);
    assert.equal(await fresh(), true);

    // ...a newer source does, under ui/ or the import map beside it...
    for (const f of ["islands/A.tsx", "styles.css", "../deno.json"]) {
      await touch(f, future);
      assert.equal(await fresh(), false, f);
      await touch(f, old);
    }
    assert.equal(await fresh(), true);

    // ...and so does a source added or removed, however old.
    await write("islands/C.tsx");
    assert.equal(await fresh(), false, "added");
    await Deno.remove(join(uiDir, "islands/C.tsx"));
    assert.equal(await fresh(), true);
    await Deno.remove(join(uiDir, "styles.css"));
    assert.equal(await fresh(), false, "removed");
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("eagerIslands: hidden panels and data-lazy islands wait", () => {
  const html = `<div data-island="A"></div>
    <section data-tab="x"><div data-island="B" data-props='{"n":1}'></div></section>
    <section data-tab="y" hidden><div data-island="C"></div></section>
    <div data-island="D" data-lazy="lightbox"></div>`;
  assert.deepEqual(eagerIslands(html), { all: ["A", "B", "C", "D"], eager: ["A", "B"] });
});
