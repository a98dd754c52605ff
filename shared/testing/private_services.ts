/**
 * Test helper: private Redis and Postgres servers on free ports of 127.0.0.1, which a test may
 * stop and start again (same port, same data folder) to simulate an outage without touching the
 * machine's shared servers.
 */
import { freePort, stopChild } from "./processes.ts";
import { withTimeout } from "../timeout.ts";

/** A private `redis-server` without persistence: a restart comes back empty. */
export interface PrivateRedis {
  readonly port: number;
  /** `redis://127.0.0.1:<port>`. */
  readonly url: string;
  /** True while the server process runs. */
  readonly running: boolean;
  /** Starts the server again on the same port; resolves once it answers PING. */
  start(): Promise<void>;
  /** Stops the server (SIGTERM; nothing is saved) and waits until it has exited. */
  stop(): Promise<void>;
  /** Stops the server if it runs and removes its folder. */
  close(): Promise<void>;
}

/** A private Postgres cluster (initdb in a temp folder), trust auth, one database. */
export interface PrivatePostgres {
  readonly port: number;
  /** `postgres://postgres@127.0.0.1:<port>/<database>`. */
  readonly url: string;
  /** Starts the cluster; resolves once it accepts connections. */
  start(): Promise<void>;
  /** `pg_ctl stop -m <mode>` (fast by default), waiting until it has stopped. */
  stop(mode?: "smart" | "fast" | "immediate"): Promise<void>;
  /** `pg_ctl restart -m fast`. */
  restart(): Promise<void>;
  /** The server log so far (for failure messages). */
  log(): Promise<string>;
  /** Stops the cluster (immediate) and removes its folder. */
  close(): Promise<void>;
}

