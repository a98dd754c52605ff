/**
 * Standard Webhooks signatures (the scheme Replicate signs its webhooks with): HMAC-SHA256 over
 * `${id}.${timestamp}.${body}`, keyed with the base64-decoded part of a `whsec_...` secret, sent
 * as `webhook-signature: v1,<base64>` (several space-separated signatures are allowed).
 */

/** Why a webhook was refused. */
export type WebhookVerificationReason =
  | "missing_headers"
  | "bad_timestamp"
  | "expired"
  | "bad_signature";

/** A webhook failed verification; `reason` says which check refused it. */
export class WebhookVerificationError extends Error {
  constructor(readonly reason: WebhookVerificationReason, message: string) {
    super(message);
    this.name = "WebhookVerificationError";
  }
}

/** The three signature headers, by value (absent values are refused as missing). */
export interface WebhookHeaderValues {
  id?: string | null;
  timestamp?: string | number | null;
  signature?: string | null;
}

/** Headers a sender attaches to a signed webhook. */
export interface SignedWebhookHeaders {
  "webhook-id": string;
  "webhook-timestamp": string;
  "webhook-signature": string;
}

export interface VerifyOptions {
  /** The current time in Unix seconds (defaults to the clock). */
  now?: number;
  /** How far the timestamp may be from `now`, either way, in seconds (default 300). */
  toleranceS?: number;
}

/** The default tolerance between the webhook timestamp and the clock, in seconds. */
export const DEFAULT_TOLERANCE_S = 300;

const SECRET_PREFIX = "whsec_";
const TIMESTAMP = /^\d{1,12}$/;
const encoder = new TextEncoder();

/**
 * The signing key bytes of a secret (`whsec_<base64>`; a bare base64 key is accepted too, as
 * Standard Webhooks libraries do). Throws a TypeError for a secret that cannot be a key.
 */
export function decodeWebhookSecret(secret: string): Uint8Array<ArrayBuffer> {
  const encoded = secret.startsWith(SECRET_PREFIX) ? secret.slice(SECRET_PREFIX.length) : secret;
  const key = encoded.length > 0 ? fromBase64(encoded) : null;
  if (key === null || key.length === 0) {
    throw new TypeError("Cannot use webhook secret: expected whsec_ followed by base64");
  }
  return key;
}

/** A new secret: `whsec_` + base64 of 32 random bytes. */
export function generateWebhookSecret(): string {
  return SECRET_PREFIX + toBase64(crypto.getRandomValues(new Uint8Array(32)));
}

/** The signature header value `v1,<base64 HMAC-SHA256>` of one message. */
export async function signWebhook(
  secret: string,
  id: string,
  timestamp: number,
  body: string | Uint8Array,
): Promise<string> {
  const mac = await hmac(secret, id, String(timestamp), body);
  return `v1,${toBase64(mac)}`;
}

/** Signs `body` and returns the three headers to send with it (fresh id and current time by default). */
export async function webhookHeaders(
  secret: string,
  body: string | Uint8Array,
  options: { id?: string; timestamp?: number } = {},
): Promise<SignedWebhookHeaders> {
  const id = options.id ?? `msg_${crypto.randomUUID().replaceAll("-", "")}`;
  const timestamp = options.timestamp ?? Math.floor(Date.now() / 1000);
  return {
    "webhook-id": id,
    "webhook-timestamp": String(timestamp),
    "webhook-signature": await signWebhook(secret, id, timestamp, body),
  };
}

/**
 * Checks a received webhook: the headers are present, the timestamp is within the tolerance of
 * now, and one `v1` signature in the header matches the raw body (compared in constant time).
 * Resolves when it is authentic; throws a WebhookVerificationError otherwise.
 */
export async function verifyWebhook(
  secret: string,
  headers: WebhookHeaderValues | Headers,
  rawBody: string | Uint8Array,
  options: VerifyOptions = {},
): Promise<void> {
  const values = headers instanceof Headers
    ? {
      id: headers.get("webhook-id"),
      timestamp: headers.get("webhook-timestamp"),
      signature: headers.get("webhook-signature"),
    }
    : headers;
  const id = values.id ?? "";
  const timestamp = values.timestamp == null ? "" : String(values.timestamp).trim();
  const signature = values.signature ?? "";
  if (id === "" || timestamp === "" || signature.trim() === "") {
    throw new WebhookVerificationError(
      "missing_headers",
      "Missing webhook-id, webhook-timestamp or webhook-signature header",
    );
  }
  if (!TIMESTAMP.test(timestamp)) {
    throw new WebhookVerificationError("bad_timestamp", "Invalid webhook-timestamp header");
  }
  const now = options.now ?? Math.floor(Date.now() / 1000);
  const tolerance = options.toleranceS ?? DEFAULT_TOLERANCE_S;
  if (Math.abs(now - Number(timestamp)) > tolerance) {
    throw new WebhookVerificationError(
      "expired",
      `Webhook timestamp is more than ${tolerance} s away from the current time`,
    );
  }
  const expected = await hmac(secret, id, timestamp, rawBody);
  // Every candidate is compared, in constant time, whether or not an earlier one matched.
  let matched = false;
  for (const candidate of signature.split(" ")) {
    const comma = candidate.indexOf(",");
    if (comma < 0 || candidate.slice(0, comma) !== "v1") continue;
    const given = fromBase64(candidate.slice(comma + 1));
    if (given !== null && timingSafeEqual(given, expected)) matched = true;
  }
  if (!matched) {
    throw new WebhookVerificationError("bad_signature", "No matching webhook signature");
  }
}

async function hmac(
  secret: string,
  id: string,
  timestamp: string,
  body: string | Uint8Array,
): Promise<Uint8Array> {
  const key = await crypto.subtle.importKey(
    "raw",
    decodeWebhookSecret(secret),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  const prefix = encoder.encode(`${id}.${timestamp}.`);
  const payload = typeof body === "string" ? encoder.encode(body) : body;
  const message = new Uint8Array(prefix.length + payload.length);
  message.set(prefix);
  message.set(payload, prefix.length);
  return new Uint8Array(await crypto.subtle.sign("HMAC", key, message));
}

/** Compares two byte arrays in time that depends only on their lengths. */
function timingSafeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
  return diff === 0;
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** Decodes standard base64, or null when `text` is not base64. */
function fromBase64(text: string): Uint8Array<ArrayBuffer> | null {
  if (!BASE64.test(text) || text.replace(/=+$/, "").length % 4 === 1) return null;
  try {
    return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
  } catch {
    return null;
  }
}

function toBase64(bytes: Uint8Array): string {
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary);
}
