/**
 * `deno task storage copy --to s3://bucket/prefix [--dry-run] [--concurrency N]`: copies every
 * image under STORAGE_PATH/generated into a bucket (credentials and endpoint from AWS_* as for
 * the service). Idempotent and resumable (an object already there with the same size is
 * skipped), and safe while the service runs: local files are only read.
 */
import { join } from "node:path";
import { ConfigError, loadEnv, parseConfig } from "../shared/config.ts";
import { isSafeFileName } from "../shared/storage/storage.ts";
import { createS3Storage, type S3Storage } from "../shared/storage/s3.ts";
import { formatS3Url, parseS3Url } from "../shared/storage/s3_url.ts";
import { toError } from "../shared/errors.ts";

const USAGE = `Usage:
  deno task storage copy --to s3://bucket/prefix [--dry-run] [--concurrency N]
      copy STORAGE_PATH/generated into the bucket (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
      AWS_REGION, AWS_ENDPOINT_URL_S3 and S3_FORCE_PATH_STYLE as for the service); run it
      again to resume; --dry-run only says what it would copy`;

/** What happened to one file. */
export type CopyEvent =
  | { kind: "copied" | "skipped" | "would_copy" | "gone"; file: string; bytes: number }
  | { kind: "failed"; file: string; bytes: number; error: string };

/** Totals of a copy run. */
export interface CopySummary {
  files: number;
  copied: number;
  skipped: number;
  failed: number;
  /** Files a dry run would copy. */
  wouldCopy: number;
  /** Files removed locally while the copy ran (their job was deleted). */
  gone: number;
  /** Bytes copied (or, in a dry run, to copy). */
  bytes: number;
}

/** The image files under `dir` (name-sorted, so a resumed run walks them in the same order). */
export async function listImages(dir: string): Promise<{ file: string; bytes: number }[]> {
  const files: { file: string; bytes: number }[] = [];
  try {
    for await (const entry of Deno.readDir(dir)) {
      if (!entry.isFile || !isSafeFileName(entry.name)) continue;
      const info = await Deno.stat(join(dir, entry.name)).catch(() => null);
      if (info) files.push({ file: entry.name, bytes: info.size });
    }
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
  return files.sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0));
}

/**
 * Copies every file of `sourceDir` missing from the bucket (or there with another size),
 * `concurrency` at a time; reports each file through `onEvent`. Never throws for one file.
 */
export async function copyToBucket(
  storage: S3Storage,
  sourceDir: string,
  options: {
    dryRun?: boolean;
    concurrency?: number;
    onStart?: (files: number, bytes: number) => void;
    onEvent?: (event: CopyEvent) => void;
  } = {},
): Promise<CopySummary> {
  const files = await listImages(sourceDir);
  options.onStart?.(files.length, files.reduce((n, f) => n + f.bytes, 0));
  const summary: CopySummary = {
    files: files.length,
    copied: 0,
    skipped: 0,
    failed: 0,
    wouldCopy: 0,
    gone: 0,
    bytes: 0,
  };
  const copyOne = async ({ file, bytes }: { file: string; bytes: number }): Promise<CopyEvent> => {
    try {
      const there = await storage.stat(file);
      if (there && there.size === bytes) return { kind: "skipped", file, bytes };
      if (options.dryRun) return { kind: "would_copy", file, bytes };
      const sent = await storage.uploadFile(file, join(sourceDir, file));
      return { kind: "copied", file, bytes: sent.bytes };
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) return { kind: "gone", file, bytes };
      return { kind: "failed", file, bytes, error: toError(err).message };
    }
  };
  let next = 0;
  const lanes = Array.from({ length: Math.max(1, options.concurrency ?? 8) }, async () => {
    while (next < files.length) {
      const event = await copyOne(files[next++]);
      if (event.kind === "copied") {
        summary.copied++;
        summary.bytes += event.bytes;
      } else if (event.kind === "would_copy") {
        summary.wouldCopy++;
        summary.bytes += event.bytes;
      } else if (event.kind === "skipped") summary.skipped++;
      else if (event.kind === "gone") summary.gone++;
      else summary.failed++;
      options.onEvent?.(event);
    }
  });
  await Promise.all(lanes);
  return summary;
}

