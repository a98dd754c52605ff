/**
 * Image storage in an S3-compatible bucket (AWS S3, Cloudflare R2, Backblaze B2, Wasabi, MinIO,
 * Ceph RGW), signed with `aws4fetch`. A download is streamed to a local temp file (capped, type
 * checked by magic bytes, hashed on the way), then sent with its length, MD5 and SHA-256: the
 * store checks both, and the answer's ETag must be the MD5 of what was sent before a save
 * resolves. Uploads go through `node:http(s)`: Deno's fetch sends a streamed body chunked and
 * drops its Content-Length, which S3 refuses. Errors never quote a URL's signature or a key.
 */
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import type { IncomingHttpHeaders } from "node:http";
import { createReadStream } from "node:fs";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { AwsClient } from "aws4fetch";
import { DownloadError, NotFoundError, toError, UnavailableError } from "../errors.ts";
import type { Logger } from "../logger.ts";
import { detectImageType } from "../media/image_info.ts";
import type { ObjectInfo, Storage } from "./storage.ts";
import { checkSaveRequest, receiveImage, storedImage, writeAll } from "./receive.ts";
import { isSafeFileName } from "./storage.ts";
import { formatS3Url, type S3Location } from "./s3_url.ts";

/** Where the bucket is and how to reach it. */
export interface S3StorageOptions {
  location: S3Location;
  /** Signing region (`auto` for R2). */
  region: string;
  /** The service's endpoint (e.g. `http://minio:9000`); AWS's regional endpoint when absent. */
  endpoint?: string;
  /** `https://endpoint/bucket/key` instead of `https://bucket.endpoint/key`. */
  forcePathStyle?: boolean;
  accessKeyId: string;
  secretAccessKey: string;
  /** Local folder for downloads on their way to the bucket. */
  tmpDir: string;
  /** Longest wait for an answer (HEAD, DELETE, a GET's headers) or for upload progress (ms). */
  timeoutMs?: number;
  /** Tries of one upload or delete when the store is unreachable, busy or answers wrongly. */
  attempts?: number;
  /** Wait before the second try (ms); doubled for each further one. */
  retryDelayMs?: number;
  logger?: Logger;
}

/** The bucket storage, plus what `deno task storage copy` needs. */
export interface S3Storage extends Storage {
  /**
   * Uploads an image file already on local disk as `file` (read twice: hashed, then sent; the
   * file is never changed). Throws DownloadError when it is no image or cannot be stored.
   */
  uploadFile(file: string, path: string): Promise<{ bytes: number; contentType: string }>;
}

/** Answer of an upload: status, ETag and the start of the body (for the S3 error code). */
interface PutAnswer {
  status: number;
  etag: string | null;
  text: string;
}

/** An upload body: bytes in memory, or a file of known size. */
type PutSource = { bytes: Uint8Array } | { path: string; size: number };

/** The key of the probe object written by `checkWritable` (never a valid image name). */
const PROBE_NAME = ".darkroom-write-check";
/** Longest presigned URL lifetime SigV4 allows (7 days). */
const MAX_PRESIGN_S = 604_800;