/** Starts `redis-server --port N --save "" --appendonly no --bind 127.0.0.1`. */
export async function startPrivateRedis(
  options: { port?: number } = {},
): Promise<PrivateRedis> {
  const port = options.port ?? freePort();
  const dir = await Deno.makeTempDir({ prefix: "darkroom-redis-" });
  let child: Deno.ChildProcess | undefined;
  let output = "";

  const spawn = async () => {
    const proc = new Deno.Command("redis-server", {
      args: [
        "--port",
        String(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        "--maxmemory-policy",
        "noeviction",
        "--dir",
        dir,
      ],
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    child = proc;
    collect(proc, (text) => void (output += text));
    const until = Date.now() + 10_000;
    while (!(await redisAnswers(port))) {
      const exited = await withTimeout(proc.status, 50, () => null);
      if (exited || Date.now() > until) {
        try {
          proc.kill("SIGKILL");
        } catch { /* exited */ }
        throw new Error(`redis-server on port ${port} did not start\n${output}`);
      }
    }
  };

  const redis: PrivateRedis = {
    port,
    url: `redis://127.0.0.1:${port}`,
    get running() {
      return child !== undefined;
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
      await redis.stop();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
  await spawn();
  return redis;
}

/** True when something on `port` answers a Redis PING with PONG. */
async function redisAnswers(port: number): Promise<boolean> {
  let conn: Deno.TcpConn | undefined;
  try {
    conn = await Deno.connect({ hostname: "127.0.0.1", port });
    await conn.write(new TextEncoder().encode("PING\r\n"));
    const buf = new Uint8Array(64);
    const n = await withTimeout(conn.read(buf), 1000, () => null);
    return n !== null && new TextDecoder().decode(buf.subarray(0, n)).startsWith("+PONG");
  } catch {
    return false;
  } finally {
    try {
      conn?.close();
    } catch { /* closed */ }
  }
}

/** The newest `/usr/lib/postgresql/<version>/bin`. */
async function postgresBinDir(): Promise<string> {
  const versions: number[] = [];
  for await (const entry of Deno.readDir("/usr/lib/postgresql")) {
    if (/^\d+$/.test(entry.name)) versions.push(Number(entry.name));
  }
  if (versions.length === 0) throw new Error("No Postgres under /usr/lib/postgresql");
  return `/usr/lib/postgresql/${Math.max(...versions)}/bin`;
}

/** Runs a Postgres tool; as root it runs as the `postgres` OS user (initdb refuses root). */
async function runAsPostgres(
  program: string,
  args: string[],
): Promise<{ code: number; output: string }> {
  const asRoot = Deno.uid() === 0;
  const out = await new Deno.Command(asRoot ? "runuser" : program, {
    args: asRoot ? ["-u", "postgres", "--", program, ...args] : args,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, output: dec.decode(out.stdout) + dec.decode(out.stderr) };
}

/** initdb + pg_ctl start of a throwaway cluster, and `CREATE DATABASE <database>`. */
export async function startPrivatePostgres(
  options: { port?: number; database?: string } = {},
): Promise<PrivatePostgres> {
  const port = options.port ?? freePort();
  const database = options.database ?? "darkroom";
  const bin = await postgresBinDir();
  const dir = await Deno.makeTempDir({ prefix: "darkroom-pg-" });
  const data = `${dir}/data`;
  const socketDir = `${dir}/sock`;
  const logFile = `${dir}/server.log`;
  await Deno.mkdir(socketDir);
  if (Deno.uid() === 0) {
    const chown = await new Deno.Command("chown", { args: ["-R", "postgres:postgres", dir] })
      .output();
    if (chown.code !== 0) throw new Error(`Cannot chown ${dir} to postgres`);
  }
  const serverOptions = [
    `-p ${port}`,
    `-k ${socketDir}`,
    "-c listen_addresses=127.0.0.1",
    "-c fsync=off",
    "-c synchronous_commit=off",
    "-c full_page_writes=off",
    "-c max_connections=200",
  ].join(" ");
  const pgCtl = async (args: string[]) => {
    const result = await runAsPostgres(`${bin}/pg_ctl`, args);
    if (result.code !== 0) {
      const log = await Deno.readTextFile(logFile).catch(() => "");
      throw new Error(`pg_ctl ${args[0]} failed (${result.code}):\n${result.output}\n${log}`);
    }
  };

  try {
    const init = await runAsPostgres(`${bin}/initdb`, [
      "-D",
      data,
      "-A",
      "trust",
      "-U",
      "postgres",
      "-E",
      "UTF8",
      "--locale=C",
      "--no-sync",
    ]);
    if (init.code !== 0) throw new Error(`initdb failed:\n${init.output}`);
  } catch (err) {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    throw err;
  }

  const pg: PrivatePostgres = {
    port,
    url: `postgres://postgres@127.0.0.1:${port}/${database}`,
    async start() {
      await pgCtl(["start", "-D", data, "-l", logFile, "-w", "-t", "30", "-o", serverOptions]);
    },
    async stop(mode = "fast") {
      await pgCtl(["stop", "-D", data, "-m", mode, "-w", "-t", "30"]);
    },
    async restart() {
      await pgCtl([
        "restart",
        "-D",
        data,
        "-l",
        logFile,
        "-m",
        "fast",
        "-w",
        "-t",
        "30",
        "-o",
        serverOptions,
      ]);
    },
    log() {
      return Deno.readTextFile(logFile).catch(() => "");
    },
    async close() {
      await runAsPostgres(`${bin}/pg_ctl`, ["stop", "-D", data, "-m", "immediate", "-w"]);
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };

  try {
    await pg.start();
    const created = await runAsPostgres(`${bin}/psql`, [
      "-h",
      "127.0.0.1",
      "-p",
      String(port),
      "-U",
      "postgres",
      "-d",
      "postgres",
      "-v",
      "ON_ERROR_STOP=1",
      "-c",
      `CREATE DATABASE "${database}"`,
    ]);
    if (created.code !== 0) throw new Error(`CREATE DATABASE failed:\n${created.output}`);
  } catch (err) {
    await pg.close();
    throw err;
  }
  return pg;
}

function collect(proc: Deno.ChildProcess, sink: (text: string) => void): void {
  for (const stream of [proc.stdout, proc.stderr]) {
    const decoder = new TextDecoder();
    stream.pipeTo(
      new WritableStream({ write: (chunk) => sink(decoder.decode(chunk, { stream: true })) }),
    ).catch(() => {});
  }
}
