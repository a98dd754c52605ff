/**
 * `deno task dev`: applies migrations, then runs `deno task api` and `deno task worker` side by
 * side with labelled output. Without DATABASE_URL / REDIS_URL it uses the local Postgres and Redis.
 */
import { loadEnv } from "../shared/config.ts";

const DEV_DEFAULTS: Record<string, string> = {
  DATABASE_URL: "postgres://postgres@127.0.0.1:5432/postgres",
  REDIS_URL: "redis://127.0.0.1:6379",
};

const ROLES = ["api", "worker"] as const;

function pipe(stream: ReadableStream<Uint8Array>, label: string, out: (s: string) => void) {
  let buffer = "";
  const decoder = new TextDecoder();
  return stream.pipeTo(
    new WritableStream({
      write(chunk) {
        buffer += decoder.decode(chunk, { stream: true });
        const lines = buffer.split("\n");
        buffer = lines.pop() ?? "";
        for (const line of lines) out(`[${label}] ${line}`);
      },
      close() {
        if (buffer) out(`[${label}] ${buffer}`);
      },
    }),
  );
}

if (import.meta.main) {
  const fileEnv = await loadEnv();
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(DEV_DEFAULTS)) {
    if (!fileEnv[key]) {
      env[key] = value;
      console.log(`[dev] ${key} is not set; using ${value}`);
    }
  }
  const migrate = await new Deno.Command("deno", { args: ["task", "--quiet", "migrate"], env })
    .spawn().status;
  if (!migrate.success) Deno.exit(migrate.code);
  const children = ROLES.map((role) => {
    const child = new Deno.Command("deno", {
      args: ["task", "--quiet", role],
      env,
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    pipe(child.stdout, role.padEnd(6), console.log);
    pipe(child.stderr, role.padEnd(6), console.error);
    return { role, child };
  });
  const stop = () => {
    for (const { child } of children) {
      try {
        child.kill("SIGTERM");
      } catch { /* already gone */ }
    }
  };
  Deno.addSignalListener("SIGINT", stop);
  Deno.addSignalListener("SIGTERM", stop);
  // When one side exits, stop the other: a half-running dev setup only confuses.
  const first = await Promise.race(children.map(async ({ role, child }) => ({
    role,
    status: await child.status,
  })));
  console.error(`[dev] ${first.role} exited with code ${first.status.code}; stopping the rest`);
  stop();
  await Promise.all(children.map(({ child }) => child.status));
  Deno.exit(first.status.code);
}
