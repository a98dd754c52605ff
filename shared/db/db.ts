/**
 * The database handle: a tiny interface over postgres.js (and, in embedded mode, PGlite), so the
 * SQL is written once. Queries are built with the `sql` tag, which keeps values as parameters.
 */
import postgres from "postgres";
import { withTimeout } from "../timeout.ts";

/** A parameterised query: text with $1..$n placeholders and its values. */
export interface Query {
  text: string;
  values: unknown[];
  /** This statement's own deadline (ms), instead of the pool's (postgres.js only). */
  timeoutMs?: number;
  /**
   * Plan with this call's values every time (an unnamed statement), never a cached generic plan:
   * for searches, whose best plan depends on how common the searched words are. PGlite always
   * plans this way.
   */
  customPlan?: boolean;
}

export type Row = Record<string, unknown>;

export interface Db {
  /** Which engine answers ("postgres" for postgres.js, "pglite" for the embedded one). */
  readonly kind?: "postgres" | "pglite";
  /** Runs one parameterised statement and returns its rows. */
  query<T = Row>(q: Query): Promise<T[]>;
  /** Runs a script of one or more statements without parameters (migrations). */
  exec(script: string): Promise<void>;
  /** Runs `fn` in a transaction; it commits when `fn` resolves and rolls back when it throws. */
  transaction<T>(fn: (tx: Db) => Promise<T>): Promise<T>;
  /**
   * Subscribes to NOTIFY messages on `channel`; resolves once listening, to a function that
   * stops listening. Messages arrive as the payload string.
   */
  listen(channel: string, onMessage: (payload: string) => void): Promise<() => Promise<void>>;
  /** Closes every connection, waiting up to `timeoutS` for running queries. */
  close(timeoutS?: number): Promise<void>;
}

/** Tagged template: sql`select * from jobs where id = ${id}` → { text, values }. */
export function sql(strings: TemplateStringsArray, ...values: unknown[]): Query {
  let text = strings[0];
  const params: unknown[] = [];
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (isFragment(v)) {
      text += shift(v.text, params.length);
      params.push(...v.values);
    } else {
      params.push(v);
      text += `$${params.length}`;
    }
    text += strings[i + 1];
  }
  return { text, values: params };
}

const FRAGMENT = Symbol("sql.fragment");

function isFragment(v: unknown): v is Query {
  return typeof v === "object" && v !== null && (v as Record<symbol, unknown>)[FRAGMENT] === true;
}

/** Marks a query built with `sql` as a fragment to embed in another `sql` template. */
export function fragment(q: Query): Query {
  return Object.assign({ [FRAGMENT]: true }, q);
}

/** Joins fragments with a separator (for optional WHERE clauses). */
export function join(parts: Query[], separator: string): Query {
  const out: Query = { text: "", values: [] };
  parts.forEach((p, i) => {
    if (i > 0) out.text += separator;
    out.text += shift(p.text, out.values.length);
    out.values.push(...p.values);
  });
  return fragment(out);
}

function shift(text: string, by: number): string {
  return by === 0 ? text : text.replace(/\$(\d+)/g, (_, n) => `$${Number(n) + by}`);
}

export interface PostgresOptions {
  /** Schema to put first in search_path (tests use one of their own). */
  schema?: string;
  /** Pool size. */
  max?: number;
  /** Seconds to wait for a connection before failing. */
  connectTimeoutS?: number;
  application?: string;
  /** Give up on a query after this long (ms): postgres.js under Deno can lose a query sent
   * while its connection dies, and nothing may wait on it forever. */
  queryTimeoutMs?: number;
  /** Called when a missed deadline retires the pool (for a log line). */
  onRecycle?: () => void;
}

/**
 * postgres.js waits before reconnecting after a failed connection, and by default that wait grows
 * with every failure (3^n / 100 s, up to 20 s, counted over the whole pool): after a few seconds
 * of outage under load the first statement after Postgres returned waited seconds for its
 * connection, past its deadline. Here the wait is at most 250 ms (in seconds, as postgres.js
 * takes it): a refused connection costs next to nothing, and the first statement once Postgres
 * accepts connections again gets one.
 */
export function reconnectBackoffS(retries: number): number {
  return Math.min(0.05 * retries, 0.25);
}

/**
 * Errors raised before a statement reached Postgres (no connection could be made, or Postgres
 * refused it while starting up): the statement provably did not run, so it may be sent again.
 */
const NOT_SENT = new Set(["ECONNREFUSED", "CONNECT_TIMEOUT", "57P03", "ENOTFOUND", "EAI_AGAIN"]);

/** True when `err` says the statement never reached Postgres (safe to send again). */
export function neverSent(err: unknown): boolean {
  const code = (err as { code?: unknown } | null | undefined)?.code;
  return typeof code === "string" && NOT_SENT.has(code);
}

/** After one pool is retired for a missed deadline, the next retirement waits this long (ms). */
const RECYCLE_INTERVAL_MS = 2000;
/** A retired pool's running statements get this long to finish before its connections close (s). */
const RETIRE_GRACE_S = 2;

