import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { encode } from "fast-png";
import { createS3Storage } from "../shared/storage/s3.ts";
import { parseS3Url } from "../shared/storage/s3_url.ts";
import { startPrivateS3 } from "../shared/testing/s3_server.ts";
import { type CopyEvent, copyToBucket, createProgress } from "./storage.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));

function png(width: number, seed: number): Uint8Array {
  const data = Uint8Array.from(
    { length: width * width * 4 },
    () => (seed = (Math.imul(seed, 1103515245) + 12345) & 0x7fffffff) >> 16 & 0xff,
  );
  return encode({ width, height: width, data, channels: 4 });
}

Deno.test("storage copy: local images into a bucket, idempotent, resumable, dry run", async (t) => {
  const server = await startPrivateS3({ bucket: "archive" });
  const root = await Deno.makeTempDir({ prefix: "darkroom-copy-" });
  const generated = join(root, "generated");
  await Deno.mkdir(generated);
  const images = new Map<string, Uint8Array>();
  for (let i = 0; i < 5; i++) {
    const bytes = png(8 + i, i + 1);
    images.set(`job${i}-0.png`, bytes);
    await Deno.writeFile(join(generated, `job${i}-0.png`), bytes);
  }
  const storage = createS3Storage({
    location: parseS3Url("s3://archive/imgs"),
    region: "us-east-1",
    endpoint: server.endpoint,
    forcePathStyle: true,
    accessKeyId: server.accessKeyId,
    secretAccessKey: server.secretAccessKey,
    tmpDir: join(root, "tmp"),
  });
  try {
    await t.step("a dry run writes nothing", async () => {
      const summary = await copyToBucket(storage, generated, { dryRun: true });
      assert.equal(summary.wouldCopy, 5);
      assert.equal(summary.copied, 0);
      assert.equal(await storage.stat("job0-0.png"), null);
    });

    await t.step("the first run copies every image, byte for byte", async () => {
      const events: CopyEvent[] = [];
      const summary = await copyToBucket(storage, generated, {
        concurrency: 2,
        onEvent: (e) => events.push(e),
      });
      assert.equal(summary.copied, 5);
      assert.equal(summary.failed, 0);
      assert.equal(events.length, 5);
      for (const [file, bytes] of images) {
        const res = await fetch(`${server.endpoint}/archive/imgs/${file}`);
        assert.equal(res.headers.get("content-type"), "image/png");
        assert.deepEqual(new Uint8Array(await res.arrayBuffer()), bytes, file);
      }
    });

    await t.step("a second run skips what is there; a missing one is copied again", async () => {
      await storage.remove("job3-0.png");
      const summary = await copyToBucket(storage, generated);
      assert.deepEqual(
        { copied: summary.copied, skipped: summary.skipped, failed: summary.failed },
        { copied: 1, skipped: 4, failed: 0 },
      );
      assert.equal((await storage.stat("job3-0.png"))?.size, images.get("job3-0.png")!.length);
    });

    await t.step("a file that is no image fails alone; the run goes on", async () => {
      await Deno.writeFile(join(generated, "stray-0.png"), new TextEncoder().encode("not png"));
      const summary = await copyToBucket(storage, generated);
      assert.equal(summary.failed, 1);
      assert.equal(summary.skipped, 5);
      await Deno.remove(join(generated, "stray-0.png"));
    });

    await t.step(
      "the task: plain progress lines off a terminal, exit 0, then nothing to do",
      async () => {
        await storage.remove("job1-0.png");
        const run = async (extra: Record<string, string>) => {
          const out = await new Deno.Command(Deno.execPath(), {
            args: [
              "run",
              "--config",
              join(ROOT, "deno.json"),
              "--allow-net",
              "--allow-env",
              "--allow-read",
              join(ROOT, "tools/storage.ts"),
              "copy",
              "--to",
              "s3://archive/imgs",
            ],
            cwd: root,
            env: {
              STORAGE_PATH: root,
              AWS_REGION: "us-east-1",
              AWS_ENDPOINT_URL_S3: server.endpoint,
              S3_FORCE_PATH_STYLE: "true",
              RUST_BACKTRACE: "0",
              NO_COLOR: "1",
              ...extra,
            },
            clearEnv: true,
            stdout: "piped",
            stderr: "piped",
          }).output();
          const dec = new TextDecoder();
          return { code: out.code, text: dec.decode(out.stdout) + dec.decode(out.stderr) };
        };
        const creds = {
          AWS_ACCESS_KEY_ID: server.accessKeyId,
          AWS_SECRET_ACCESS_KEY: server.secretAccessKey,
        };
        const first = await run(creds);
        assert.equal(first.code, 0, first.text);
        assert.match(first.text, /5\/5 files: 1 copied, 4 already there, 0 failed/);
        assert.match(first.text, /Copied 1 of 5 files/);
        assert.ok(!first.text.includes("\r"), "no bar off a terminal");
        const again = await run(creds);
        assert.match(again.text, /Copied 0 of 5 files .*5 already there/);
        const missing = await run({});
        assert.equal(missing.code, 1);
        assert.match(missing.text, /AWS_ACCESS_KEY_ID: is required when STORAGE_URL is set/);
      },
    );
  } finally {
    await server.close();
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("storage copy: the bar redraws in place on a terminal", () => {
  let out = "";
  const progress = createProgress((text) => void (out += text), true);
  progress.start(2, 0);
  progress.event({ kind: "copied", file: "a-0.png", bytes: 1 });
  progress.event({ kind: "failed", file: "b-0.png", bytes: 1, error: "status 500" });
  progress.end();
  assert.match(out, /\r\[#{30}\] 2\/2 files: 1 copied, 0 already there, 1 failed/);
  assert.match(out, /failed: b-0\.png: status 500\n/);
  assert.ok(out.endsWith("\n"));
});
