import assert from "node:assert/strict";
import { ApiError, type MeJson } from "../api_client.ts";
import {
  clearStoredKey,
  createAuth,
  INVALID_KEY_MESSAGE,
  KEY_STORAGE_KEY,
  type KeyStore,
  lockMessage,
  readStoredKey,
  storeKey,
} from "./auth.ts";

function memoryStore(): KeyStore & { data: Map<string, string> } {
  const data = new Map<string, string>();
  return {
    data,
    getItem: (k) => data.get(k) ?? null,
    setItem: (k, v) => void data.set(k, v),
    removeItem: (k) => void data.delete(k),
  };
}

function stores() {
  return { local: memoryStore(), session: memoryStore() };
}

const GOOD = "dr_goodgoodgoodgoodgoodgoodgoodgood";
const OPEN: MeJson = { auth_required: false, authenticated: true, key: null };
const NEEDED: MeJson = { auth_required: true, authenticated: false, key: null };
const SIGNED: MeJson = {
  auth_required: true,
  authenticated: true,
  key: { name: "laptop", prefix: "dr_good", admin: false },
};
const refused = () => new ApiError(401, "unauthorized", "The API key is not valid");

/** A fake GET /me: GOOD is a valid key, any other key is refused, no key gets `anonymous`. */
function fakeMe(anonymous: MeJson = NEEDED) {
  const sent: (string | null)[] = [];
  const me = (key: string | null) => {
    sent.push(key);
    if (key === null) return Promise.resolve(anonymous);
    return key === GOOD ? Promise.resolve(SIGNED) : Promise.reject(refused());
  };
  return { me, sent };
}

Deno.test("key storage: remembered in localStorage, else sessionStorage; never both", () => {
  const s = stores();
  assert.equal(readStoredKey(s), null);
  storeKey(s, "dr_a", true);
  assert.deepEqual(readStoredKey(s), { key: "dr_a", remember: true });
  assert.equal(s.local.data.get(KEY_STORAGE_KEY), "dr_a");
  storeKey(s, "dr_b", false);
  assert.deepEqual(readStoredKey(s), { key: "dr_b", remember: false });
  assert.equal(s.local.data.has(KEY_STORAGE_KEY), false, "moved out of localStorage");
  // This tab's key wins over one remembered by another tab.
  s.local.data.set(KEY_STORAGE_KEY, "dr_other");
  assert.equal(readStoredKey(s)?.key, "dr_b");
  clearStoredKey(s);
  assert.equal(s.local.data.size + s.session.data.size, 0);
  // Blank entries do not count; broken or missing storage is tolerated.
  s.session.data.set(KEY_STORAGE_KEY, "  ");
  assert.equal(readStoredKey(s), null);
  const broken: KeyStore = {
    getItem: () => {
      throw new Error("SecurityError");
    },
    setItem: () => {
      throw new Error("QuotaExceededError");
    },
    removeItem: () => {
      throw new Error("SecurityError");
    },
  };
  assert.equal(readStoredKey({ local: broken, session: broken }), null);
  storeKey({ local: broken, session: broken }, "dr_a", true);
  clearStoredKey({ local: broken });
  assert.equal(readStoredKey({}), null);
});

Deno.test("check: an open API is ready at once, with no key and no prompt", async () => {
  const { me, sent } = fakeMe(OPEN);
  const auth = createAuth({ stores: stores(), me });
  assert.equal(auth.session.value.phase, "checking");
  await auth.check();
  assert.deepEqual(sent, [null]);
  assert.equal(auth.session.value.phase, "ready");
  assert.equal(auth.session.value.required, false);
  assert.equal(auth.session.value.key, null);
  assert.equal(auth.key(), null);
});

Deno.test("check: no key where one is needed opens the prompt", async () => {
  const auth = createAuth({ stores: stores(), me: fakeMe().me });
  await auth.check();
  assert.equal(auth.session.value.phase, "locked");
  assert.equal(auth.session.value.reason, "missing");
  assert.equal(lockMessage(auth.session.value.reason), null);
});

