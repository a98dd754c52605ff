/**
 * Opening a provider's output URL for download: http(s) only, through the SSRF-safe fetch the
 * registry passes in, no credentials sent, the query (which may hold a signature) left out of
 * messages, and each failure classified (expired for good, or worth another try).
 */
import { ProviderError } from "../errors.ts";
import { SafeFetchError } from "../http/safe_fetch.ts";
import { retryAfterHeaderMs, transportError } from "./transport.ts";

export interface OpenOutputOptions {
  fetch: (url: string | URL, init?: RequestInit) => Promise<Response>;
  timeoutMs: number;
  userAgent: string;
  signal?: AbortSignal;
  /** Said after `output expired` on 404/410 (how long the provider keeps files). */
  expiryHint: string;
}

/** Opens `ref` for reading; the caller streams the body to storage. */
export async function openOutputUrl(ref: string, options: OpenOutputOptions): Promise<Response> {
  const url = URL.canParse(ref) ? new URL(ref) : null;
  if (!url || (url.protocol !== "https:" && url.protocol !== "http:")) {
    throw new ProviderError("Cannot download output: not an http(s) URL", false);
  }
  const action = `Cannot download output ${url.origin}${url.pathname}`;
  const timeout = AbortSignal.timeout(options.timeoutMs);
  const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;
  let response: Response;
  try {
    response = await options.fetch(url, { signal, headers: { "User-Agent": options.userAgent } });
  } catch (error) {
    if (error instanceof SafeFetchError) {
      const retryable = error.reason === "dns" || error.reason === "timeout";
      throw new ProviderError(`${action}: ${error.message}`, retryable);
    }
    throw transportError(action, error, signal, options.signal, options.timeoutMs);
  }
  if (response.ok) return response;
  await response.body?.cancel();
  const status = response.status;
  if (status === 404 || status === 410) {
    throw new ProviderError(
      `${action}: status ${status}: output expired (${options.expiryHint})`,
      false,
      undefined,
      status,
    );
  }
  const retryable = status === 408 || status === 429 || status >= 500;
  throw new ProviderError(
    `${action}: status ${status}`,
    retryable,
    retryable ? retryAfterHeaderMs(response.headers.get("retry-after")) : undefined,
    status,
  );
}
