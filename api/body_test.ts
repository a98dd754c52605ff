/**
 * A request whose body never finishes is answered 408 at its deadline (BODY_TIMEOUT_S): a chunked
 * body announcing a huge chunk then going quiet, and a Content-Length the client never reaches.
 * Over a real socket, as a slow client would send it.
 */
import assert from "node:assert/strict";
import { createTestDeps } from "../shared/testing/app_deps.ts";
import { createApp } from "./app.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };
const DEADLINE_S = 1;

/** Sends `head` (and nothing more), then reads until the answer's status line arrives. */
async function stalled(port: number, head: string): Promise<{ ms: number; text: string }> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await conn.write(new TextEncoder().encode(head));
    const started = performance.now();
    const buf = new Uint8Array(4096);
    let text = "";
    const until = started + 10_000;
    while (!text.includes("\r\n\r\n") && performance.now() < until) {
      const n = await conn.read(buf);
      if (n === null) break;
      text += new TextDecoder().decode(buf.subarray(0, n));
    }
    return { ms: performance.now() - started, text };
  } finally {
    conn.close();
  }
}

Deno.test({
  name: "body deadline: a body that never finishes is answered 408 within BODY_TIMEOUT_S",
  ...opts,
  fn: async () => {
    const deps = await createTestDeps();
    const app = createApp({ ...deps, config: { ...deps.config, BODY_TIMEOUT_S: DEADLINE_S } });
    const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, app.fetch);
    const port = (server.addr as Deno.NetAddr).port;
    try {
      const heads = {
        chunked: "POST /api/v1/generate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" +
          'Transfer-Encoding: chunked\r\n\r\nffffff\r\n{"prompt": "a',
        length: "POST /api/v1/generate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" +
          'Content-Length: 60000\r\n\r\n{"prompt": "a',
      };
      for (const [kind, head] of Object.entries(heads)) {
        const { ms, text } = await stalled(port, head);
        console.log(`${kind}: ${text.split("\r\n")[0]} after ${Math.round(ms)} ms`);
        assert.match(text, /^HTTP\/1\.1 408 /, `${kind}: ${text}`);
        assert.match(text, /connection: close/i);
        assert.ok(ms >= DEADLINE_S * 1000 - 50, `${kind}: answered too early (${ms} ms)`);
        assert.ok(ms < DEADLINE_S * 1000 + 1000, `${kind}: answered after ${ms} ms`);
      }
      // A body that arrives in time is not affected.
      const ok = await fetch(`http://127.0.0.1:${port}/api/v1/generate`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ prompt: "on time", model: "local/abstract" }),
      });
      assert.equal(ok.status, 202);
      await ok.body?.cancel();
    } finally {
      await server.shutdown();
      await deps.cleanup();
    }
  },
});