Deno.test("check: a stored key is sent and its name shown; a refused one is forgotten", async () => {
  const s = stores();
  storeKey(s, GOOD, true);
  const ok = fakeMe();
  const auth = createAuth({ stores: s, me: ok.me });
  assert.equal(auth.key(), GOOD);
  assert.equal(auth.session.value.remember, true);
  await auth.check();
  assert.deepEqual(ok.sent, [GOOD]);
  assert.equal(auth.session.value.phase, "ready");
  assert.deepEqual(auth.session.value.key, SIGNED.key);

  storeKey(s, "dr_revoked", false);
  const revoked = createAuth({ stores: s, me: fakeMe().me });
  await revoked.check();
  assert.equal(revoked.session.value.phase, "locked");
  assert.equal(revoked.session.value.reason, "refused");
  assert.equal(revoked.key(), null);
  assert.equal(readStoredKey(s), null, "the refused key is no longer stored");
  assert.match(lockMessage("refused")!, new RegExp(INVALID_KEY_MESSAGE));
});

Deno.test("check: an unreachable server (or an API without /me) does not block the page", async () => {
  for (const error of [new ApiError(0, "network", "down"), new ApiError(404, "not_found", "x")]) {
    const s = stores();
    storeKey(s, GOOD, false);
    const auth = createAuth({ stores: s, me: () => Promise.reject(error) });
    await auth.check();
    assert.equal(auth.session.value.phase, "ready", error.code);
    assert.equal(auth.key(), GOOD, "the key is kept");
  }
});

Deno.test("submit: a refused key is not kept; an accepted one is stored as asked", async () => {
  const s = stores();
  const { me, sent } = fakeMe();
  const auth = createAuth({ stores: s, me });
  await auth.check();
  const epoch = auth.session.value.epoch;

  assert.equal(await auth.submit("   ", true), "Paste the key first");
  assert.equal(await auth.submit("dr_wrong", true), INVALID_KEY_MESSAGE);
  assert.equal(auth.session.value.phase, "locked");
  assert.equal(auth.key(), null);
  assert.equal(readStoredKey(s), null);

  assert.equal(await auth.submit(` ${GOOD}\n`, false), null);
  assert.deepEqual(sent, [null, "dr_wrong", GOOD], "checked with /me, trimmed");
  assert.equal(auth.session.value.phase, "ready");
  assert.equal(auth.session.value.key?.name, "laptop");
  assert.equal(auth.key(), GOOD);
  assert.ok(auth.session.value.epoch > epoch);
  assert.equal(s.session.data.get(KEY_STORAGE_KEY), GOOD);
  assert.equal(s.local.data.size, 0, "not remembered unless asked");

  assert.equal(await auth.submit(GOOD, true), null);
  assert.equal(s.local.data.get(KEY_STORAGE_KEY), GOOD);
  assert.equal(s.session.data.size, 0);
  assert.equal(auth.session.value.remember, true);

  const down = createAuth({
    stores: stores(),
    me: () => Promise.reject(new ApiError(0, "network", "Cannot reach the server")),
  });
  assert.match((await down.submit(GOOD, false))!, /^Cannot check the key: Cannot reach/);
});

Deno.test("a 401 later (key revoked) reopens the prompt; one for a replaced key does not", async () => {
  const s = stores();
  storeKey(s, GOOD, true);
  const auth = createAuth({ stores: s, me: fakeMe().me });
  await auth.check();
  assert.equal(auth.session.value.phase, "ready");

  auth.unauthorized("dr_some_older_key");
  assert.equal(auth.session.value.phase, "ready", "an answer to an older key is ignored");

  auth.unauthorized(GOOD);
  assert.equal(auth.session.value.phase, "locked");
  assert.equal(auth.session.value.reason, "refused");
  assert.equal(auth.session.value.remember, true, "the prompt offers the same choice again");
  assert.equal(auth.key(), null);
  assert.equal(readStoredKey(s), null);
  const epoch = auth.session.value.epoch;
  auth.unauthorized(null);
  assert.equal(auth.session.value.epoch, epoch, "already locked: nothing changes");

  // Sign in again, then sign out: the key is forgotten everywhere.
  assert.equal(await auth.submit(GOOD, true), null);
  auth.signOut();
  assert.equal(auth.session.value.phase, "locked");
  assert.equal(auth.session.value.reason, "signed_out");
  assert.equal(auth.key(), null);
  assert.equal(s.local.data.size + s.session.data.size, 0);
});

Deno.test("a stale /me answer does not undo a key entered meanwhile", async () => {
  let answer!: (me: MeJson) => void;
  const auth = createAuth({
    stores: stores(),
    me: (key) => key === null ? new Promise<MeJson>((r) => answer = r) : Promise.resolve(SIGNED),
  });
  const checking = auth.check();
  assert.equal(await auth.submit(GOOD, false), null);
  answer(NEEDED);
  await checking;
  assert.equal(auth.session.value.phase, "ready");
  assert.equal(auth.key(), GOOD);
});
