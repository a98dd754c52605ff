import assert from "node:assert/strict";
import {
  decodeWebhookSecret,
  generateWebhookSecret,
  signWebhook,
  verifyWebhook,
  webhookHeaders,
  WebhookVerificationError,
  type WebhookVerificationReason,
} from "./signature.ts";

const NOW = 1_700_000_000;
const SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const BODY = '{"id":"pred-1","status":"processing","logs":"40%|████      | 8/20 ["}';

/** HMAC-SHA256 computed here with crypto.subtle alone, independently of the module. */
async function referenceSignature(
  secret: string,
  id: string,
  timestamp: number,
  body: string,
): Promise<string> {
  const keyBytes = Uint8Array.from(atob(secret.slice("whsec_".length)), (c) => c.charCodeAt(0));
  const key = await crypto.subtle.importKey(
    "raw",
    keyBytes,
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  const mac = await crypto.subtle.sign(
    "HMAC",
    key,
    new TextEncoder().encode(`${id}.${timestamp}.${body}`),
  );
  return `v1,${btoa(String.fromCharCode(...new Uint8Array(mac)))}`;
}

async function assertRefused(
  promise: Promise<void>,
  reason: WebhookVerificationReason,
): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof WebhookVerificationError, `expected a WebhookVerificationError`);
    assert.equal(err.reason, reason);
    return true;
  });
}

