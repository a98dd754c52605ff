import assert from "node:assert/strict";
import { createFalVerifier, JwksUnavailableError } from "./fal_signature.ts";
import { WebhookVerificationError } from "./signature.ts";

async function keyPair() {
  const keys = await crypto.subtle.generateKey("Ed25519", true, [
    "sign",
    "verify",
  ]) as CryptoKeyPair;
  const jwk = await crypto.subtle.exportKey("jwk", keys.publicKey);
  return { keys, jwk: { kty: "OKP", crv: "Ed25519", x: jwk.x } };
}

function hex(buffer: ArrayBuffer): string {
  return Array.from(new Uint8Array(buffer), (b) => b.toString(16).padStart(2, "0")).join("");
}

async function signed(privateKey: CryptoKey, body: string, timestamp: number) {
  const digest = hex(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(body)));
  const message = new TextEncoder().encode(`req-1\nuser-1\n${timestamp}\n${digest}`);
  return new Headers({
    "x-fal-webhook-request-id": "req-1",
    "x-fal-webhook-user-id": "user-1",
    "x-fal-webhook-timestamp": String(timestamp),
    "x-fal-webhook-signature": hex(await crypto.subtle.sign("Ed25519", privateKey, message)),
  });
}

Deno.test("fal signatures: keys are cached, and fetched again once when fal rotates them", async () => {
  const a = await keyPair();
  const b = await keyPair();
  let served = [a.jwk];
  let fetches = 0;
  let t = 1_700_000_000_000;
  const verifier = createFalVerifier({
    jwksUrl: "https://keys.example/jwks.json",
    now: () => t,
    fetch: () => {
      fetches++;
      return Promise.resolve(Response.json({ keys: served }));
    },
  });
  const body = '{"request_id":"req-1","status":"OK"}';
  const now = () => Math.floor(t / 1000);
  const bytes = new TextEncoder().encode(body);
  assert.deepEqual(await verifier.verify(await signed(a.keys.privateKey, body, now()), bytes), {
    requestId: "req-1",
    userId: "user-1",
  });
  await verifier.verify(await signed(a.keys.privateKey, body, now()), bytes);
  assert.equal(fetches, 1, "cached");
  // fal rotates to key b. A fresh cache is not fetched again at once (no fetch storm from forgeries).
  served = [b.jwk];
  await assert.rejects(
    async () => verifier.verify(await signed(b.keys.privateKey, body, now()), bytes),
    (err) => err instanceof WebhookVerificationError && err.reason === "bad_signature",
  );
  assert.equal(fetches, 1);
  t += 6 * 60_000;
  await verifier.verify(await signed(b.keys.privateKey, body, now()), bytes);
  assert.equal(fetches, 2);
  // A day later the set is read again anyway.
  t += 24 * 3600_000;
  await verifier.verify(await signed(b.keys.privateKey, body, now()), bytes);
  assert.equal(fetches, 3);
});

Deno.test("fal signatures: timestamps both ways, and a key set that cannot be read", async () => {
  const a = await keyPair();
  const verifier = createFalVerifier({
    jwksUrl: "https://keys.example/jwks.json",
    fetch: () => Promise.resolve(Response.json({ keys: [a.jwk] })),
  });
  const body = "{}";
  const bytes = new TextEncoder().encode(body);
  const now = Math.floor(Date.now() / 1000);
  for (const at of [now - 301, now + 301]) {
    await assert.rejects(
      async () => verifier.verify(await signed(a.keys.privateKey, body, at), bytes),
      (err) => err instanceof WebhookVerificationError && err.reason === "expired",
    );
  }
  await verifier.verify(await signed(a.keys.privateKey, body, now - 299), bytes);
  const down = createFalVerifier({
    jwksUrl: "https://keys.example/jwks.json",
    fetch: () => Promise.resolve(new Response("nope", { status: 502 })),
  });
  await assert.rejects(
    async () => down.verify(await signed(a.keys.privateKey, body, now), bytes),
    JwksUnavailableError,
  );
  const rsaOnly = createFalVerifier({
    jwksUrl: "https://keys.example/jwks.json",
    fetch: () => Promise.resolve(Response.json({ keys: [{ kty: "RSA", n: "x", e: "AQAB" }] })),
  });
  await assert.rejects(
    async () => rsaOnly.verify(await signed(a.keys.privateKey, body, now), bytes),
    JwksUnavailableError,
  );
});
