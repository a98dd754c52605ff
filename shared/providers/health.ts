/**
 * Provider health across processes. Each worker's circuit breakers (shared/providers/circuit.ts)
 * are written to `provider_health` (migration 00013) when they change and with every heartbeat;
 * the API reads the most recent change among live workers for /health, /ready, /stats and the
 * `darkroom_provider_up{provider}` gauge. The local provider runs in-process and is always up.
 */
import { Gauge } from "prom-client";
import { type Db, sql } from "../db/db.ts";
import type { Metrics } from "../metrics.ts";
import type { CircuitSnapshot, CircuitState } from "./circuit.ts";
import type { ProviderStatus } from "./registry.ts";

/** Rows older than this (no heartbeat) are ignored: their worker is gone. */
export const HEALTH_FRESH_S = 30;

/** A provider's health as the API reports it. */
export interface ProviderHealth {
  name: string;
  configured: boolean;
  /** `up`, `down` (circuit open), `probing` (half-open), or `off` (not configured). */
  status: "up" | "down" | "probing" | "off";
  /** The circuit as the workers last reported it; null before any worker used the provider. */
  circuit: CircuitState | null;
  consecutive_failures: number;
  last_error: string | null;
  /** When the circuit last changed state (ISO time), if known. */
  since: string | null;
}

interface HealthRow {
  provider: string;
  state: CircuitState;
  consecutive_failures: number;
  last_error: string | null;
  changed_at: Date;
}

/** Writes one worker's breaker state (on a change of state, at once). */
export async function publishCircuit(
  db: Db,
  workerId: string,
  snapshot: CircuitSnapshot,
): Promise<void> {
  await publishCircuits(db, workerId, [snapshot]);
}

/** Writes every breaker of one worker in one statement (with the heartbeat). */
export async function publishCircuits(
  db: Db,
  workerId: string,
  snapshots: CircuitSnapshot[],
): Promise<void> {
  if (snapshots.length === 0) return;
  const rows = snapshots.map((s) => ({
    provider: s.provider,
    state: s.state,
    consecutive_failures: s.consecutiveFailures,
    last_error: s.lastError,
    changed_at: new Date(s.changedAt).toISOString(),
  }));
  await db.query(sql`
    INSERT INTO provider_health (worker_id, provider, state, consecutive_failures, last_error,
                                 changed_at, seen_at)
    SELECT ${workerId}, r.provider, r.state, r.consecutive_failures, r.last_error, r.changed_at,
           now()
    FROM jsonb_to_recordset(${JSON.stringify(rows)}::text::jsonb) AS r(
      provider text, state text, consecutive_failures int, last_error text, changed_at timestamptz)
    ON CONFLICT (worker_id, provider) DO UPDATE
      SET state = excluded.state, consecutive_failures = excluded.consecutive_failures,
          last_error = excluded.last_error, changed_at = excluded.changed_at, seen_at = now()`);
}

/** Removes a worker's rows (clean shutdown). */
export async function removeCircuits(db: Db, workerId: string): Promise<void> {
  await db.query(sql`DELETE FROM provider_health WHERE worker_id = ${workerId}`);
}

/** The latest reported circuit of each provider among live workers. */
export async function latestCircuits(db: Db): Promise<Map<string, HealthRow>> {
  const rows = await db.query<HealthRow>(sql`
    SELECT DISTINCT ON (provider) provider, state, consecutive_failures, last_error, changed_at
    FROM provider_health
    WHERE seen_at > now() - make_interval(secs => ${HEALTH_FRESH_S})
    ORDER BY provider, changed_at DESC, seen_at DESC`);
  return new Map(rows.map((r) => [r.provider, r]));
}

/** Health of each provider the registry lists (configured or not). */
export async function providerHealth(
  db: Db,
  providers: ProviderStatus[],
): Promise<ProviderHealth[]> {
  const remote = providers.some((p) => p.configured && p.name !== "local");
  const circuits = remote ? await latestCircuits(db) : new Map<string, HealthRow>();
  return providers.map((p) => {
    const row = circuits.get(p.name);
    const status = !p.configured
      ? "off"
      : row?.state === "open"
      ? "down"
      : row?.state === "half_open"
      ? "probing"
      : "up";
    return {
      name: p.name,
      configured: p.configured,
      status,
      circuit: p.configured ? row?.state ?? null : null,
      consecutive_failures: row?.consecutive_failures ?? 0,
      last_error: row?.last_error ?? null,
      since: row ? new Date(row.changed_at).toISOString() : null,
    };
  });
}

/**
 * The overall word: `ok` while every configured provider is up, `degraded` while one is down but
 * another works, `down` when none works.
 */
export function overallProviderStatus(health: ProviderHealth[]): "ok" | "degraded" | "down" {
  const configured = health.filter((h) => h.configured);
  const working = configured.filter((h) => h.status !== "down");
  if (working.length === configured.length) return "ok";
  return working.length > 0 ? "degraded" : "down";
}

/** Adds `darkroom_provider_up{provider}` (1 up or probing, 0 down) for configured providers. */
export function registerProviderGauge(
  metrics: Pick<Metrics, "registry">,
  sources: { db: Db; providers: () => ProviderStatus[] },
): void {
  new Gauge({
    name: "darkroom_provider_up",
    help: "1 while a configured provider takes new predictions, 0 while its circuit is open",
    labelNames: ["provider"] as const,
    registers: [metrics.registry],
    async collect() {
      try {
        const health = await providerHealth(sources.db, sources.providers());
        this.reset();
        for (const h of health) {
          if (h.configured) this.set({ provider: h.name }, h.status === "down" ? 0 : 1);
        }
      } catch {
        // Database away: /health reports it.
      }
    },
  });
}
