/**
 * Forward-only SQL migrations: numbered `.sql` files, each applied in its own transaction under
 * an advisory lock and recorded with a checksum. Safe to run twice or from two processes at once.
 */
import { type Db, sql } from "./db.ts";
import { sha256Hex } from "../hash.ts";

export interface Migration {
  version: number;
  name: string;
  sql: string;
  checksum: string;
}

export interface MigrationStatus {
  version: number;
  name: string;
  applied: boolean;
  appliedAt?: Date;
}

/** Advisory lock key shared by every runner ("darkroom" as an int). */
const LOCK_KEY = 0x6461726b;
const FILE_NAME = /^(\d+)_([A-Za-z0-9_-]+)\.sql$/;

/** The folder of migrations that ships with the project. */
export const MIGRATIONS_DIR = new URL("../../migrations/", import.meta.url);

/** Reads and orders the migration files in `dir`; refuses duplicate versions and odd names. */
export async function readMigrations(dir: URL = MIGRATIONS_DIR): Promise<Migration[]> {
  const found: Migration[] = [];
  for await (const entry of Deno.readDir(dir)) {
    if (!entry.isFile || !entry.name.endsWith(".sql")) continue;
    const m = FILE_NAME.exec(entry.name);
    if (!m) throw new Error(`Cannot use migration ${entry.name}: name it NNNNN_description.sql`);
    const text = await Deno.readTextFile(new URL(entry.name, dir));
    found.push({
      version: Number(m[1]),
      name: entry.name,
      sql: text,
      checksum: await sha256Hex(text),
    });
  }
  found.sort((a, b) => a.version - b.version);
  for (let i = 1; i < found.length; i++) {
    if (found[i].version === found[i - 1].version) {
      throw new Error(
        `Cannot use migrations ${found[i - 1].name} and ${found[i].name}: same number`,
      );
    }
  }
  return found;
}

interface AppliedRow {
  version: number;
  name: string;
  checksum: string;
  applied_at: Date;
}

async function ensureTable(db: Db): Promise<void> {
  await db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
    version    integer PRIMARY KEY,
    name       text NOT NULL,
    checksum   text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
  )`);
}

async function applied(db: Db): Promise<Map<number, AppliedRow>> {
  const rows = await db.query<AppliedRow>(
    sql`SELECT version, name, checksum, applied_at FROM schema_migrations ORDER BY version`,
  );
  return new Map(rows.map((r) => [r.version, r]));
}

function verify(files: Migration[], done: Map<number, AppliedRow>): void {
  const byVersion = new Map(files.map((f) => [f.version, f]));
  for (const row of done.values()) {
    const file = byVersion.get(row.version);
    if (!file) {
      throw new Error(`Migration ${row.name} is applied but its file is missing`);
    }
    if (file.checksum !== row.checksum) {
      throw new Error(
        `Migration ${row.name} was edited after it was applied (checksum differs); ` +
          `add a new migration instead`,
      );
    }
  }
}

/** Applies every pending migration; returns the names applied by this call. */
export async function migrate(db: Db, files?: Migration[]): Promise<string[]> {
  const migrations = files ?? await readMigrations();
  const appliedNow: string[] = [];
  // The lock is taken inside each transaction, so two runners interleave safely: the second one
  // waits, then sees the row the first one wrote and skips that file.
  await db.transaction(async (tx) => {
    await tx.query(sql`SELECT pg_advisory_xact_lock(${LOCK_KEY})`);
    await ensureTable(tx);
    verify(migrations, await applied(tx));
  });
  for (const m of migrations) {
    await db.transaction(async (tx) => {
      await tx.query(sql`SELECT pg_advisory_xact_lock(${LOCK_KEY})`);
      const done = await applied(tx);
      if (done.has(m.version)) return;
      try {
        await tx.exec(m.sql);
      } catch (err) {
        throw new Error(`Cannot apply migration ${m.name}: ${(err as Error).message}`);
      }
      await tx.query(
        sql`INSERT INTO schema_migrations (version, name, checksum)
            VALUES (${m.version}, ${m.name}, ${m.checksum})`,
      );
      appliedNow.push(m.name);
    });
  }
  return appliedNow;
}

/** Lists every migration file with whether it is applied (and checks applied checksums). */
export async function migrationStatus(db: Db, files?: Migration[]): Promise<MigrationStatus[]> {
  const migrations = files ?? await readMigrations();
  await ensureTable(db);
  const done = await applied(db);
  verify(migrations, done);
  return migrations.map((m) => ({
    version: m.version,
    name: m.name,
    applied: done.has(m.version),
    appliedAt: done.get(m.version)?.applied_at,
  }));
}

/** True when every migration file is applied (used by readiness checks). */
export async function migrationsCurrent(db: Db, files?: Migration[]): Promise<boolean> {
  const status = await migrationStatus(db, files);
  return status.every((s) => s.applied);
}
