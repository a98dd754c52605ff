/** Picks the image storage from configuration: a bucket when STORAGE_URL is set, else local disk. */
import { join } from "node:path";
import type { Config } from "../config.ts";
import type { Logger } from "../logger.ts";
import { createLocalStorage } from "./local.ts";
import type { Storage } from "./storage.ts";
import { createS3Storage } from "./s3.ts";
import { formatS3Url, parseS3Url } from "./s3_url.ts";

/** The variables `openStorage` reads. */
export type StorageConfig = Pick<
  Config,
  | "STORAGE_PATH"
  | "STORAGE_URL"
  | "AWS_ACCESS_KEY_ID"
  | "AWS_SECRET_ACCESS_KEY"
  | "AWS_REGION"
  | "AWS_ENDPOINT_URL_S3"
  | "AWS_ENDPOINT_URL"
  | "S3_FORCE_PATH_STYLE"
>;

/**
 * The configured storage. With STORAGE_URL, images live in the bucket and STORAGE_PATH only
 * holds downloads on their way there (`<STORAGE_PATH>/tmp`).
 */
export function openStorage(config: StorageConfig, options: { logger?: Logger } = {}): Storage {
  if (!config.STORAGE_URL) return createLocalStorage(config.STORAGE_PATH);
  if (!config.AWS_ACCESS_KEY_ID || !config.AWS_SECRET_ACCESS_KEY) {
    throw new Error("STORAGE_URL needs AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY");
  }
  return createS3Storage({
    location: parseS3Url(config.STORAGE_URL),
    region: config.AWS_REGION,
    endpoint: config.AWS_ENDPOINT_URL_S3 ?? config.AWS_ENDPOINT_URL,
    forcePathStyle: config.S3_FORCE_PATH_STYLE,
    accessKeyId: config.AWS_ACCESS_KEY_ID,
    secretAccessKey: config.AWS_SECRET_ACCESS_KEY,
    tmpDir: join(config.STORAGE_PATH, "tmp"),
    logger: options.logger,
  });
}

/** Where images are kept, for startup logs: `s3://bucket/prefix` or the local folder. */
export function describeStorage(config: Pick<Config, "STORAGE_PATH" | "STORAGE_URL">): string {
  if (!config.STORAGE_URL) return join(config.STORAGE_PATH, "generated");
  return formatS3Url(parseS3Url(config.STORAGE_URL));
}
