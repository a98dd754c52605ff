/**
 * Image inputs as the provider gets them, made by the worker when it creates the prediction:
 * an upload becomes a short-lived signed URL on PUBLIC_BASE_URL when one is set, else a `data:`
 * URI; an `https://` URL is fetched through the SSRF-safe fetch (capped, magic bytes checked)
 * and handed on as it is when the provider can reach it, else as a `data:` URI; a `data:` URI
 * stays. The `local` provider always gets `data:` URIs (it runs in this process).
 */
import type { Db } from "../db/db.ts";
import { ProviderError } from "../errors.ts";
import { createSafeFetch, type SafeFetch, SafeFetchError } from "../http/safe_fetch.ts";
import { detectImageType } from "../media/image_info.ts";
import { hasImageInputs, inputImages, parseImageRef, toDataUri } from "../models/image_refs.ts";
import type { Storage } from "../storage/storage.ts";
import { type UploadRow, uploadsByIds } from "./repo.ts";
import { createUploadSigner, type UploadSigner } from "./signing.ts";

/** What resolving image inputs needs; the worker passes its own deps (config: the whole one). */
export interface ImageInputDeps {
  db: Db;
  storage: Storage;
  config: {
    PUBLIC_BASE_URL?: string;
    UPLOAD_MAX_BYTES?: number;
    UPLOAD_URL_TTL_S?: number;
    UPLOAD_URL_SECRET?: string;
    ALLOW_PRIVATE_DOWNLOADS?: boolean;
    PROVIDER_TIMEOUT_MS?: number;
  };
  /** Fetch for https image inputs (default: the SSRF-safe fetch). */
  imageFetch?: SafeFetch;
  /** Signs upload URLs (default: one made from the config and the database). */
  signer?: UploadSigner;
}

const DEFAULT_MAX_BYTES = 20 * 1024 * 1024;

/** Per deps object: the signer and the fetch, made once. */
const made = new WeakMap<object, { signer: UploadSigner; fetch: SafeFetch }>();

function helpers(deps: ImageInputDeps): { signer: UploadSigner; fetch: SafeFetch } {
  let h = made.get(deps.config);
  if (!h) {
    h = {
      signer: deps.signer ??
        createUploadSigner({ db: deps.db, secret: deps.config.UPLOAD_URL_SECRET }),
      fetch: deps.imageFetch ?? createSafeFetch({
        allowPrivate: deps.config.ALLOW_PRIVATE_DOWNLOADS ?? false,
        timeoutMs: deps.config.PROVIDER_TIMEOUT_MS ?? 30_000,
      }),
    };
    made.set(deps.config, h);
  }
  return {
    signer: deps.signer ?? h.signer,
    fetch: deps.imageFetch ?? h.fetch,
  };
}

/**
 * The job's parameters with every image input in a form `provider` can read. Parameters without
 * image inputs come back as they are (no I/O). Throws a ProviderError naming the input when an
 * image cannot be had (retryable for network failures).
 */
export async function providerParameters(
  deps: ImageInputDeps,
  job: { parameters: Record<string, unknown>; provider: string },
  signal?: AbortSignal,
): Promise<Record<string, unknown>> {
  if (!hasImageInputs(job.parameters)) return job.parameters;
  const images = inputImages(job.parameters);
  if (images.length === 0) return job.parameters;
  const uploadIds = images.flatMap((i) => (i.upload_id ? [i.upload_id] : []));
  const uploads = new Map(
    (await uploadsByIds(deps.db, uploadIds)).map((u): [string, UploadRow] => [u.id, u]),
  );
  const local = job.provider === "local";
  const publicBase = local ? undefined : deps.config.PUBLIC_BASE_URL;
  const maxBytes = deps.config.UPLOAD_MAX_BYTES ?? DEFAULT_MAX_BYTES;
  const { signer, fetch } = helpers(deps);

  const resolve = async (field: string, value: string): Promise<string> => {
    const ref = parseImageRef(value);
    if (!ref || ref.kind === "data") return value;
    if (ref.kind === "upload") {
      const upload = uploads.get(ref.uploadId);
      if (!upload) {
        throw new ProviderError(
          `Cannot read input image parameters.${field}: upload ${ref.uploadId} is gone`,
          false,
        );
      }
      if (publicBase) {
        const ttl = deps.config.UPLOAD_URL_TTL_S ?? 3600;
        return `${publicBase}${await signer.signedPath(upload.id, ttl)}`;
      }
      const bytes = await readCapped(await deps.storage.read(upload.file), maxBytes, field);
      return toDataUri(upload.content_type, bytes);
    }
    const fetched = await fetchImage(fetch, ref.url, maxBytes, field, signal);
    return publicBase ? ref.url : toDataUri(fetched.contentType, fetched.bytes);
  };

  const out: Record<string, unknown> = { ...job.parameters };
  for (const image of images) {
    const [name, index] = image.field.split(".");
    const value = out[name];
    if (Array.isArray(value)) {
      const list = out[name] = [...value];
      list[Number(index)] = await resolve(image.field, String(list[Number(index)]));
    } else if (typeof value === "string") {
      out[name] = await resolve(image.field, value);
    }
  }
  return out;
}

/** Downloads an https image input: capped, and its magic bytes must say it is an image. */
async function fetchImage(
  fetch: SafeFetch,
  url: string,
  maxBytes: number,
  field: string,
  signal?: AbortSignal,
): Promise<{ contentType: string; bytes: Uint8Array }> {
  const action = `Cannot read input image parameters.${field} from ${new URL(url).origin}`;
  let response: Response;
  try {
    response = await fetch(url, { signal });
  } catch (err) {
    if (err instanceof SafeFetchError) {
      throw new ProviderError(
        `${action}: ${err.message}`,
        err.reason === "dns" || err.reason === "timeout",
      );
    }
    throw new ProviderError(`${action}: ${(err as Error).message}`, true);
  }
  if (!response.ok) {
    await response.body?.cancel();
    const retryable = response.status === 429 || response.status >= 500;
    throw new ProviderError(`${action}: status ${response.status}`, retryable);
  }
  const declared = Number(response.headers.get("content-length") ?? NaN);
  if (declared > maxBytes) {
    await response.body?.cancel();
    throw new ProviderError(`${action}: over UPLOAD_MAX_BYTES (${maxBytes} bytes)`, false);
  }
  const bytes = await readCapped(response.body, maxBytes, field);
  const type = detectImageType(bytes.subarray(0, 16));
  if (!type) throw new ProviderError(`${action}: not a PNG, JPEG, WebP or GIF image`, false);
  return { contentType: type.contentType, bytes };
}

/** Reads a whole stream, refusing it past `maxBytes`. */
async function readCapped(
  body: ReadableStream<Uint8Array> | null,
  maxBytes: number,
  field: string,
): Promise<Uint8Array> {
  if (!body) return new Uint8Array(0);
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += chunk.byteLength;
    if (size > maxBytes) {
      throw new ProviderError(
        `Cannot read input image parameters.${field}: over UPLOAD_MAX_BYTES (${maxBytes} bytes)`,
        false,
      );
    }
    chunks.push(chunk);
  }
  const bytes = new Uint8Array(size);
  let at = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, at);
    at += chunk.byteLength;
  }
  return bytes;
}