/**
 * Opens a postgres.js pool behind the Db interface.
 *
 * A statement that misses its deadline retires the pool: postgres.js under Deno can lose a
 * query sent while its connection dies (seen when Postgres restarts under load), and that
 * connection then waits forever, with every statement queued behind it missing its deadline
 * too, long after Postgres is back. New statements go to a fresh pool at once; the old one gets
 * `RETIRE_GRACE_S` to finish what it runs, then its connections are closed. LISTEN runs on a
 * connection of its own, which postgres.js re-establishes by itself and a retirement leaves alone.
 */
export function connectPostgres(url: string, options: PostgresOptions = {}): Db {
  const connection: Record<string, string> = {
    application_name: options.application ?? "darkroom",
  };
  if (options.schema) connection.search_path = `"${options.schema}",public`;
  const open = (size: number) =>
    postgres(url, {
      max: size,
      connect_timeout: options.connectTimeoutS ?? 5,
      backoff: reconnectBackoffS,
      idle_timeout: 60,
      onnotice: () => {},
      connection,
      // bigint (count(*)) as number: counts never approach 2^53.
      types: {
        bigint: {
          to: 20,
          from: [20],
          serialize: (x: number) => String(x),
          parse: (x: string) => Number(x),
        },
      },
    });
  const max = options.max ?? 10;
  let pool = open(max);
  let listener: postgres.Sql | undefined;
  let lastRecycle = -Infinity;
  let closed = false;
  const retiring = new Set<Promise<void>>();
  const pools = {
    current: () => pool,
    retryable: true,
    missedDeadline() {
      const now = performance.now();
      if (closed || now - lastRecycle < RECYCLE_INTERVAL_MS) return;
      lastRecycle = now;
      const old = pool;
      pool = open(max);
      options.onRecycle?.();
      const ending: Promise<void> = old.end({ timeout: RETIRE_GRACE_S }).catch(() => {})
        .finally(() => retiring.delete(ending));
      retiring.add(ending);
    },
    listener() {
      listener ??= open(1);
      return listener;
    },
    async close(timeoutS: number) {
      closed = true;
      await Promise.all([
        pool.end({ timeout: timeoutS }),
        listener?.end({ timeout: timeoutS }),
        ...retiring,
      ]);
    },
  };
  return wrapPostgres(pools, options.queryTimeoutMs ?? 20_000);
}

// deno-lint-ignore no-explicit-any
type AnySql = postgres.Sql<any> | postgres.TransactionSql<any>;

/** What `wrapPostgres` runs statements on: the pool in use (or a transaction), and its upkeep. */
interface Pools {
  current(): AnySql;
  /** Statements that never reached Postgres may be sent again (not inside a transaction). */
  retryable?: boolean;
  /** A statement missed its deadline (see connectPostgres). */
  missedDeadline?(): void;
  listener?(): postgres.Sql;
  close?(timeoutS: number): Promise<void>;
}

function wrapPostgres(pools: Pools, timeoutMs: number): Db {
  return {
    kind: "postgres",
    async query<T>(q: Query) {
      const ms = q.timeoutMs ?? timeoutMs;
      const deadline = performance.now() + ms;
      const run = (left: number) => {
        // deno-lint-ignore no-explicit-any
        const pending = pools.current().unsafe(q.text, q.values as any[], {
          prepare: !q.customPlan,
        });
        // Past its deadline the statement is canceled in Postgres too: a caller told "failed"
        // must not find it committed later (a submit answered 503 whose row appears afterwards).
        return withTimeout(pending, left, () => {
          pending.cancel();
          pools.missedDeadline?.();
          throw Object.assign(new Error(`Query did not finish within ${ms} ms`), {
            code: "QUERY_TIMEOUT",
          });
        });
      };
      let rows;
      try {
        rows = await run(ms);
      } catch (err) {
        // Never reached Postgres (it was away, or starting up): once more, on a fresh
        // connection, within the same deadline. A transaction's statements are not retried.
        const left = deadline - performance.now();
        if (!pools.retryable || !neverSent(err) || left < 50) throw err;
        rows = await run(left);
      }
      return Array.from(rows) as unknown as T[]; // a plain array, not postgres.js's Result
    },
    async exec(script: string) {
      await pools.current().unsafe(script);
    },
    transaction<T>(fn: (tx: Db) => Promise<T>): Promise<T> {
      const client = pools.current();
      // Already inside one: statements run in it.
      if (!("begin" in client)) return fn(wrapPostgres({ current: () => client }, timeoutMs));
      return client.begin((tx) => fn(wrapPostgres({ current: () => tx }, timeoutMs))) as Promise<T>;
    },
    async listen(channel: string, onMessage: (payload: string) => void) {
      if (!pools.listener) throw new Error("Cannot LISTEN inside a transaction");
      const sub = await pools.listener().listen(channel, onMessage);
      return () => sub.unlisten();
    },
    async close(timeoutS = 5) {
      await pools.close?.(timeoutS);
    },
  };
}