Deno.test("signWebhook matches the Standard Webhooks example", async () => {
  // The example message of the Standard Webhooks / Svix documentation.
  const signature = await signWebhook(
    SECRET,
    "msg_p5jXN8AQM9LWM0D4loKWxJek",
    1614265330,
    '{"test": 2432232314}',
  );
  assert.equal(signature, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
});

Deno.test("signWebhook matches an HMAC computed independently", async () => {
  const expected = await referenceSignature(SECRET, "msg_1", NOW, BODY);
  assert.equal(await signWebhook(SECRET, "msg_1", NOW, BODY), expected);
  assert.match(expected, /^v1,[A-Za-z0-9+/]{43}=$/);
  const bytes = new TextEncoder().encode(BODY);
  assert.equal(await signWebhook(SECRET, "msg_1", NOW, bytes), expected, "bytes sign the same");
});

Deno.test("verifyWebhook accepts what webhookHeaders signs (object and Headers)", async () => {
  const secret = generateWebhookSecret();
  const h = await webhookHeaders(secret, BODY, { id: "msg_rt", timestamp: NOW });
  assert.equal(h["webhook-id"], "msg_rt");
  assert.equal(h["webhook-timestamp"], String(NOW));
  await verifyWebhook(secret, new Headers({ ...h }), BODY, { now: NOW });
  await verifyWebhook(
    secret,
    { id: h["webhook-id"], timestamp: NOW, signature: h["webhook-signature"] },
    BODY,
    { now: NOW + 299 },
  );
  // Defaults: a fresh id and the current time.
  const fresh = await webhookHeaders(secret, BODY);
  assert.match(fresh["webhook-id"], /^msg_[0-9a-f]{32}$/);
  await verifyWebhook(secret, new Headers({ ...fresh }), BODY);
});

Deno.test("generateWebhookSecret: whsec_ and 32 random bytes", () => {
  const a = generateWebhookSecret();
  const b = generateWebhookSecret();
  assert.match(a, /^whsec_[A-Za-z0-9+/]{43}=$/);
  assert.equal(decodeWebhookSecret(a).length, 32);
  assert.notEqual(a, b);
  assert.throws(() => decodeWebhookSecret("whsec_"), TypeError);
  assert.throws(() => decodeWebhookSecret("whsec_not base64!"), TypeError);
});

Deno.test("verifyWebhook refuses a forged signature", async () => {
  const forged = `v1,${btoa("x".repeat(32))}`;
  await assertRefused(
    verifyWebhook(SECRET, { id: "msg_1", timestamp: NOW, signature: forged }, BODY, { now: NOW }),
    "bad_signature",
  );
  // Not base64, a wrong version, or a truncated MAC are no better.
  const good = await signWebhook(SECRET, "msg_1", NOW, BODY);
  for (const signature of ["v1,!!!", `v2,${good.slice(3)}`, good.slice(0, -8), good.slice(3)]) {
    await assertRefused(
      verifyWebhook(SECRET, { id: "msg_1", timestamp: NOW, signature }, BODY, { now: NOW }),
      "bad_signature",
    );
  }
});

Deno.test("verifyWebhook refuses a signature made with another secret", async () => {
  const h = await webhookHeaders(generateWebhookSecret(), BODY, { id: "msg_1", timestamp: NOW });
  await assertRefused(
    verifyWebhook(SECRET, new Headers({ ...h }), BODY, { now: NOW }),
    "bad_signature",
  );
});

Deno.test("verifyWebhook refuses timestamps more than the tolerance away", async () => {
  for (const timestamp of [NOW - 301, NOW - 600, NOW + 301]) {
    const h = await webhookHeaders(SECRET, BODY, { id: "msg_1", timestamp });
    await assertRefused(
      verifyWebhook(SECRET, new Headers({ ...h }), BODY, { now: NOW }),
      "expired",
    );
  }
  const h = await webhookHeaders(SECRET, BODY, { id: "msg_1", timestamp: NOW - 60 });
  await assertRefused(
    verifyWebhook(SECRET, new Headers({ ...h }), BODY, { now: NOW, toleranceS: 30 }),
    "expired",
  );
  await verifyWebhook(SECRET, new Headers({ ...h }), BODY, { now: NOW, toleranceS: 60 });
});

Deno.test("verifyWebhook refuses a timestamp that is not whole seconds", async () => {
  const signature = await signWebhook(SECRET, "msg_1", NOW, BODY);
  for (const timestamp of ["abc", "1.7e9", "-1", `${NOW}.5`, "0x10"]) {
    await assertRefused(
      verifyWebhook(SECRET, { id: "msg_1", timestamp, signature }, BODY, { now: NOW }),
      "bad_timestamp",
    );
  }
});

Deno.test("verifyWebhook refuses missing headers", async () => {
  const h = await webhookHeaders(SECRET, BODY, { id: "msg_1", timestamp: NOW });
  for (const name of ["webhook-id", "webhook-timestamp", "webhook-signature"]) {
    const headers = new Headers({ ...h });
    headers.delete(name);
    await assertRefused(verifyWebhook(SECRET, headers, BODY, { now: NOW }), "missing_headers");
  }
  await assertRefused(verifyWebhook(SECRET, new Headers(), BODY, { now: NOW }), "missing_headers");
  await assertRefused(
    verifyWebhook(SECRET, { id: "msg_1", timestamp: NOW, signature: " " }, BODY, { now: NOW }),
    "missing_headers",
  );
});

Deno.test("verifyWebhook accepts a header with several signatures when one is valid", async () => {
  const good = await signWebhook(SECRET, "msg_1", NOW, BODY);
  const other = await signWebhook(generateWebhookSecret(), "msg_1", NOW, BODY);
  for (const signature of [`${other} ${good}`, `${good} ${other}`, `v1a,xyz ${other} ${good}`]) {
    await verifyWebhook(SECRET, { id: "msg_1", timestamp: NOW, signature }, BODY, { now: NOW });
  }
  await assertRefused(
    verifyWebhook(SECRET, { id: "msg_1", timestamp: NOW, signature: `${other} ${other}` }, BODY, {
      now: NOW,
    }),
    "bad_signature",
  );
});

Deno.test("verifyWebhook refuses a body, id or timestamp changed after signing", async () => {
  const signature = await signWebhook(SECRET, "msg_1", NOW, BODY);
  const bytes = new TextEncoder().encode(BODY);
  for (let i = 0; i < bytes.length; i += 7) {
    const changed = bytes.slice();
    changed[i] ^= 0x01;
    await assertRefused(
      verifyWebhook(SECRET, { id: "msg_1", timestamp: NOW, signature }, changed, { now: NOW }),
      "bad_signature",
    );
  }
  await assertRefused(
    verifyWebhook(SECRET, { id: "msg_1", timestamp: NOW, signature }, BODY + " ", { now: NOW }),
    "bad_signature",
  );
  await assertRefused(
    verifyWebhook(SECRET, { id: "msg_2", timestamp: NOW, signature }, BODY, { now: NOW }),
    "bad_signature",
  );
  await assertRefused(
    verifyWebhook(SECRET, { id: "msg_1", timestamp: NOW + 1, signature }, BODY, { now: NOW }),
    "bad_signature",
  );
  await verifyWebhook(SECRET, { id: "msg_1", timestamp: NOW, signature }, bytes, { now: NOW });
});
