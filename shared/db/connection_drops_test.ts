import assert from "node:assert/strict";
import { isConnectionError } from "./connection_drops.ts";

const GUARD = new URL("./connection_drops.ts", import.meta.url).href;
const LOGGER = new URL("../logger.ts", import.meta.url).href;

/** Runs a script that installs the guard and then leaves `reason` unhandled. */
async function runWith(reason: string): Promise<{ code: number; output: string }> {
  const script = `
    import { survivesConnectionDrops } from ${JSON.stringify(GUARD)};
    import { createLogger } from ${JSON.stringify(LOGGER)};
    survivesConnectionDrops(createLogger({ level: "warn" }));
    Promise.reject(${reason});
    await new Promise((r) => setTimeout(r, 50));
    console.log("still running");
  `;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--no-check", script],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder();
  return { code: out.code, output: text.decode(out.stdout) + text.decode(out.stderr) };
}

Deno.test("connection drops: a library's unhandled ECONNRESET is logged, not fatal", async () => {
  const { code, output } = await runWith(
    `Object.assign(new Error("read ECONNRESET"), { code: "ECONNRESET" })`,
  );
  assert.equal(code, 0, output);
  assert.match(output, /still running/);
  assert.match(output, /dropped connection/);
  assert.match(output, /ECONNRESET/);
});

Deno.test("connection drops: any other unhandled rejection still ends the process", async () => {
  const { code, output } = await runWith(`new TypeError("a bug")`);
  assert.notEqual(code, 0);
  assert.doesNotMatch(output, /still running/);
  assert.match(output, /a bug/);
});

Deno.test("connection drops: which errors count", () => {
  for (const code of ["ECONNRESET", "ECONNREFUSED", "EPIPE", "CONNECTION_CLOSED"]) {
    assert.ok(isConnectionError(Object.assign(new Error(code), { code })), code);
  }
  assert.ok(!isConnectionError(new Error("ECONNRESET")), "the code decides, not the message");
  assert.ok(!isConnectionError(Object.assign(new Error("x"), { code: "23505" })));
  assert.ok(!isConnectionError(null));
  assert.ok(!isConnectionError("ECONNRESET"));
});
