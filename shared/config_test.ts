import assert from "node:assert/strict";
import { ConfigError, parseConfig, parseDotenv } from "./config.ts";

Deno.test("config: defaults match the old stack's", () => {
  const c = parseConfig({});
  assert.equal(c.PORT, 8000);
  assert.equal(c.API_V1_PREFIX, "/api/v1");
  assert.equal(c.STORAGE_PATH, "./storage");
  assert.equal(c.WORKER_CONCURRENCY, 64);
  assert.equal(c.MAX_RETRIES, 3);
  assert.equal(c.RETRY_BACKOFF_BASE, 2);
  assert.equal(c.REPLICATE_BASE_URL, "https://api.replicate.com/v1");
  assert.equal(c.DATABASE_URL, undefined);
  assert.equal(c.REPLICATE_API_TOKEN, undefined);
});

Deno.test("config: the old stack's asyncpg URL is accepted as postgresql://", () => {
  const c = parseConfig({ DATABASE_URL: "postgresql+asyncpg://u:p@db:5432/app" });
  assert.equal(c.DATABASE_URL, "postgresql://u:p@db:5432/app");
});

Deno.test("config: every invalid variable is reported together", () => {
  let error: unknown;
  try {
    parseConfig({
      PORT: "eighty",
      DATABASE_URL: "mysql://x",
      WORKER_CONCURRENCY: "0",
      LOG_LEVEL: "loud",
      REPLICATE_BASE_URL: "not a url",
    });
  } catch (err) {
    error = err;
  }
  assert.ok(error instanceof ConfigError);
  const names = error.problems.map((p) => p.split(":")[0]).sort();
  assert.deepEqual(names, [
    "DATABASE_URL",
    "LOG_LEVEL",
    "PORT",
    "REPLICATE_BASE_URL",
    "WORKER_CONCURRENCY",
  ]);
  assert.match(error.message, /Invalid configuration/);
});

Deno.test("config: blank values count as unset; base URL loses its trailing slash", () => {
  const c = parseConfig({
    PORT: " ",
    REPLICATE_BASE_URL: "http://127.0.0.1:9/v1/",
    LOG_LEVEL: "DEBUG",
  });
  assert.equal(c.PORT, 8000);
  assert.equal(c.REPLICATE_BASE_URL, "http://127.0.0.1:9/v1");
  assert.equal(c.LOG_LEVEL, "debug");
});

Deno.test("config: .env parsing handles comments, quotes and export", () => {
  const env = parseDotenv([
    "# comment",
    "export A=1",
    'B="two words"',
    "C='single'",
    "D=plain # trailing comment",
    "not a line",
    "E=",
  ].join("\n"));
  assert.deepEqual(env, { A: "1", B: "two words", C: "single", D: "plain", E: "" });
});

Deno.test("config: per-key limits on submits, reads and streams, 0 meaning unlimited", () => {
  const c = parseConfig({});
  assert.equal(c.RATE_LIMIT_PER_MINUTE, 120);
  assert.equal(c.READS_PER_MINUTE, 1200);
  assert.equal(c.MAX_STREAMS_PER_KEY, 5);
  assert.equal(c.MAX_ACTIVE_JOBS_PER_KEY, 200);
  const open = parseConfig({ READS_PER_MINUTE: "0", MAX_STREAMS_PER_KEY: "0" });
  assert.equal(open.READS_PER_MINUTE, 0);
  assert.equal(open.MAX_STREAMS_PER_KEY, 0);
  for (const bad of [{ READS_PER_MINUTE: "-1" }, { MAX_STREAMS_PER_KEY: "two" }]) {
    assert.throws(() => parseConfig(bad), ConfigError);
  }
});
