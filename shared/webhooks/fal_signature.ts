/**
 * fal.ai webhook signatures: ED25519 over
 * `${request_id}\n${user_id}\n${timestamp}\n${hex sha256 of the raw body}`, sent as hex in
 * `X-Fal-Webhook-Signature` beside `X-Fal-Webhook-Request-Id`, `-User-Id` and `-Timestamp`
 * (Unix seconds). The public keys are fal's JWKS (FAL_JWKS_URL; OKP/Ed25519, `x` in base64url,
 * which the live set pads). Keys are cached for a day; when no cached key matches and the cache is
 * older than a few minutes, the set is fetched once more (keys rotate). Timestamps more than five
 * minutes from the clock are refused.
 */
import { DEFAULT_TOLERANCE_S, WebhookVerificationError } from "./signature.ts";

/** fal's JWKS could not be read: nothing can be verified now (the sender should retry). */
export class JwksUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "JwksUnavailableError";
  }
}

export interface FalVerifierOptions {
  /** FAL_JWKS_URL. */
  jwksUrl: string;
  fetch?: typeof fetch;
  /** How long fetched keys are used (ms, default 24 h). */
  ttlMs?: number;
  /** A set older than this is fetched again when no key matched (ms, default 5 min). */
  refreshAfterMs?: number;
  timeoutMs?: number;
  /** The clock in ms (tests). */
  now?: () => number;
  /** How far a timestamp may be from now, either way (s, default 300). */
  toleranceS?: number;
}

/** A verified delivery: the request it is about. */
export interface FalWebhookIdentity {
  requestId: string;
  userId: string;
}

export interface FalVerifier {
  /** Resolves when the delivery is authentic; throws WebhookVerificationError (or JwksUnavailableError). */
  verify(headers: Headers, rawBody: Uint8Array): Promise<FalWebhookIdentity>;
}

const MAX_JWKS_BYTES = 64 * 1024;
const HEX_SIGNATURE = /^[0-9a-fA-F]{128}$/;
const TIMESTAMP = /^\d{1,12}$/;
const encoder = new TextEncoder();

/** Creates a verifier with its own key cache. */
export function createFalVerifier(options: FalVerifierOptions): FalVerifier {
  const fetchFn = options.fetch ?? globalThis.fetch;
  const ttlMs = options.ttlMs ?? 24 * 3600_000;
  const refreshAfterMs = options.refreshAfterMs ?? 5 * 60_000;
  const now = options.now ?? Date.now;
  const tolerance = options.toleranceS ?? DEFAULT_TOLERANCE_S;
  let cache: { at: number; keys: CryptoKey[] } | null = null;
  let loading: Promise<CryptoKey[]> | null = null;

  /** The keys, from the cache while fresh; concurrent callers share one fetch. */
  function keys(force: boolean): Promise<CryptoKey[]> {
    if (!force && cache && now() - cache.at < ttlMs) return Promise.resolve(cache.keys);
    loading ??= fetchKeys().then((fetched) => {
      cache = { at: now(), keys: fetched };
      return fetched;
    }).finally(() => (loading = null));
    return loading;
  }

  async function fetchKeys(): Promise<CryptoKey[]> {
    let text: string;
    try {
      const res = await fetchFn(options.jwksUrl, {
        headers: { Accept: "application/json" },
        signal: AbortSignal.timeout(options.timeoutMs ?? 10_000),
      });
      if (!res.ok) {
        await res.body?.cancel();
        throw new Error(`status ${res.status}`);
      }
      text = await res.text();
    } catch (err) {
      throw new JwksUnavailableError(`Cannot read fal's webhook keys: ${(err as Error).message}`);
    }
    if (text.length > MAX_JWKS_BYTES) throw new JwksUnavailableError("fal's JWKS is too large");
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new JwksUnavailableError("fal's JWKS is not JSON");
    }
    const list = isRecord(parsed) && Array.isArray(parsed.keys) ? parsed.keys : [];
    const imported: CryptoKey[] = [];
    for (const jwk of list.slice(0, 20)) {
      if (!isRecord(jwk) || jwk.kty !== "OKP" || jwk.crv !== "Ed25519") continue;
      if (typeof jwk.x !== "string") continue;
      try {
        imported.push(
          await crypto.subtle.importKey(
            "jwk",
            { kty: "OKP", crv: "Ed25519", x: jwk.x.replace(/=+$/, "") },
            { name: "Ed25519" },
            false,
            ["verify"],
          ),
        );
      } catch {
        // Not a usable key: skip it.
      }
    }
    if (imported.length === 0) throw new JwksUnavailableError("fal's JWKS has no Ed25519 key");
    return imported;
  }

  return {
    async verify(headers, rawBody) {
      const requestId = headers.get("x-fal-webhook-request-id") ?? "";
      const userId = headers.get("x-fal-webhook-user-id") ?? "";
      const timestamp = (headers.get("x-fal-webhook-timestamp") ?? "").trim();
      const signature = (headers.get("x-fal-webhook-signature") ?? "").trim();
      if (!requestId || !userId || !timestamp || !signature) {
        throw new WebhookVerificationError(
          "missing_headers",
          "Missing X-Fal-Webhook-Request-Id, -User-Id, -Timestamp or -Signature header",
        );
      }
      if (!TIMESTAMP.test(timestamp)) {
        throw new WebhookVerificationError("bad_timestamp", "Invalid X-Fal-Webhook-Timestamp");
      }
      if (Math.abs(Math.floor(now() / 1000) - Number(timestamp)) > tolerance) {
        throw new WebhookVerificationError(
          "expired",
          `Webhook timestamp is more than ${tolerance} s away from the current time`,
        );
      }
      if (!HEX_SIGNATURE.test(signature)) {
        throw new WebhookVerificationError("bad_signature", "X-Fal-Webhook-Signature is not hex");
      }
      const digest = toHex(
        await crypto.subtle.digest("SHA-256", rawBody as Uint8Array<ArrayBuffer>),
      );
      const message = encoder.encode(`${requestId}\n${userId}\n${timestamp}\n${digest}`);
      const sig = fromHex(signature);
      const matches = async (list: CryptoKey[]) => {
        for (const key of list) {
          if (await crypto.subtle.verify("Ed25519", key, sig, message)) return true;
        }
        return false;
      };
      if (await matches(await keys(false))) return { requestId, userId };
      // Keys rotate: a set older than a few minutes is read again once.
      if (cache && now() - cache.at >= refreshAfterMs && await matches(await keys(true))) {
        return { requestId, userId };
      }
      throw new WebhookVerificationError("bad_signature", "No matching webhook signature");
    },
  };
}

function toHex(buffer: ArrayBuffer): string {
  return Array.from(new Uint8Array(buffer), (b) => b.toString(16).padStart(2, "0")).join("");
}

function fromHex(text: string): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(text.length / 2);
  for (let i = 0; i < bytes.length; i++) bytes[i] = parseInt(text.slice(i * 2, i * 2 + 2), 16);
  return bytes;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
