/**
 * Builds the browser UI into `ui/dist`: hashed ES modules (one per island plus `boot`), one
 * hashed stylesheet, an SVG favicon, `index.html` from `template.html`, and `manifest.json`.
 * Beside each asset of 1 KB or more go `<asset>.br` and `<asset>.gz`, compressed once at the
 * highest levels, which the server sends to browsers that accept them.
 *
 *   deno run -A ui/build.ts [--if-stale] [--out-dir DIR]
 */
import * as esbuild from "esbuild";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { brotliCompress, constants, gzip, gzipSync } from "node:zlib";

export const UI_DIR = dirname(fileURLToPath(import.meta.url));
export const DEFAULT_OUT_DIR = join(UI_DIR, "dist");
/** Gzipped bytes of JavaScript the first page may load. */
export const FIRST_PAGE_BUDGET = 30 * 1024;
const ASSETS = "assets";
/** Assets written compressed too (`.br`, `.gz`), when at least this big. */
const PRECOMPRESSED = /\.(js|css|svg)$/;
const PRECOMPRESS_MIN_BYTES = 1024;
const brotliAsync = promisify(brotliCompress);
const gzipAsync = promisify(gzip);

export interface BuildOptions {
  /** Output folder (default `ui/dist`). */
  outDir?: string;
  /** Skip the build when no input (see `buildInputs`) changed since the last build. */
  ifStale?: boolean;
  /** Minify (default true). */
  minify?: boolean;
}

export interface ManifestFile {
  bytes: number;
  gzip_bytes: number;
}

export interface Manifest {
  version: 1;
  /** The HTML shell, relative to the output folder. */
  html: string;
  /** The boot module, the stylesheet and the favicon (paths relative to the output folder). */
  boot: string;
  css: string;
  favicon: string;
  /** Island name → its entry module. */
  islands: Record<string, string>;
  first_page: {
    /** Islands mounted without waiting for a tab to open. */
    islands: string[];
    /** Every JS file the first page loads (boot, those islands and their static imports). */
    js: string[];
    js_gzip_bytes: number;
    budget_gzip_bytes: number;
  };
  /** Every file written, with its size and gzipped size. */
  files: Record<string, ManifestFile>;
  /** The source files the build read (relative to ui/), for `--if-stale`. */
  inputs: string[];
}

export interface BuildResult {
  skipped: boolean;
  outDir: string;
  manifest: Manifest;
}

