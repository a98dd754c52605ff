/**
 * The benchmark's HTTP load, always from a process of its own so its CPU is not the measured
 * services': Debian's `wrk` when installed (far less CPU per request), otherwise this file run as a
 * Deno subprocess. Either way the result has the same shape.
 *
 *   deno run --allow-net=127.0.0.1 --allow-read --allow-write tools/bench/load.ts \
 *     '{"url": "http://127.0.0.1:8000/api/v1/jobs?limit=20", "connections": 32, "durationS": 10}'
 *
 * prints one JSON line. Spec fields: `url` (may end in `{id}`, replaced round-robin by the lines
 * of `idsIn`), `method`, `body` (JSON text, sent as application/json), `connections`,
 * `durationS`, `idsIn` (a file of job ids), `idsOut` (a file for the `job_id` of every 202).
 */

/** What to send. */
export interface LoadSpec {
  url: string;
  method?: string;
  body?: string;
  connections: number;
  durationS: number;
  idsIn?: string;
  idsOut?: string;
}

/** What was measured. */
export interface LoadResult {
  tool: string;
  requests: number;
  durationS: number;
  rps: number;
  latencyMs: { p50: number; p90: number; p99: number; max: number; mean: number };
  /** Answers that were not 2xx/3xx, plus connection errors and timeouts. */
  errors: number;
  /** Answers by status (every status for the Deno generator; wrk only counts them with idsOut). */
  statuses: Record<string, number>;
}

