/**
 * The API key: where the browser keeps it (localStorage when remembered, else sessionStorage;
 * never the URL), what `GET /me` said about it, and whether the key prompt is open.
 */
import { type ReadonlySignal, signal } from "@preact/signals";
import { ApiError, type KeyInfo, type MeJson } from "../api_client.ts";

/** The slice of the Storage API the key needs (a Map-backed fake in tests). */
export interface KeyStore {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

/** `local` outlives the browser session ("Remember on this device"), `session` ends with the tab. */
export interface KeyStores {
  local?: KeyStore;
  session?: KeyStore;
}

export const KEY_STORAGE_KEY = "darkroom.api_key";

/** Shown when the API refuses a key. */
export const INVALID_KEY_MESSAGE = "That key is not valid or was revoked";

/** The stored key and where it was found; the session's copy wins over the remembered one. */
export function readStoredKey(stores: KeyStores): { key: string; remember: boolean } | null {
  for (const [store, remember] of [[stores.session, false], [stores.local, true]] as const) {
    try {
      const key = store?.getItem(KEY_STORAGE_KEY)?.trim();
      if (key) return { key, remember };
    } catch { /* storage disabled */ }
  }
  return null;
}

/** Keeps `key` in one store (local when `remember`, else session) and removes it from the other. */
export function storeKey(stores: KeyStores, key: string, remember: boolean): void {
  const [keep, drop] = remember ? [stores.local, stores.session] : [stores.session, stores.local];
  try {
    drop?.removeItem(KEY_STORAGE_KEY);
  } catch { /* storage disabled */ }
  try {
    keep?.setItem(KEY_STORAGE_KEY, key);
  } catch { /* storage full or disabled: the key lives in memory for this visit */ }
}

/** Removes the key from both stores. */
export function clearStoredKey(stores: KeyStores): void {
  for (const store of [stores.local, stores.session]) {
    try {
      store?.removeItem(KEY_STORAGE_KEY);
    } catch { /* storage disabled */ }
  }
}

/**
 * `checking` until `/me` answers; `ready` when calls can be made (the API is open, or the key
 * works); `locked` when a key is needed: the prompt is open.
 */
export type SessionPhase = "checking" | "ready" | "locked";

/** Why the prompt is open: no key yet, the key in use was refused, or the user signed out. */
export type LockReason = "missing" | "refused" | "signed_out";

export interface Session {
  phase: SessionPhase;
  /** The API asks for a key (false until known). */
  required: boolean;
  /** The key in use, as `/me` described it (null with no key or an open API). */
  key: KeyInfo | null;
  reason: LockReason | null;
  /** Whether the key was (or, in the prompt, will be) remembered on this device. */
  remember: boolean;
  /** Bumped at every change, so answers that belong to an older session can be dropped. */
  epoch: number;
}

export interface AuthDeps {
  stores: KeyStores;
  /** `GET /me`, sending exactly `key` (none when null); rejects with `ApiError` on non-2xx. */
  me(key: string | null): Promise<MeJson>;
}

export interface Auth {
  readonly session: ReadonlySignal<Session>;
  /** The secret to send, or null. */
  key(): string | null;
  /** Asks `/me` with the stored key: ready, or locked (a refused stored key is forgotten). */
  check(): Promise<void>;
  /** Tries a key typed into the prompt; keeps it when `/me` accepts it. Returns an error or null. */
  submit(key: string, remember: boolean): Promise<string | null>;
  /** A call made with `sentKey` was answered 401: forget that key and open the prompt. */
  unauthorized(sentKey: string | null): void;
  /** Forgets the key on this device and opens the prompt. */
  signOut(): void;
}

/** Creates the key state (the page makes one in live.ts; tests make their own with fakes). */
export function createAuth(deps: AuthDeps): Auth {
  const stored = readStoredKey(deps.stores);
  let current: string | null = stored?.key ?? null;
  const session = signal<Session>({
    phase: "checking",
    required: false,
    key: null,
    reason: null,
    remember: stored?.remember ?? false,
    epoch: 0,
  });
  const set = (patch: Partial<Session>) => {
    session.value = { ...session.value, ...patch, epoch: session.value.epoch + 1 };
  };
  const lock = (reason: LockReason) => set({ phase: "locked", required: true, key: null, reason });
  const forget = () => {
    current = null;
    clearStoredKey(deps.stores);
  };

  return {
    session,
    key: () => current,
    async check() {
      const sent = current;
      try {
        const me = await deps.me(sent);
        if (current !== sent) return; // a key was entered meanwhile
        if (me.auth_required && !me.authenticated) {
          if (sent) forget();
          lock(sent ? "refused" : "missing");
        } else {
          set({ phase: "ready", required: me.auth_required, key: me.key, reason: null });
        }
      } catch (err) {
        if (current !== sent) return;
        if (err instanceof ApiError && err.status === 401) {
          if (sent) forget();
          lock(sent ? "refused" : "missing");
        } else {
          // Unreachable, or an API without /me: carry on; a 401 later opens the prompt.
          set({ phase: "ready", reason: null });
        }
      }
    },
    async submit(key, remember) {
      const candidate = key.trim();
      if (!candidate) return "Paste the key first";
      let me: MeJson;
      try {
        me = await deps.me(candidate);
      } catch (err) {
        if (err instanceof ApiError && (err.status === 401 || err.status === 403)) {
          return INVALID_KEY_MESSAGE;
        }
        return `Cannot check the key: ${(err as Error).message}`;
      }
      if (me.auth_required && !me.authenticated) return INVALID_KEY_MESSAGE;
      current = candidate;
      storeKey(deps.stores, candidate, remember);
      set({ phase: "ready", required: me.auth_required, key: me.key, reason: null, remember });
      return null;
    },
    unauthorized(sentKey) {
      if (sentKey !== current || session.value.phase === "locked") return;
      if (sentKey) forget();
      lock(sentKey ? "refused" : "missing");
    },
    signOut() {
      forget();
      lock("signed_out");
    },
  };
}

function storage(name: "localStorage" | "sessionStorage"): KeyStore | undefined {
  try {
    return "document" in globalThis ? globalThis[name] ?? undefined : undefined;
  } catch {
    return undefined;
  }
}

/** The browser's stores (none outside a browser, e.g. in unit tests). */
export function browserKeyStores(): KeyStores {
  return { local: storage("localStorage"), session: storage("sessionStorage") };
}

/** The key prompt was closed (Esc) while a key is still needed; the header offers it again. */
export const keyPromptDismissed = signal(false);

/** What the prompt says about why it opened (null when it opened for a first key). */
export function lockMessage(reason: LockReason | null): string | null {
  if (reason === "refused") return `The key in use was refused. ${INVALID_KEY_MESSAGE}.`;
  if (reason === "signed_out") return "Signed out: the key was forgotten on this device.";
  return null;
}
