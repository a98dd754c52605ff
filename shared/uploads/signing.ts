/**
 * Signed, expiring URLs of uploads, for providers that fetch image inputs themselves:
 * `/uploads/<id>?expires=<unix s>&signature=<HMAC-SHA256 of "<id>.<expires>", base64url>`. The key
 * is UPLOAD_URL_SECRET, or else the random one migration 00010 stored in the database, so every
 * API and worker process agrees on it without configuration.
 */
import type { Db } from "../db/db.ts";
import { uploadPath } from "../models/image_refs.ts";
import { serviceSecret } from "./repo.ts";

/** Signs and checks upload URLs. */
export interface UploadSigner {
  /** `/uploads/<id>?expires=...&signature=...`, valid for `ttlS` seconds. */
  signedPath(id: string, ttlS: number): Promise<string>;
  /** True when the signature is right and not expired. */
  verify(id: string, expires: string | undefined, signature: string | undefined): Promise<boolean>;
}

/** The signer; the key is read (once) when first needed. */
export function createUploadSigner(
  options: { db: Db; secret?: string; now?: () => number },
): UploadSigner {
  const now = options.now ?? Date.now;
  let key: Promise<CryptoKey> | undefined;
  const keyOf = () => {
    key ??= (async () => {
      const secret = options.secret ?? await serviceSecret(options.db, "upload_url");
      if (!secret) throw new Error("Cannot sign upload URLs: no upload_url secret is stored");
      return await crypto.subtle.importKey(
        "raw",
        new TextEncoder().encode(secret),
        { name: "HMAC", hash: "SHA-256" },
        false,
        ["sign", "verify"],
      );
    })().catch((err) => {
      key = undefined;
      throw err;
    });
    return key;
  };
  return {
    async signedPath(id, ttlS) {
      const expires = String(Math.floor(now() / 1000) + Math.max(1, Math.floor(ttlS)));
      const mac = await crypto.subtle.sign("HMAC", await keyOf(), message(id, expires));
      return `${uploadPath(id)}?expires=${expires}&signature=${toBase64Url(new Uint8Array(mac))}`;
    },
    async verify(id, expires, signature) {
      if (!expires || !signature || !/^\d{1,12}$/.test(expires)) return false;
      if (Number(expires) * 1000 < now()) return false;
      const mac = fromBase64Url(signature);
      if (!mac) return false;
      // crypto.subtle.verify compares in constant time.
      return await crypto.subtle.verify("HMAC", await keyOf(), mac, message(id, expires));
    },
  };
}

function message(id: string, expires: string): Uint8Array<ArrayBuffer> {
  return new TextEncoder().encode(`${id}.${expires}`);
}

function toBase64Url(bytes: Uint8Array): string {
  return btoa(String.fromCharCode(...bytes)).replaceAll("+", "-").replaceAll("/", "_")
    .replace(/=+$/, "");
}

function fromBase64Url(text: string): Uint8Array<ArrayBuffer> | null {
  if (!/^[A-Za-z0-9_-]{1,100}$/.test(text)) return null;
  try {
    const binary = atob(text.replaceAll("-", "+").replaceAll("_", "/"));
    return Uint8Array.from(binary, (c) => c.charCodeAt(0));
  } catch {
    return null;
  }
}