/** `n` rounded to `digits` decimals. */
export function round(n: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

/** The q-quantile (0..1) of sorted values, nearest rank. */
export function quantile(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[rank];
}

/** True when Debian's `wrk` can be run. */
export async function hasWrk(): Promise<boolean> {
  try {
    const out = await new Deno.Command("wrk", {
      args: ["--version"],
      stdout: "null",
      stderr: "null",
    })
      .output();
    return out.code === 0 || out.code === 1; // wrk 4.1 exits 1 after printing its version
  } catch {
    return false;
  }
}

/** Runs the load in a child process (`wrk`, or this file under Deno) and returns its figures. */
export async function runLoadProcess(
  spec: LoadSpec,
  options: { useWrk: boolean; tmp: string; name: string; signal?: AbortSignal },
): Promise<LoadResult> {
  return options.useWrk ? await runWrk(spec, options) : await runDenoProcess(spec, options.signal);
}

async function runDenoProcess(spec: LoadSpec, signal?: AbortSignal): Promise<LoadResult> {
  const out = await new Deno.Command("deno", {
    args: [
      "run",
      "--allow-net=127.0.0.1",
      "--allow-read",
      "--allow-write",
      new URL(import.meta.url).pathname,
      JSON.stringify(spec),
    ],
    stdout: "piped",
    stderr: "piped",
    env: { RUST_BACKTRACE: "0" },
    signal,
  }).output();
  if (out.code !== 0) {
    throw new Error(
      `tools/bench/load.ts failed (${out.code}): ${new TextDecoder().decode(out.stderr)}`,
    );
  }
  return JSON.parse(new TextDecoder().decode(out.stdout).trim().split("\n").pop()!);
}

function luaString(s: string): string {
  return JSON.stringify(s); // a JSON string literal is a valid Lua string literal for these inputs
}

/**
 * The wrk script: a fixed request, or GET `PATH_PREFIX .. id` round-robin over `IDS_IN`; with
 * `IDS_OUT`, every 202's `job_id` goes to `IDS_OUT.<thread>` and statuses are counted. `done`
 * prints one `WRKJSON {...}` line.
 */
function wrkScript(spec: LoadSpec, pathPrefix: string, idsOutPrefix: string | undefined): string {
  const lines = [
    `wrk.method = ${luaString(spec.method ?? "GET")}`,
    spec.body === undefined ? "" : `wrk.body = ${luaString(spec.body)}`,
    spec.body === undefined ? "" : `wrk.headers["Content-Type"] = "application/json"`,
    `IDS_IN = ${spec.idsIn ? luaString(spec.idsIn) : "nil"}`,
    `IDS_OUT = ${idsOutPrefix ? luaString(idsOutPrefix) : "nil"}`,
    `PATH_PREFIX = ${luaString(pathPrefix)}`,
  ];
  return lines.join("\n") + String.raw`
threads = {}
local counter = 0
function setup(thread)
  counter = counter + 1
  thread:set("tid", counter)
  table.insert(threads, thread)
end

statuses = {}
local out, ids, n = nil, nil, 0

function init(args)
  if IDS_OUT then out = io.open(IDS_OUT .. "." .. tid, "w") end
  if IDS_IN then
    ids = {}
    for line in io.lines(IDS_IN) do
      if #line > 0 then ids[#ids + 1] = PATH_PREFIX .. line end
    end
  end
end

if IDS_IN then
  function request()
    n = n % #ids + 1
    return wrk.format(nil, ids[n])
  end
end

if IDS_OUT then
  function response(status, headers, body)
    statuses[status] = (statuses[status] or 0) + 1
    if status == 202 then
      local id = string.match(body, '"job_id":"([%w%-]+)"')
      if id then out:write(id, "\n") end
    end
  end
end

function done(summary, latency, requests)
  local merged = {}
  for _, t in ipairs(threads) do
    local s = t:get("statuses")
    if s then
      for k, v in pairs(s) do merged[tostring(k)] = (merged[tostring(k)] or 0) + v end
    end
  end
  local parts = {}
  for k, v in pairs(merged) do parts[#parts + 1] = string.format('"%s":%d', k, v) end
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests":%d,"duration_us":%d,"connect":%d,"read":%d,"write":%d,"status":%d,' ..
    '"timeout":%d,"p50":%d,"p90":%d,"p99":%d,"max":%d,"mean":%.1f,"statuses":{%s}}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    latency.mean, table.concat(parts, ",")))
end
`;
}

async function runWrk(
  spec: LoadSpec,
  options: { tmp: string; name: string; signal?: AbortSignal },
): Promise<LoadResult> {
  const { tmp, name } = options;
  const [beforeId] = spec.url.split("{id}");
  const pathPrefix = beforeId.slice(new URL(beforeId).origin.length);
  const idsOutPrefix = spec.idsOut ? `${tmp}/${name}.ids` : undefined;
  const script = `${tmp}/${name}.lua`;
  await Deno.writeTextFile(script, wrkScript(spec, pathPrefix, idsOutPrefix));
  const out = await new Deno.Command("wrk", {
    args: [
      "-t1",
      `-c${spec.connections}`,
      `-d${spec.durationS}s`,
      "--timeout",
      "10s",
      "-s",
      script,
      spec.url.replace("{id}", "x"),
    ],
    stdout: "piped",
    stderr: "piped",
    signal: options.signal,
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  const line = text.split("\n").find((l) => l.startsWith("WRKJSON "));
  if (out.code !== 0 || !line) {
    throw new Error(`wrk failed (${out.code}): ${text}${new TextDecoder().decode(out.stderr)}`);
  }
  const r = JSON.parse(line.slice("WRKJSON ".length));
  if (idsOutPrefix && spec.idsOut) {
    let ids = "";
    for await (const f of Deno.readDir(tmp)) {
      if (f.name.startsWith(`${name}.ids.`)) ids += await Deno.readTextFile(`${tmp}/${f.name}`);
    }
    await Deno.writeTextFile(spec.idsOut, ids);
  }
  const durationS = r.duration_us / 1e6;
  const ms = (us: number) => us / 1000;
  return {
    tool: "wrk",
    requests: r.requests,
    durationS,
    rps: r.requests / durationS,
    latencyMs: { p50: ms(r.p50), p90: ms(r.p90), p99: ms(r.p99), max: ms(r.max), mean: ms(r.mean) },
    errors: r.connect + r.read + r.write + r.status + r.timeout,
    statuses: r.statuses,
  };
}

/** The Deno load generator: keeps `connections` requests in flight for `durationS` seconds. */
export async function runLoad(spec: LoadSpec): Promise<LoadResult> {
  const ids = spec.idsIn
    ? (await Deno.readTextFile(spec.idsIn)).split("\n").filter((l) => l.length > 0)
    : [];
  if (spec.url.includes("{id}") && ids.length === 0) throw new Error("url has {id} but no ids");
  const method = spec.method ?? "GET";
  const headers = spec.body === undefined ? undefined : { "content-type": "application/json" };
  const latencies: number[] = [];
  const statuses: Record<string, number> = {};
  const accepted: string[] = [];
  let errors = 0;
  let next = 0;
  const started = performance.now();
  const stopAt = started + spec.durationS * 1000;

  const loop = async () => {
    while (performance.now() < stopAt) {
      const url = ids.length > 0 ? spec.url.replace("{id}", ids[next++ % ids.length]) : spec.url;
      const t0 = performance.now();
      try {
        // Like wrk: one answer per request (a 302 is not followed), read whole; only the ids
        // of accepted jobs need the body as text (an image's bytes are not decoded).
        const res = await fetch(url, { method, headers, body: spec.body, redirect: "manual" });
        const text = spec.idsOut ? await res.text() : (await res.arrayBuffer(), "");
        latencies.push(performance.now() - t0);
        statuses[res.status] = (statuses[res.status] ?? 0) + 1;
        if (res.status >= 400) errors++;
        if (res.status === 202 && spec.idsOut) {
          const id = /"job_id":"([^"]+)"/.exec(text)?.[1];
          if (id) accepted.push(id);
        }
      } catch {
        errors++;
        statuses.error = (statuses.error ?? 0) + 1;
      }
    }
  };
  await Promise.all(Array.from({ length: spec.connections }, loop));
  const durationS = (performance.now() - started) / 1000;
  if (spec.idsOut) await Deno.writeTextFile(spec.idsOut, accepted.join("\n") + "\n");
  const sorted = Float64Array.from(latencies).sort();
  const sum = latencies.reduce((a, b) => a + b, 0);
  return {
    tool: "deno-fetch",
    requests: latencies.length,
    durationS,
    rps: latencies.length / durationS,
    latencyMs: {
      p50: quantile(sorted, 0.5),
      p90: quantile(sorted, 0.9),
      p99: quantile(sorted, 0.99),
      max: sorted.length > 0 ? sorted[sorted.length - 1] : NaN,
      mean: sorted.length > 0 ? sum / sorted.length : NaN,
    },
    errors,
    statuses,
  };
}

if (import.meta.main) {
  const spec = JSON.parse(Deno.args[0] ?? "{}") as LoadSpec;
  if (!spec.url || !(spec.connections > 0) || !(spec.durationS > 0)) {
    console.error('usage: tools/bench/load.ts \'{"url": ..., "connections": n, "durationS": s}\'');
    Deno.exit(2);
  }
  console.log(JSON.stringify(await runLoad(spec)));
}
