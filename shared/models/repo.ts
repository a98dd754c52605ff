/** Data access for the model catalogue: `model_versions` and `model_latest` (migration 00010). */
import { type Db, sql } from "../db/db.ts";
import type { ModelCard } from "./card.ts";
import type { InputSchema } from "./schema.ts";

interface VersionRow {
  model: string;
  version: string;
  provider: string;
  title: string;
  description: string | null;
  cover_image_url: string | null;
  input_schema: InputSchema;
}

/** A stored card and when its `latest` pointer was last checked (null for a plain version). */
export interface StoredCard {
  card: ModelCard;
  checkedAt: Date | null;
}

function toCard(row: VersionRow): ModelCard {
  return {
    id: row.model,
    provider: row.provider,
    version: row.version,
    title: row.title,
    description: row.description,
    cover_image_url: row.cover_image_url,
    input_schema: row.input_schema,
  };
}

/** One stored version, or null. */
export async function readVersion(
  db: Db,
  model: string,
  version: string,
): Promise<ModelCard | null> {
  const [row] = await db.query<VersionRow>(sql`
    SELECT model, version, provider, title, description, cover_image_url, input_schema
    FROM model_versions WHERE model = ${model} AND version = ${version}`);
  return row ? toCard(row) : null;
}

/** The version `model` pointed at when last checked, with the time of that check. */
export async function readLatest(db: Db, model: string): Promise<StoredCard | null> {
  const [row] = await db.query<VersionRow & { checked_at: Date }>(sql`
    SELECT v.model, v.version, v.provider, v.title, v.description, v.cover_image_url,
           v.input_schema, l.checked_at
    FROM model_latest l JOIN model_versions v ON v.model = l.model AND v.version = l.version
    WHERE l.model = ${model}`);
  return row ? { card: toCard(row), checkedAt: new Date(row.checked_at) } : null;
}

/** Stores a fetched card; `latest` also points `model` at it (checked now). */
export async function saveCard(db: Db, card: ModelCard, latest: boolean): Promise<void> {
  if (card.version === null) return;
  await db.query(sql`
    INSERT INTO model_versions
      (model, version, provider, title, description, cover_image_url, input_schema)
    VALUES (${card.id}, ${card.version}, ${card.provider}, ${card.title}, ${card.description},
            ${card.cover_image_url}, ${JSON.stringify(card.input_schema)}::text::jsonb)
    ON CONFLICT (model, version) DO UPDATE SET
      title = EXCLUDED.title, description = EXCLUDED.description,
      cover_image_url = EXCLUDED.cover_image_url, fetched_at = now()`);
  if (latest) {
    await db.query(sql`
      INSERT INTO model_latest (model, version, checked_at) VALUES (${card.id}, ${card.version}, now())
      ON CONFLICT (model) DO UPDATE SET version = EXCLUDED.version, checked_at = now()`);
  }
}

/** Title, description and cover of the latest known version of each model (those known). */
export async function latestSummaries(
  db: Db,
  models: string[],
): Promise<Map<string, Pick<ModelCard, "title" | "description" | "cover_image_url">>> {
  if (models.length === 0) return new Map();
  const rows = await db.query<VersionRow>(sql`
    SELECT v.model, v.title, v.description, v.cover_image_url
    FROM model_latest l JOIN model_versions v ON v.model = l.model AND v.version = l.version
    WHERE l.model IN (SELECT jsonb_array_elements_text(${JSON.stringify(models)}::text::jsonb))`);
  return new Map(rows.map((r) => [r.model, {
    title: r.title,
    description: r.description,
    cover_image_url: r.cover_image_url,
  }]));
}

/**
 * Models used by the most recent jobs (of one owner, or of everyone), newest first: the last
 * `scan` jobs are looked at, through the newest-first index.
 */
export async function recentModels(
  db: Db,
  options: { owner?: string; limit?: number; scan?: number } = {},
): Promise<string[]> {
  const scan = options.scan ?? 500;
  const rows = await db.query<{ model: string }>(
    options.owner
      ? sql`SELECT model FROM (
              SELECT model, created_at FROM jobs WHERE owner_key_id = ${options.owner}
              ORDER BY created_at DESC LIMIT ${scan}) j
            GROUP BY model ORDER BY max(created_at) DESC LIMIT ${options.limit ?? 10}`
      : sql`SELECT model FROM (
              SELECT model, created_at FROM jobs ORDER BY created_at DESC LIMIT ${scan}) j
            GROUP BY model ORDER BY max(created_at) DESC LIMIT ${options.limit ?? 10}`,
  );
  return rows.map((r) => r.model);
}
