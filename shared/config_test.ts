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

Deno.test("config: images stay on local disk and are proxied by default", () => {
  const c = parseConfig({});
  assert.equal(c.STORAGE_URL, undefined);
  assert.equal(c.IMAGE_DELIVERY, "proxy");
  assert.equal(c.IMAGE_URL_TTL_S, 900);
  assert.equal(c.AWS_REGION, "us-east-1");
  assert.equal(c.S3_FORCE_PATH_STYLE, false);
});

Deno.test("config: a bucket with its credentials, endpoint and redirect delivery", () => {
  const c = parseConfig({
    STORAGE_URL: "s3://my-images/prod",
    AWS_ACCESS_KEY_ID: "id",
    AWS_SECRET_ACCESS_KEY: "secret",
    AWS_REGION: "auto",
    AWS_ENDPOINT_URL: "https://acc.r2.cloudflarestorage.com/",
    IMAGE_DELIVERY: "Redirect",
    PUBLIC_IMAGE_BASE_URL: "https://cdn.example.com/",
    IMAGE_URL_TTL_S: "300",
  });
  assert.equal(c.STORAGE_URL, "s3://my-images/prod");
  assert.equal(c.AWS_ENDPOINT_URL, "https://acc.r2.cloudflarestorage.com");
  assert.equal(c.AWS_ENDPOINT_URL_S3, undefined);
  assert.equal(c.IMAGE_DELIVERY, "redirect");
  assert.equal(c.PUBLIC_IMAGE_BASE_URL, "https://cdn.example.com");
  assert.equal(c.IMAGE_URL_TTL_S, 300);
  const minio = parseConfig({
    STORAGE_URL: "s3://images",
    AWS_ACCESS_KEY_ID: "id",
    AWS_SECRET_ACCESS_KEY: "secret",
    AWS_ENDPOINT_URL_S3: "http://127.0.0.1:9000",
    S3_FORCE_PATH_STYLE: "true",
  });
  assert.equal(minio.S3_FORCE_PATH_STYLE, true);
});

Deno.test("config: every invalid storage combination is reported, with no secret", () => {
  const problems = (env: Record<string, string>) => {
    try {
      parseConfig(env);
    } catch (err) {
      assert.ok(err instanceof ConfigError);
      return err.problems;
    }
    return [];
  };
  assert.deepEqual(problems({ STORAGE_URL: "s3://images", AWS_SECRET_ACCESS_KEY: "s" }), [
    "AWS_ACCESS_KEY_ID: is required when STORAGE_URL is set",
  ]);
  const all = problems({
    STORAGE_URL: "s3://Bad_Bucket/x",
    PORT: "eighty",
    IMAGE_DELIVERY: "cdn",
    AWS_ENDPOINT_URL_S3: "ftp://minio",
    IMAGE_URL_TTL_S: "0",
  });
  assert.deepEqual(all.map((p) => p.split(":")[0]).sort(), [
    "AWS_ACCESS_KEY_ID",
    "AWS_ENDPOINT_URL_S3",
    "AWS_SECRET_ACCESS_KEY",
    "IMAGE_DELIVERY",
    "IMAGE_URL_TTL_S",
    "PORT",
    "STORAGE_URL",
  ]);
  assert.deepEqual(problems({ IMAGE_DELIVERY: "redirect" }), [
    "IMAGE_DELIVERY: redirect needs STORAGE_URL (local disk is served by the API)",
  ]);
  assert.deepEqual(problems({ PUBLIC_IMAGE_BASE_URL: "https://cdn.example.com" }), [
    "PUBLIC_IMAGE_BASE_URL: is used only with IMAGE_DELIVERY=redirect",
  ]);
  const local = problems({
    STORAGE_URL: "s3://images",
    AWS_ACCESS_KEY_ID: "id",
    AWS_SECRET_ACCESS_KEY: "secret",
    AWS_ENDPOINT_URL_S3: "http://localhost:9000",
  });
  assert.equal(local.length, 1);
  assert.match(local[0], /^S3_FORCE_PATH_STYLE: must be true/);
  const leaked = problems({
    STORAGE_URL: "s3://id:hunter2hunter2@images",
    AWS_ENDPOINT_URL_S3: "https://id:hunter2hunter2@minio.example.com",
  });
  assert.ok(leaked.length >= 2);
  assert.ok(leaked.every((p) => !p.includes("hunter2")), leaked.join("\n"));
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