/** Storage in a bucket; every object's key is `<prefix>/<file>`. */
export function createS3Storage(options: S3StorageOptions): S3Storage {
  const { location, tmpDir } = options;
  const timeoutMs = options.timeoutMs ?? 10_000;
  const attempts = Math.max(1, options.attempts ?? 3);
  const retryDelayMs = options.retryDelayMs ?? 250;
  const client = new AwsClient({
    accessKeyId: options.accessKeyId,
    secretAccessKey: options.secretAccessKey,
    service: "s3",
    region: options.region,
    retries: 0,
  });
  const base = bucketBaseUrl(options);
  const where = formatS3Url(location);
  const secrets = [options.accessKeyId, options.secretAccessKey].filter((s) => s.length >= 4);
  const scrub = (text: string) => scrubSecrets(text, secrets);

  let tmpReady: Promise<void> | undefined;
  const ensureTmp = () => {
    tmpReady ??= Deno.mkdir(tmpDir, { recursive: true }).catch((err) => {
      tmpReady = undefined;
      throw err;
    });
    return tmpReady;
  };

  const keyOf = (file: string) => (location.prefix ? `${location.prefix}/${file}` : file);
  const urlOf = (key: string) => `${base}/${key.split("/").map(encodeURIComponent).join("/")}`;

  /** A signed fetch bounded by the timeout (up to the answer's headers); never throws a URL. */
  async function send(
    method: string,
    key: string,
    init: { headers?: Record<string, string>; signal?: AbortSignal } = {},
  ): Promise<Response> {
    const signed = await client.sign(urlOf(key), { method, headers: init.headers });
    const timer = new AbortController();
    const timeout = setTimeout(
      () => timer.abort(new DOMException(`no answer within ${timeoutMs} ms`, "TimeoutError")),
      timeoutMs,
    );
    const signal = init.signal ? AbortSignal.any([timer.signal, init.signal]) : timer.signal;
    try {
      return await fetch(signed, { signal });
    } catch (error) {
      throw new Error(failure(error, signal));
    } finally {
      clearTimeout(timeout);
    }
  }

  /** Why a request failed, in words safe to log. */
  function failure(error: unknown, signal?: AbortSignal): string {
    if (signal?.aborted) return scrub(toError(signal.reason).message);
    const err = toError(error);
    // Deno's fetch says "fetch failed" and puts the reason (with the URL) in `cause`.
    const cause = err.cause instanceof Error ? `: ${err.cause.message}` : "";
    return `cannot reach ${where}: ${scrub(`${err.message}${cause}`)}`;
  }

  /** One upload: sends the body with its length, MD5 and SHA-256, and checks the ETag. */
  async function putOnce(
    key: string,
    source: PutSource,
    meta: { contentType: string; md5: Uint8Array; sha256: string; signal?: AbortSignal },
  ): Promise<void> {
    const size = "bytes" in source ? source.bytes.byteLength : source.size;
    const signed = await client.sign(urlOf(key), {
      method: "PUT",
      headers: {
        "Content-Type": meta.contentType,
        "Content-MD5": base64(meta.md5),
        "X-Amz-Content-Sha256": meta.sha256,
      },
    });
    const headers: Record<string, string> = Object.fromEntries(signed.headers);
    headers["content-length"] = String(size);
    let answer: PutAnswer;
    try {
      answer = await sendBody(signed.url, headers, source, timeoutMs, meta.signal);
    } catch (error) {
      throw new RetryableStoreError(failure(error, meta.signal));
    }
    if (answer.status !== 200) {
      const reason = `status ${answer.status}${errorCode(answer.text)}`;
      if (isTransient(answer.status, answer.text)) throw new RetryableStoreError(reason);
      throw new Error(reason);
    }
    const md5 = hex(meta.md5);
    const etag = answer.etag?.replace(/^W\//, "").replace(/"/g, "").toLowerCase() ?? null;
    if (etag !== md5) {
      throw new RetryableStoreError(
        `the store answered ETag ${etag ?? "(none)"} for what has MD5 ${md5}`,
      );
    }
  }

  /** Uploads with a few tries for passing trouble; throws DownloadError (retryable). */
  async function putObject(
    file: string,
    key: string,
    source: PutSource,
    meta: { contentType: string; md5: Uint8Array; sha256: string; signal?: AbortSignal },
  ): Promise<void> {
    for (let attempt = 1;; attempt++) {
      try {
        await putOnce(key, source, meta);
        return;
      } catch (error) {
        const message = toError(error).message;
        const again = error instanceof RetryableStoreError && attempt < attempts &&
          !meta.signal?.aborted;
        if (!again) {
          // Never a failed job for the store's trouble: the attempt is retried later.
          throw new DownloadError(`Cannot store ${file} in ${where}: ${message}`, true);
        }
        options.logger?.warn("bucket upload failed; trying again", { file, attempt, message });
        await delay(retryDelayMs * 2 ** (attempt - 1));
      }
    }
  }

  return {
    backend: "s3",

    async save(body, saveOptions) {
      await checkSaveRequest(body, saveOptions);
      await ensureTmp();
      const tmpPath = join(tmpDir, `${crypto.randomUUID()}.part`);
      let file: Deno.FsFile | null = null;
      try {
        file = await Deno.open(tmpPath, { write: true, createNew: true });
        const out = file;
        const md5 = createHash("md5");
        const sha256 = createHash("sha256");
        const image = await receiveImage(body, saveOptions, async (chunk) => {
          md5.update(chunk);
          sha256.update(chunk);
          await writeAll(out, chunk);
        });
        file.close();
        file = null;
        const stored = storedImage(saveOptions.name, image);
        await putObject(stored.file, keyOf(stored.file), { path: tmpPath, size: image.bytes }, {
          contentType: stored.content_type,
          md5: md5.digest(),
          sha256: sha256.digest("hex"),
          signal: saveOptions.signal,
        });
        return stored;
      } catch (error) {
        try {
          file?.close();
        } catch { /* already closed */ }
        await body.cancel().catch(() => {});
        throw error;
      } finally {
        await Deno.remove(tmpPath).catch(() => {});
      }
    },

    async put(file, bytes, contentType) {
      if (!isSafeFileName(file)) {
        throw new DownloadError(`Cannot store ${JSON.stringify(file)}: invalid name`, false);
      }
      await putObject(file, keyOf(file), { bytes }, {
        contentType,
        md5: createHash("md5").update(bytes).digest(),
        sha256: createHash("sha256").update(bytes).digest("hex"),
      });
    },

    async uploadFile(file, path) {
      if (!isSafeFileName(file)) {
        throw new DownloadError(`Cannot store ${JSON.stringify(file)}: invalid name`, false);
      }
      const md5 = createHash("md5");
      const sha256 = createHash("sha256");
      let head = new Uint8Array(0);
      let size = 0;
      const handle = await Deno.open(path, { read: true });
      for await (const chunk of handle.readable) {
        if (head.length < 16) head = Uint8Array.from([...head, ...chunk.subarray(0, 16)]);
        md5.update(chunk);
        sha256.update(chunk);
        size += chunk.byteLength;
      }
      const type = detectImageType(head);
      if (!type) throw new DownloadError(`${file} is not an image`, false);
      await putObject(file, keyOf(file), { path, size }, {
        contentType: type.contentType,
        md5: md5.digest(),
        sha256: sha256.digest("hex"),
      });
      return { bytes: size, contentType: type.contentType };
    },

    async stat(file) {
      if (!isSafeFileName(file)) return null;
      let res: Response;
      try {
        res = await send("HEAD", keyOf(file));
      } catch (error) {
        throw new UnavailableError(`Image storage is unavailable: ${toError(error).message}`);
      }
      await res.body?.cancel();
      if (res.status === 404) return null;
      if (res.status !== 200) {
        throw new UnavailableError(`Image storage is unavailable: status ${res.status}`);
      }
      const lastModified = Date.parse(res.headers.get("last-modified") ?? "");
      const info: ObjectInfo = {
        size: Number(res.headers.get("content-length") ?? 0),
        mtime: new Date(Number.isNaN(lastModified) ? 0 : lastModified),
      };
      const etag = res.headers.get("etag");
      if (etag) info.etag = etag.startsWith('"') || etag.startsWith("W/") ? etag : `"${etag}"`;
      return info;
    },

    async read(file, range) {
      if (!isSafeFileName(file)) throw new NotFoundError("Image not found");
      if (range && !(range.start >= 0 && range.end >= range.start)) {
        throw new RangeError(`Invalid byte range ${range.start}-${range.end}`);
      }
      const headers: Record<string, string> = {};
      if (range) headers["Range"] = `bytes=${range.start}-${range.end}`;
      let res: Response;
      try {
        res = await send("GET", keyOf(file), { headers });
      } catch (error) {
        throw new UnavailableError(`Image storage is unavailable: ${toError(error).message}`);
      }
      const expected = range ? 206 : 200;
      if (res.status === expected && res.body) return res.body;
      const text = await res.text().catch(() => "");
      if (res.status === 404) throw new NotFoundError("Image not found");
      throw new UnavailableError(
        `Image storage is unavailable: status ${res.status}${errorCode(text)}`,
      );
    },

    async remove(file) {
      if (!isSafeFileName(file)) return;
      for (let attempt = 1;; attempt++) {
        let reason: string;
        let transient = true;
        try {
          const res = await send("DELETE", keyOf(file));
          const text = await res.text().catch(() => "");
          // A missing object is fine (S3 answers 204 anyway; some stores 404).
          if (res.ok || res.status === 404) return;
          reason = `status ${res.status}${errorCode(text)}`;
          transient = isTransient(res.status, text);
        } catch (error) {
          reason = toError(error).message;
        }
        if (!transient || attempt >= attempts) {
          throw new UnavailableError(`Cannot delete ${file} from ${where}: ${reason}`);
        }
        await delay(retryDelayMs * 2 ** (attempt - 1));
      }
    },

    async checkWritable() {
      const key = keyOf(PROBE_NAME);
      const bytes = new Uint8Array([1]);
      try {
        await putOnce(key, { bytes }, {
          contentType: "application/octet-stream",
          md5: createHash("md5").update(bytes).digest(),
          sha256: createHash("sha256").update(bytes).digest("hex"),
        });
        const res = await send("DELETE", key);
        await res.body?.cancel();
        if (!res.ok && res.status !== 404) throw new Error(`delete: status ${res.status}`);
      } catch (error) {
        throw new Error(`Cannot write to bucket ${where}: ${toError(error).message}`);
      }
    },

    async presignedUrl(file, expiresS) {
      if (!isSafeFileName(file)) return null;
      const url = new URL(urlOf(keyOf(file)));
      const seconds = Math.min(MAX_PRESIGN_S, Math.max(1, Math.round(expiresS)));
      url.searchParams.set("X-Amz-Expires", String(seconds));
      const signed = await client.sign(url.toString(), {
        method: "GET",
        aws: { signQuery: true },
      });
      return signed.url;
    },

    objectKey: keyOf,
  };
}

/** `https://bucket.endpoint` or, path-style, `https://endpoint/bucket` (no trailing slash). */
export function bucketBaseUrl(
  options: Pick<S3StorageOptions, "location" | "region" | "endpoint" | "forcePathStyle">,
): string {
  const endpoint = new URL(options.endpoint ?? `https://s3.${options.region}.amazonaws.com`);
  const path = endpoint.pathname.replace(/\/+$/, "");
  if (options.forcePathStyle) return `${endpoint.origin}${path}/${options.location.bucket}`;
  return `${endpoint.protocol}//${options.location.bucket}.${endpoint.host}${path}`;
}

/** Removes presigned-URL parameters, signatures and the given secrets from a message. */
export function scrubSecrets(text: string, secrets: string[] = []): string {
  let out = text
    .replace(/(https?:\/\/[^\s?)"'<>]*)\?[^\s)"'<>]*/g, "$1?…")
    .replace(/X-Amz-[A-Za-z-]+=[^&\s"'<>)]*/gi, "X-Amz-…")
    .replace(/\b(Credential|Signature)=[^,\s&"']+/g, "$1=[redacted]");
  for (const secret of secrets) out = out.split(secret).join("[redacted]");
  return out;
}

/** An upload failure that a second try may fix (unreachable, busy, corrupted on the way). */
class RetryableStoreError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "RetryableStoreError";
  }
}

/** 5xx, 429, 408, and the 400s that mean the body was damaged or too slow on its way. */
function isTransient(status: number, text: string): boolean {
  if (status >= 500 || status === 429 || status === 408) return true;
  return status === 400 &&
    /<Code>(BadDigest|IncompleteBody|RequestTimeout|XAmzContentSHA256Mismatch)</
      .test(text);
}

/** ` NoSuchBucket` from an S3 error document, or "". */
function errorCode(text: string): string {
  const code = /<Code>([A-Za-z0-9.]{1,64})<\/Code>/.exec(text)?.[1];
  return code ? ` ${code}` : "";
}

/**
 * Sends a PUT with a known length through node:http(s) (a body from memory or a file) and
 * collects the answer. The timeout bounds each wait for progress; `signal` aborts.
 */
function sendBody(
  url: string,
  headers: Record<string, string>,
  source: PutSource,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<PutAnswer> {
  const target = new URL(url);
  const request = target.protocol === "https:" ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    let settled = false;
    const finish = (error: Error | null, answer?: PutAnswer) => {
      if (settled) return;
      settled = true;
      signal?.removeEventListener("abort", onAbort);
      if (error) reject(error);
      else resolve(answer!);
    };
    const req = request(target, { method: "PUT", headers }, (res) => {
      const chunks: Uint8Array[] = [];
      let size = 0;
      res.on("data", (chunk: Uint8Array) => {
        if (size < 16_384) chunks.push(chunk);
        size += chunk.byteLength;
      });
      res.on("end", () =>
        finish(null, {
          status: res.statusCode ?? 0,
          etag: firstHeader(res.headers, "etag"),
          text: new TextDecoder().decode(concat(chunks)),
        }));
      res.on("error", (err: Error) => finish(err));
    });
    const onAbort = () => req.destroy(toError(signal?.reason ?? new Error("aborted")));
    if (signal?.aborted) onAbort();
    signal?.addEventListener("abort", onAbort, { once: true });
    req.setTimeout(timeoutMs, () => {
      req.destroy(new DOMException(`no progress within ${timeoutMs} ms`, "TimeoutError"));
    });
    req.on("error", (err: Error) => finish(err));
    if ("bytes" in source) {
      req.end(source.bytes);
    } else {
      const stream = createReadStream(source.path);
      stream.on("error", (err: Error) => req.destroy(err));
      stream.pipe(req);
    }
  });
}

function firstHeader(headers: IncomingHttpHeaders, name: string): string | null {
  const value = headers[name];
  return (Array.isArray(value) ? value[0] : value) ?? null;
}

function concat(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.byteLength, 0));
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.byteLength;
  }
  return out;
}

function hex(bytes: Uint8Array): string {
  return [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
}

function base64(bytes: Uint8Array): string {
  return btoa(String.fromCharCode(...bytes));
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