const FAVICON = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32">
<rect x="2" y="2" width="28" height="28" rx="8" fill="#14161d"/>
<circle cx="16" cy="16" r="7.5" fill="none" stroke="#f5a524" stroke-width="3"/>
<circle cx="16" cy="16" r="3" fill="#e6e8ef"/>
</svg>
`;

/** Names of the islands the template mounts at once (not in a hidden panel, not `data-lazy`). */
export function eagerIslands(template: string): { all: string[]; eager: string[] } {
  const all: string[] = [];
  const eager: string[] = [];
  const hiddenRanges: [number, number][] = [];
  for (const m of template.matchAll(/<section\b([^>]*)>[\s\S]*?<\/section>/g)) {
    if (/\shidden(?=[\s>=])/.test(m[1] + " ")) {
      hiddenRanges.push([m.index!, m.index! + m[0].length]);
    }
  }
  for (const m of template.matchAll(/<[a-z]+\b[^>]*\bdata-island="([A-Za-z]+)"[^>]*>/g)) {
    const name = m[1];
    all.push(name);
    const lazy = /\bdata-lazy=/.test(m[0]);
    const hidden = hiddenRanges.some(([a, b]) => m.index! > a && m.index! < b);
    if (!lazy && !hidden) eager.push(name);
  }
  return { all, eager };
}

async function listFiles(dir: string, skip: (path: string) => boolean): Promise<string[]> {
  const out: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    const path = join(dir, entry.name);
    if (skip(path)) continue;
    if (entry.isDirectory) out.push(...await listFiles(path, skip));
    else if (entry.isFile) out.push(path);
  }
  return out;
}

/** Files next to ui/ that change the bundle too: the import map and the locked versions. */
const ROOT_INPUTS = ["deno.json", "deno.lock"];

/**
 * Whether a file under ui/ can change the build's output: code, styles and markup, but not tests
 * (`*_test.ts`, `*_test.tsx`) or anything else (notes, editor files, screenshots).
 */
export function isBuildInput(path: string): boolean {
  const name = path.split(/[\\/]/).pop() ?? "";
  return /\.(ts|tsx|css|html|svg)$/.test(name) && !/_test\.tsx?$/.test(name) &&
    !name.startsWith(".");
}

/**
 * Every file the build reads, relative to `uiDir` and sorted: the inputs under it (outside the
 * output folders) and the project's deno.json and deno.lock when they exist.
 */
export async function buildInputs(uiDir: string, skipDirs: string[] = []): Promise<string[]> {
  const skip = new Set([resolve(uiDir, "dist"), ...skipDirs.map((d) => resolve(d))]);
  const hidden = (p: string) => (p.split(/[\\/]/).pop() ?? "").startsWith(".");
  const inside = await listFiles(uiDir, (p) => skip.has(resolve(p)) || hidden(p));
  const rootFiles: string[] = [];
  for (const name of ROOT_INPUTS) {
    const path = join(uiDir, "..", name);
    try {
      if ((await Deno.stat(path)).isFile) rootFiles.push(path);
    } catch { /* absent: nothing to compare */ }
  }
  return [...inside.filter(isBuildInput), ...rootFiles]
    .map((p) => relative(uiDir, p).split("\\").join("/")).sort();
}

/**
 * The manifest in `outDir` when the build there is up to date with `uiDir`: built from the same
 * set of inputs, none of them modified since the build started. Otherwise null.
 */
export async function freshManifest(outDir: string, uiDir = UI_DIR): Promise<Manifest | null> {
  let built: number;
  let manifest: Manifest;
  try {
    const stat = await Deno.stat(join(outDir, "manifest.json"));
    built = stat.mtime?.getTime() ?? 0;
    manifest = JSON.parse(await Deno.readTextFile(join(outDir, "manifest.json")));
  } catch {
    return null;
  }
  const inputs = await buildInputs(uiDir, [outDir]);
  // A source added, removed or renamed changes the output without a newer file to show for it.
  if (JSON.stringify(inputs) !== JSON.stringify(manifest.inputs)) return null;
  for (const file of inputs) {
    let mtime: number;
    try {
      mtime = (await Deno.stat(join(uiDir, file))).mtime?.getTime() ?? Infinity;
    } catch {
      return null;
    }
    if (mtime >= built) return null;
  }
  return manifest;
}

async function shortHash(data: Uint8Array): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", data as BufferSource));
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  return [...digest.slice(0, 8)].map((b) => alphabet[b % 32]).join("");
}

/**
 * The compressed copies of an asset, by suffix (`.br`, `.gz`): brotli at quality 11 and gzip at
 * level 9, each only when smaller than the file. None for small files or other types.
 */
export async function precompress(
  path: string,
  data: Uint8Array,
): Promise<Map<string, Uint8Array>> {
  const out = new Map<string, Uint8Array>();
  if (!PRECOMPRESSED.test(path) || data.byteLength < PRECOMPRESS_MIN_BYTES) return out;
  const [br, gz] = await Promise.all([
    brotliAsync(data, {
      params: {
        [constants.BROTLI_PARAM_QUALITY]: 11,
        [constants.BROTLI_PARAM_MODE]: constants.BROTLI_MODE_TEXT,
        [constants.BROTLI_PARAM_SIZE_HINT]: data.byteLength,
      },
    }),
    gzipAsync(data, { level: 9 }),
  ]);
  if (br.byteLength < data.byteLength) out.set(".br", new Uint8Array(br));
  if (gz.byteLength < data.byteLength) out.set(".gz", new Uint8Array(gz));
  return out;
}

function sizes(data: Uint8Array): ManifestFile {
  return { bytes: data.length, gzip_bytes: gzipSync(data).length };
}

/** Builds the UI; returns the manifest (the existing one when skipped as up to date). */
export async function buildUi(options: BuildOptions = {}): Promise<BuildResult> {
  const outDir = resolve(options.outDir ?? DEFAULT_OUT_DIR);
  if (options.ifStale) {
    const manifest = await freshManifest(outDir);
    if (manifest) return { skipped: true, outDir, manifest };
  }
  // Listed before anything is read: a source saved during the build makes the next check stale.
  const started = new Date();
  const inputs = await buildInputs(UI_DIR, [outDir]);
  const template = await Deno.readTextFile(join(UI_DIR, "template.html"));
  const islandFiles = (await listFiles(join(UI_DIR, "islands"), () => false))
    .filter((f) => /\/[A-Z][A-Za-z]+\.tsx$/.test(f)).sort();
  const islandNames = islandFiles.map((f) => f.slice(f.lastIndexOf("/") + 1, -4));
  const { all, eager } = eagerIslands(template);
  const unknown = all.filter((n) => !islandNames.includes(n));
  if (unknown.length) throw new Error(`template.html names unknown islands: ${unknown.join(", ")}`);

  const assetsDir = join(outDir, ASSETS);
  let result: esbuild.BuildResult<{ metafile: true; write: false }>;
  try {
    result = await esbuild.build({
      absWorkingDir: UI_DIR,
      entryPoints: [join(UI_DIR, "boot.ts"), join(UI_DIR, "styles.css"), ...islandFiles],
      outdir: assetsDir,
      bundle: true,
      splitting: true,
      format: "esm",
      platform: "browser",
      target: ["es2022", "chrome111", "firefox113", "safari16.4"],
      minify: options.minify ?? true,
      jsx: "automatic",
      jsxImportSource: "preact",
      entryNames: "[name]-[hash]",
      chunkNames: "[name]-[hash]",
      assetNames: "[name]-[hash]",
      metafile: true,
      write: false,
      logLevel: "silent",
      legalComments: "eof",
      charset: "utf8",
    });
  } finally {
    await esbuild.stop();
  }

  const files = new Map<string, Uint8Array>();
  const islands: Record<string, string> = {};
  let boot = "";
  let css = "";
  const rel = (abs: string) => relative(outDir, abs).split("\\").join("/");
  for (const f of result.outputFiles) files.set(rel(f.path), f.contents);
  const outputs = result.metafile.outputs;
  const outKey = (metaPath: string) => rel(resolve(UI_DIR, metaPath));
  for (const [path, meta] of Object.entries(outputs)) {
    if (!meta.entryPoint) continue;
    const entry = meta.entryPoint.replace(/^.*\//, "");
    if (entry === "boot.ts") boot = outKey(path);
    else if (entry === "styles.css" && path.endsWith(".css")) css = outKey(path);
    else if (entry.endsWith(".tsx") && path.endsWith(".js")) {
      islands[entry.slice(0, -4)] = outKey(path);
    }
  }
  if (!boot || !css) throw new Error("esbuild produced no boot module or stylesheet");

  const faviconBytes = new TextEncoder().encode(FAVICON);
  const favicon = `${ASSETS}/favicon-${await shortHash(faviconBytes)}.svg`;
  files.set(favicon, faviconBytes);

  // The first page: boot + eager islands + everything they import statically.
  const staticImports = new Map<string, string[]>();
  for (const [path, meta] of Object.entries(outputs)) {
    staticImports.set(
      outKey(path),
      meta.imports.filter((i) => i.kind === "import-statement" && !i.external)
        .map((i) => outKey(i.path)),
    );
  }
  const firstPage: string[] = [];
  const visit = (file: string) => {
    if (firstPage.includes(file)) return;
    firstPage.push(file);
    for (const dep of staticImports.get(file) ?? []) visit(dep);
  };
  visit(boot);
  for (const name of eager) visit(islands[name]);
  const jsGzip = firstPage.reduce((sum, f) => sum + sizes(files.get(f)!).gzip_bytes, 0);

  const url = (p: string) => `/${p}`;
  const head = [
    `<link rel="icon" type="image/svg+xml" href="${url(favicon)}">`,
    `<link rel="stylesheet" href="${url(css)}">`,
    ...firstPage.filter((f) => f !== boot).map((f) =>
      `<link rel="modulepreload" href="${url(f)}">`
    ),
    `<script type="module" src="${url(boot)}"></script>`,
  ].join("\n    ");
  if (!template.includes("<!-- assets -->")) throw new Error("template.html lacks <!-- assets -->");
  const html = new TextEncoder().encode(template.replace("<!-- assets -->", head));
  files.set("index.html", html);

  const manifest: Manifest = {
    version: 1,
    html: "index.html",
    boot,
    css,
    favicon,
    islands,
    first_page: {
      islands: eager,
      js: firstPage,
      js_gzip_bytes: jsGzip,
      budget_gzip_bytes: FIRST_PAGE_BUDGET,
    },
    files: Object.fromEntries(
      [...files].sort(([a], [b]) => a < b ? -1 : 1).map(([p, data]) => [p, sizes(data)]),
    ),
    inputs,
  };

  // New hashed assets first, then the shell and manifest, then drop assets no longer referenced:
  // a server reading index.html meanwhile never points at a missing file.
  await Deno.mkdir(assetsDir, { recursive: true });
  const written = new Set<string>();
  await Promise.all([...files].map(async ([p, data]) => {
    if (!p.startsWith(`${ASSETS}/`)) return;
    // The compressed copies first: the server may look for them once the asset exists.
    for (const [suffix, bytes] of await precompress(p, data)) {
      await Deno.writeFile(join(outDir, p + suffix), bytes);
      written.add(p + suffix);
    }
    await Deno.writeFile(join(outDir, p), data);
    written.add(p);
  }));
  await Deno.writeFile(join(outDir, "index.html"), html);
  const manifestPath = join(outDir, "manifest.json");
  await Deno.writeTextFile(manifestPath, JSON.stringify(manifest, null, 2) + "\n");
  // The manifest's time is the build's start, the moment its inputs were taken.
  await Deno.utime(manifestPath, started, started);
  for await (const entry of Deno.readDir(assetsDir)) {
    if (!written.has(`${ASSETS}/${entry.name}`)) await Deno.remove(join(assetsDir, entry.name));
  }
  return { skipped: false, outDir, manifest };
}

function kb(bytes: number): string {
  return `${(bytes / 1024).toFixed(1)} KB`;
}

if (import.meta.main) {
  const args = Deno.args;
  const at = args.indexOf("--out-dir");
  const started = performance.now();
  try {
    const { skipped, outDir, manifest } = await buildUi({
      ifStale: args.includes("--if-stale"),
      outDir: at >= 0 ? args[at + 1] : undefined,
    });
    const fp = manifest.first_page;
    const ms = Math.round(performance.now() - started);
    console.log(
      skipped
        ? `UI is up to date (${relative(Deno.cwd(), outDir) || "."})`
        : `Built the UI into ${relative(Deno.cwd(), outDir) || "."} in ${ms} ms: ${
          Object.keys(manifest.files).length
        } files; first page loads ${fp.js.length} JS files, ${
          kb(fp.js_gzip_bytes)
        } gzipped (budget ${kb(fp.budget_gzip_bytes)})`,
    );
    if (fp.js_gzip_bytes > fp.budget_gzip_bytes) {
      console.error("Warning: the first page's JavaScript is over budget");
    }
  } catch (err) {
    console.error(`Cannot build the UI: ${err instanceof Error ? err.message : err}`);
    Deno.exit(1);
  }
}
