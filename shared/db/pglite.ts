/**
 * The embedded database for the zero-infrastructure mode: PGlite (Postgres compiled to WASM)
 * behind the Db interface, so `jobs_repo.ts` and the migrations run unchanged on it.
 *
 * PGlite is one Postgres session. It queues callers itself: a statement outside a transaction
 * waits for any open transaction, and transactions run one after another. Two consequences:
 * - Code inside `transaction(fn)` must use the `tx` it is given. Using the outer handle there
 *   would wait for the transaction it is part of, forever; this module throws instead.
 * - PGlite does not lock its data folder: take `acquireDataLock` (data_lock.ts) first.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { resolve } from "node:path";
import { PGlite, type Transaction } from "@electric-sql/pglite";
import type { Db, Query } from "./db.ts";
import { withTimeout } from "../timeout.ts";

const INT8 = 20;
const JSON_OID = 114;
const JSONB_OID = 3802;

/**
 * Opens PGlite on `dataDir` (initialised on first use), or in memory when `dataDir` is undefined.
 */
export async function openPglite(dataDir: string | undefined): Promise<Db> {
  const pg = await PGlite.create({
    dataDir: dataDir === undefined ? undefined : resolve(dataDir),
    // Match the postgres.js handle: bigint as number (counts never approach 2^53), and json
    // parameters always JSON.stringify'd, so a JS string is stored as a JSON string. (PGlite
    // alone passes strings through as JSON text, which would store '{"a":1}' as an object.)
    parsers: { [INT8]: (x: string) => Number(x) },
    serializers: { [JSON_OID]: toJson, [JSONB_OID]: toJson },
  });
  return wrapPglite(pg);
}

function toJson(x: unknown): string {
  return JSON.stringify(x);
}

function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

interface Channel {
  listeners: Set<(payload: string) => void>;
  /** Settles when the LISTEN statement has run. */
  ready: Promise<unknown>;
}

function wrapPglite(pg: PGlite): Db {
  // LISTEN/UNLISTEN are issued here rather than through PGlite's listen(): its unlisten does not
  // keep a quoted channel name quoted. Names are quoted like postgres.js does, so they match
  // pg_notify('<exact name>', ...) on both backends.
  const channels = new Map<string, Channel>();
  // Set while a transaction's callback runs, so that using this (outer) handle from inside it
  // fails at once instead of waiting forever for the transaction it is part of.
  const activeTransaction = new AsyncLocalStorage<{ open: boolean }>();
  function refuseInsideTransaction(): void {
    if (activeTransaction.getStore()?.open) {
      throw new Error(
        "Cannot use the database handle inside one of its own transactions (PGlite has a " +
          "single connection, so this would wait forever): use the transaction's `tx`",
      );
    }
  }
  let closing: Promise<void> | undefined;
  pg.onNotification((channel, payload) => {
    const listeners = channels.get(channel)?.listeners;
    if (!listeners) return;
    // Run callbacks after PGlite's message handling, and outside any transaction's async
    // context (a NOTIFY arrives during the COMMIT that sends it), so they may use this handle.
    activeTransaction.exit(() => {
      for (const listener of listeners) queueMicrotask(() => listener(payload));
    });
  });

  return {
    kind: "pglite",
    async query<T>(q: Query): Promise<T[]> {
      refuseInsideTransaction();
      return (await pg.query<T>(q.text, q.values)).rows;
    },
    async exec(script: string): Promise<void> {
      refuseInsideTransaction();
      await pg.exec(script);
    },
    async transaction<T>(fn: (tx: Db) => Promise<T>): Promise<T> {
      refuseInsideTransaction();
      return await pg.transaction(async (tx) => {
        const state = { open: true };
        try {
          return await activeTransaction.run(state, () => fn(wrapTransaction(tx)));
        } finally {
          state.open = false;
        }
      });
    },
    async listen(channel: string, onMessage: (payload: string) => void) {
      refuseInsideTransaction();
      const listener = (payload: string) => onMessage(payload); // one per call, like postgres.js
      let entry = channels.get(channel);
      if (!entry) {
        entry = { listeners: new Set(), ready: pg.exec(`LISTEN ${quoteIdent(channel)}`) };
        channels.set(channel, entry);
      }
      entry.listeners.add(listener);
      try {
        await entry.ready;
      } catch (err) {
        entry.listeners.delete(listener);
        if (channels.get(channel) === entry && entry.listeners.size === 0) {
          channels.delete(channel);
        }
        throw err;
      }
      return async () => {
        const current = channels.get(channel);
        if (!current?.listeners.delete(listener) || current.listeners.size > 0) return;
        channels.delete(channel); // before the await, so a new listen() issues a fresh LISTEN
        if (!pg.closed) await pg.exec(`UNLISTEN ${quoteIdent(channel)}`);
      };
    },
    async close(timeoutS = 5): Promise<void> {
      if (pg.closed) return;
      closing ??= pg.close();
      closing.catch(() => {}); // still reported below when it fails before the timeout
      // PGlite's close() waits for running statements. Past the timeout, stop waiting:
      // committed work is already in the WAL on disk, and the process is about to exit.
      await withTimeout(closing, timeoutS * 1000, () => undefined);
    },
  };
}

function wrapTransaction(tx: Transaction): Db {
  const db: Db = {
    async query<T>(q: Query): Promise<T[]> {
      return (await tx.query<T>(q.text, q.values)).rows;
    },
    async exec(script: string): Promise<void> {
      await tx.exec(script);
    },
    transaction<T>(fn: (tx: Db) => Promise<T>): Promise<T> {
      return fn(db); // already inside one, like the postgres.js handle
    },
    listen(): Promise<() => Promise<void>> {
      return Promise.reject(new Error("Cannot LISTEN inside a transaction"));
    },
    close(): Promise<void> {
      return Promise.resolve();
    },
  };
  return db;
}
