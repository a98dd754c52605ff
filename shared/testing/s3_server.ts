/**
 * Test helper: a private S3-protocol server (`npm:s3rver`, path-style, fixed credentials
 * S3RVER/S3RVER) on a free port of 127.0.0.1 with one bucket, its objects in a temp folder. A
 * test may stop and start it again (same port, same objects) to simulate a bucket outage.
 */
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { freePort, stopChild } from "./processes.ts";

/** s3rver's fixed credentials (not secrets: they only open a test server). */
export const S3RVER_KEY = "S3RVER";

/** A running s3rver with one bucket. */
export interface PrivateS3 {
  readonly port: number;
  /** `http://127.0.0.1:<port>`. */
  readonly endpoint: string;
  readonly bucket: string;
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  /** Where s3rver keeps the objects: `<dir>/<bucket>/<key>._S3rver_object`. */
  readonly dir: string;
  /** True while the server process runs. */
  readonly running: boolean;
  /** The server process's id while it runs (the benchmark reads its CPU time). */
  readonly pid: number | undefined;
  /** The environment that points a service at this bucket (under `prefix`, if given). */
  env(prefix?: string): Record<string, string>;
  /** Starts the server again on the same port; resolves once it answers. */
  start(): Promise<void>;
  /** Stops the server (SIGTERM, then SIGKILL) and waits until it has exited. */
  stop(): Promise<void>;
  /** Stops the server if it runs and removes its folder. */
  close(): Promise<void>;
}

/** Starts s3rver with `bucket` (default `darkroom-test`) configured. */
export async function startPrivateS3(
  options: { port?: number; bucket?: string } = {},
): Promise<PrivateS3> {
  const port = options.port ?? freePort();
  const bucket = options.bucket ?? "darkroom-test";
  const script = await s3rverScript();
  const dir = await Deno.makeTempDir({ prefix: "darkroom-s3-" });
  const [program, ...prefixArgs] = (await hasNode())
    ? ["node"]
    : [Deno.execPath(), "run", "--allow-all"];
  let child: Deno.ChildProcess | undefined;
  let output = "";

  const spawn = async () => {
    const proc = new Deno.Command(program, {
      args: [
        ...prefixArgs,
        script,
        "--directory",
        dir,
        "--address",
        "127.0.0.1",
        "--port",
        String(port),
        "--silent",
        "--no-vhost-buckets",
        "--configure-bucket",
        bucket,
      ],
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    child = proc;
    for (const stream of [proc.stdout, proc.stderr]) {
      const decoder = new TextDecoder();
      stream.pipeTo(
        new WritableStream({ write: (chunk) => void (output += decoder.decode(chunk)) }),
      ).catch(() => {});
    }
    const until = Date.now() + 20_000;
    while (!(await answers(port))) {
      const exited = await Promise.race([proc.status, delay(50).then(() => null)]);
      if (exited || Date.now() > until) {
        try {
          proc.kill("SIGKILL");
        } catch { /* exited */ }
        child = undefined;
        throw new Error(`s3rver on port ${port} did not start\n${output}`);
      }
    }
  };

  const server: PrivateS3 = {
    port,
    endpoint: `http://127.0.0.1:${port}`,
    bucket,
    accessKeyId: S3RVER_KEY,
    secretAccessKey: S3RVER_KEY,
    dir,
    get running() {
      return child !== undefined;
    },
    get pid() {
      return child?.pid;
    },
    env(prefix = "") {
      return {
        STORAGE_URL: `s3://${bucket}${prefix ? `/${prefix}` : ""}`,
        AWS_ACCESS_KEY_ID: S3RVER_KEY,
        AWS_SECRET_ACCESS_KEY: S3RVER_KEY,
        AWS_REGION: "us-east-1",
        AWS_ENDPOINT_URL_S3: `http://127.0.0.1:${port}`,
        S3_FORCE_PATH_STYLE: "true",
      };
    },
    async start() {
      if (child) return;
      await spawn();
    },
    async stop() {
      const proc = child;
      if (!proc) return;
      child = undefined;
      await stopChild(proc, 5000);
    },
    async close() {
      await server.stop();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
  try {
    await spawn();
  } catch (err) {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    throw err;
  }
  return server;
}

/** s3rver's entry script in this checkout's node_modules (installed by `deno install`). */
async function s3rverScript(): Promise<string> {
  const modules = fileURLToPath(new URL("../../node_modules", import.meta.url));
  const direct = join(modules, "s3rver", "bin", "s3rver.js");
  if (await exists(direct)) return direct;
  try {
    for await (const entry of Deno.readDir(join(modules, ".deno"))) {
      if (!entry.name.startsWith("s3rver@")) continue;
      const script = join(modules, ".deno", entry.name, "node_modules/s3rver/bin/s3rver.js");
      if (await exists(script)) return script;
    }
  } catch { /* no .deno folder */ }
  throw new Error("s3rver is not installed: run `deno install` (it is in deno.json)");
}

async function hasNode(): Promise<boolean> {
  try {
    const out = await new Deno.Command("node", { args: ["--version"], stdout: "null" }).output();
    return out.success;
  } catch {
    return false;
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

/** True when something on `port` answers an HTTP request (s3rver lists its buckets). */
async function answers(port: number): Promise<boolean> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(1000) });
    await res.body?.cancel();
    return res.status < 500;
  } catch {
    return false;
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
