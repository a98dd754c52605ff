/**
 * The image-serving scenario (`--only=images`; not in the default run): GET of one ~100 KB WebP
 * thumbnail through the API with IMAGE_DELIVERY=proxy from local disk and from a bucket (s3rver),
 * and with IMAGE_DELIVERY=redirect (the 302 itself, never followed), each by a fresh api process
 * on one stack. What each row measures: docs/benchmarks.md, "Image serving".
 */
import { encode } from "fast-png";
import { makeThumbnail } from "../../shared/media/thumbnails.ts";
import { createLocalStorage } from "../../shared/storage/local.ts";
import { createS3Storage } from "../../shared/storage/s3.ts";
import { parseS3Url } from "../../shared/storage/s3_url.ts";
import type { Storage } from "../../shared/storage/storage.ts";
import { freePort } from "../../shared/testing/processes.ts";
import { type PrivateS3, startPrivateS3 } from "../../shared/testing/s3_server.ts";
import { type HttpMeasure, measureHttp } from "./http.ts";
import { log, type ScenarioContext } from "./run.ts";
import { firstAnswer, openStack, type Stack, startProcess, stopChecked } from "./stack.ts";

/** The stored original (a redirect to it is signed without asking the bucket). */
const IMAGE = "bench-0.png";
/** Its thumbnail, the file the rows serve (the UI's tiles ask for these). */
const THUMB = "bench-0.thumb.webp";
const BUCKET = "darkroom-bench";
const PREFIX = "images";

/** One way of serving, as a row of the report. */
export interface ImageRow {
  /** Short name (progress log, the load's files). */
  key: string;
  label: string;
  delivery: "proxy" | "redirect";
  backend: "local" | "s3";
  file: string;
  /** What each answer was: 200 with the bytes, or 302 to the bucket. */
  status: number;
  measure?: HttpMeasure;
}

/** What the image scenario measures. */
export interface ImagesResults {
  images?: { file: string; bytes: number; width: number; height: number; rows: ImageRow[] };
}

/** A 512 px noise picture: its q72 WebP thumbnail comes out near 100 KB, the same every run. */
async function benchImages(): Promise<{ png: Uint8Array; webp: Uint8Array }> {
  const side = 512;
  let seed = 7;
  const rnd = () => ((seed = (Math.imul(seed, 1103515245) + 12345) & 0x7fffffff) >> 16) / 32768;
  const data = new Uint8Array(side * side * 3);
  const base = [68, 102, 136];
  for (let i = 0; i < data.length; i++) {
    const v = base[i % 3] + (rnd() + rnd() + rnd() - 1.5) * 62;
    data[i] = Math.max(0, Math.min(255, Math.round(v)));
  }
  const png = encode({ width: side, height: side, data, channels: 3 });
  return { png, webp: await makeThumbnail(png) };
}

/** Puts the original and its thumbnail into `storage`. */
async function store(storage: Storage, files: { png: Uint8Array; webp: Uint8Array }) {
  await storage.put(IMAGE, files.png, "image/png");
  await storage.put(THUMB, files.webp, "image/webp");
}

/** The four rows, in the order they run. */
function plannedRows(): ImageRow[] {
  return [
    {
      key: "proxy_local",
      label: "proxy, local disk",
      delivery: "proxy",
      backend: "local",
      file: THUMB,
      status: 200,
    },
    {
      key: "proxy_bucket",
      label: "proxy, bucket (s3rver)",
      delivery: "proxy",
      backend: "s3",
      file: THUMB,
      status: 200,
    },
    {
      key: "redirect_thumbnail",
      label: "redirect, thumbnail (HEAD to the bucket + presign)",
      delivery: "redirect",
      backend: "s3",
      file: THUMB,
      status: 302,
    },
    {
      key: "redirect_image",
      label: "redirect, full image (presign only)",
      delivery: "redirect",
      backend: "s3",
      file: IMAGE,
      status: 302,
    },
  ];
}

/** One request, checked: the row's status, and the stored bytes behind it. */
async function checkOnce(url: string, row: ImageRow, expected: Uint8Array): Promise<void> {
  const res = await fetch(url, { redirect: "manual" });
  const body = new Uint8Array(await res.arrayBuffer());
  if (res.status !== row.status) throw new Error(`${row.label}: ${url} answered ${res.status}`);
  let bytes = body;
  if (row.status === 302) {
    const target = await fetch(res.headers.get("location") ?? "");
    bytes = new Uint8Array(await target.arrayBuffer());
    if (target.status !== 200) {
      throw new Error(`${row.label}: the redirect's target answered ${target.status}`);
    }
  }
  if (!equalBytes(bytes, expected)) {
    throw new Error(`${row.label}: ${url} served other bytes than were stored`);
  }
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

/** Starts an api with `env`, measures GET of the row's file, stops it. */
async function measureRow(
  ctx: ScenarioContext<ImagesResults>,
  stack: Stack,
  row: ImageRow,
  options: { env: Record<string, string>; s3: PrivateS3; files: Record<string, Uint8Array> },
): Promise<void> {
  const port = freePort();
  const base = `http://127.0.0.1:${port}`;
  const t0 = performance.now();
  const api = await startProcess(stack, "api", { env: { ...options.env, PORT: String(port) } });
  try {
    await firstAnswer(stack, `${base}/api/v1/health`, { since: t0, timeoutMs: 60_000, proc: api });
    const path = `/images/${row.file}`;
    await checkOnce(`${base}${path}`, row, options.files[row.file]);
    const roles = row.backend === "s3"
      ? { api: api.child.pid, s3rver: options.s3.pid }
      : { api: api.child.pid };
    row.measure = await measureHttp(
      { base, plan: ctx.plan, tmp: ctx.tmp, useWrk: ctx.useWrk, run: ctx.run },
      `images_${row.key}`,
      { method: "GET", path },
      roles,
    );
  } finally {
    await stopChecked(ctx.run, api);
  }
}

/** Stores the thumbnail on local disk and in a private s3rver bucket, then measures each row. */
export async function imagesScenario(ctx: ScenarioContext<ImagesResults>): Promise<void> {
  const stack = await openStack(ctx.run, "images", { latencyMs: 0, roleEnv: ctx.roleEnv });
  const s3 = await startPrivateS3({ bucket: BUCKET });
  stack.defer(() => s3.close());
  const files = await benchImages();
  const local = stack.env.STORAGE_PATH;
  await store(createLocalStorage(local), files);
  await store(
    createS3Storage({
      location: parseS3Url(`s3://${BUCKET}/${PREFIX}`),
      region: "us-east-1",
      endpoint: s3.endpoint,
      forcePathStyle: true,
      accessKeyId: s3.accessKeyId,
      secretAccessKey: s3.secretAccessKey,
      tmpDir: `${ctx.tmp}/images-s3-tmp`,
    }),
    files,
  );
  const rows = plannedRows();
  ctx.results.images = { file: THUMB, bytes: files.webp.length, width: 512, height: 512, rows };
  log(`images: ${THUMB} is ${files.webp.length} bytes (512×512 WebP)`);
  for (const row of rows) {
    const env = {
      ...stack.env,
      ...stack.roleEnv.api,
      ...row.backend === "s3" ? s3.env(PREFIX) : {},
      IMAGE_DELIVERY: row.delivery,
    };
    await measureRow(ctx, stack, row, {
      env,
      s3,
      files: { [IMAGE]: files.png, [THUMB]: files.webp },
    });
  }
}