/** A progress bar redrawn in place on a terminal; one line per 100 files otherwise. */
export function createProgress(
  write: (text: string) => void,
  tty: boolean,
): { start(files: number, bytes: number): void; event(e: CopyEvent): void; end(): void } {
  let total = 0;
  let done = 0;
  let copied = 0;
  let skipped = 0;
  let failed = 0;
  let lastDraw = 0;
  const line = () =>
    `${done}/${total} files: ${copied} copied, ${skipped} already there, ${failed} failed`;
  const draw = (force: boolean) => {
    if (!tty) {
      if (force || done % 100 === 0) write(`${line()}\n`);
      return;
    }
    const now = Date.now();
    if (!force && now - lastDraw < 100) return;
    lastDraw = now;
    const width = 30;
    const filled = total === 0 ? width : Math.round((done / total) * width);
    write(`\r[${"#".repeat(filled)}${".".repeat(width - filled)}] ${line()}\x1b[K`);
  };
  return {
    start(files) {
      total = files;
      if (tty) draw(true);
    },
    event(e) {
      done++;
      if (e.kind === "copied") copied++;
      else if (e.kind === "skipped") skipped++;
      else if (e.kind === "failed") {
        failed++;
        write(`${tty ? "\r\x1b[K" : ""}failed: ${e.file}: ${e.error}\n`);
      }
      draw(false);
    },
    end() {
      draw(true);
      if (tty) write("\n");
    },
  };
}

function flag(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
}

function megabytes(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

if (import.meta.main) {
  const [command, ...args] = Deno.args;
  const to = flag(args, "--to");
  const concurrency = Number(flag(args, "--concurrency") ?? 8);
  if (command !== "copy" || !to || !Number.isInteger(concurrency) || concurrency < 1) {
    console.error(USAGE);
    Deno.exit(2);
  }
  let config;
  try {
    // The destination is checked like STORAGE_URL, with the credentials it needs.
    config = parseConfig({ ...await loadEnv(), STORAGE_URL: to });
  } catch (err) {
    console.error(err instanceof ConfigError ? err.message : toError(err).message);
    Deno.exit(1);
  }
  const location = parseS3Url(to);
  const storage = createS3Storage({
    location,
    region: config.AWS_REGION,
    endpoint: config.AWS_ENDPOINT_URL_S3 ?? config.AWS_ENDPOINT_URL,
    forcePathStyle: config.S3_FORCE_PATH_STYLE,
    accessKeyId: config.AWS_ACCESS_KEY_ID!,
    secretAccessKey: config.AWS_SECRET_ACCESS_KEY!,
    tmpDir: join(config.STORAGE_PATH, "tmp"),
  });
  const dryRun = args.includes("--dry-run");
  const source = join(config.STORAGE_PATH, "generated");
  if (!dryRun) {
    try {
      await storage.checkWritable();
    } catch (err) {
      console.error(toError(err).message);
      Deno.exit(1);
    }
  }
  const progress = createProgress(
    (text) => Deno.stdout.writeSync(new TextEncoder().encode(text)),
    Deno.stdout.isTerminal(),
  );
  console.log(`${dryRun ? "Dry run: " : ""}${source} -> ${formatS3Url(location)}`);
  const summary = await copyToBucket(storage, source, {
    dryRun,
    concurrency,
    onStart: (files) => progress.start(files, 0),
    onEvent: (event) => progress.event(event),
  });
  progress.end();
  if (dryRun) {
    console.log(
      `Would copy ${summary.wouldCopy} of ${summary.files} files (${megabytes(summary.bytes)}); ` +
        `${summary.skipped} already there.`,
    );
  } else {
    console.log(
      `Copied ${summary.copied} of ${summary.files} files (${megabytes(summary.bytes)}); ` +
        `${summary.skipped} already there` +
        (summary.gone ? `; ${summary.gone} deleted meanwhile` : "") +
        (summary.failed ? `; ${summary.failed} failed: run the same command again` : "."),
    );
    if (summary.failed === 0) {
      console.log(`Set STORAGE_URL=${formatS3Url(location)} and restart the api and workers.`);
    }
  }
  Deno.exit(summary.failed > 0 ? 1 : 0);
}
