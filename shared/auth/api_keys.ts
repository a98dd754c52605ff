/** API keys: creation (shown once), lookup by hash, listing and revocation. */
import { type Db, fragment, sql } from "../db/db.ts";
import { sha256Hex } from "../hash.ts";

export interface ApiKey {
  id: string;
  name: string;
  prefix: string;
  is_admin: boolean;
  webhook_secret: string;
  created_at: Date;
  last_used_at: Date | null;
  revoked_at: Date | null;
  /** Monthly budget in USD (null: none; shared/spend/budgets.ts). */
  budget_usd?: number | null;
}

/** The columns of an ApiKey (never the key's hash). */
const KEY_COLUMNS = fragment(sql`id, name, prefix, is_admin, webhook_secret, created_at,
  last_used_at, revoked_at, budget_usd::float8 AS budget_usd`);

const KEY_PATTERN = /^dr_[A-Za-z0-9_-]{32}$/;

function base64url(bytes: Uint8Array): string {
  return btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_")
    .replace(/=+$/, "");
}

/** SHA-256 hex of a key (keys are 192 random bits, so a fast hash is enough). */
export function hashKey(key: string): Promise<string> {
  return sha256Hex(key);
}

/** A new webhook signing secret in the Standard Webhooks form. */
export function newWebhookSecret(): string {
  return `whsec_${btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(32))))}`;
}

/** Creates a key; the returned `key` is the only time the secret exists in clear. */
export async function createApiKey(
  db: Db,
  options: { name: string; admin?: boolean },
): Promise<{ key: string; record: ApiKey }> {
  const key = `dr_${base64url(crypto.getRandomValues(new Uint8Array(24)))}`;
  const [record] = await db.query<ApiKey>(sql`
    INSERT INTO api_keys (id, name, prefix, key_hash, is_admin, webhook_secret)
    VALUES (${crypto.randomUUID()}, ${options.name}, ${key.slice(0, 10)}, ${await hashKey(key)},
            ${options.admin ?? false}, ${newWebhookSecret()})
    RETURNING ${KEY_COLUMNS}`);
  return { key, record };
}

/** The active key for a presented secret, or null (unknown, malformed or revoked). */
export async function findActiveKey(db: Db, key: string): Promise<ApiKey | null> {
  if (!KEY_PATTERN.test(key)) return null;
  const [record] = await db.query<ApiKey>(sql`
    SELECT ${KEY_COLUMNS}
    FROM api_keys WHERE key_hash = ${await hashKey(key)} AND revoked_at IS NULL`);
  if (!record) return null;
  // Record use at most once a minute: no write on every request.
  if (!record.last_used_at || Date.now() - new Date(record.last_used_at).getTime() > 60_000) {
    db.query(sql`UPDATE api_keys SET last_used_at = now() WHERE id = ${record.id}`).catch(() => {});
  }
  return record;
}

/** Every key, newest first (secrets are never stored, so never listed). */
export function listApiKeys(db: Db): Promise<ApiKey[]> {
  return db.query<ApiKey>(sql`
    SELECT ${KEY_COLUMNS}
    FROM api_keys ORDER BY created_at DESC`);
}

/**
 * Revokes a key by id or by its shown prefix; returns how many were revoked. A trigger announces
 * each revocation on `darkroom_keys` (migration 00009), and every API process ends that key's
 * open event streams.
 */
export async function revokeApiKey(db: Db, idOrPrefix: string): Promise<number> {
  const isId = /^[0-9a-f-]{36}$/i.test(idOrPrefix);
  const rows = await db.query(sql`
    UPDATE api_keys SET revoked_at = now()
    WHERE revoked_at IS NULL
      AND ${fragment(isId ? sql`id = ${idOrPrefix}::uuid` : sql`prefix = ${idOrPrefix}`)}
    RETURNING id`);
  return rows.length;
}

/** True while the key with this id exists and is not revoked. */
export async function isKeyActive(db: Db, id: string): Promise<boolean> {
  const rows = await db.query(sql`
    SELECT 1 FROM api_keys WHERE id = ${id}::uuid AND revoked_at IS NULL`);
  return rows.length > 0;
}
