import assert from "node:assert/strict";
import { join } from "node:path";
import { acquireDataLock, LOCK_FILE } from "./data_lock.ts";

const MODULE = new URL("./data_lock.ts", import.meta.url).href;
/** Exit code of the helper process when the lock is refused (any other failure exits 1). */
const REFUSED = 3;

/** A second Deno process that tries to take the lock on `dir` and exits with 0 or REFUSED. */
async function tryInOtherProcess(dir: string): Promise<{ code: number; stderr: string }> {
  const script = `
    import { acquireDataLock } from ${JSON.stringify(MODULE)};
    try {
      await acquireDataLock(${JSON.stringify(dir)});
    } catch (err) {
      console.error(err.message);
      Deno.exit(/already using/.test(err.message) ? ${REFUSED} : 1);
    }`;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--no-config", script],
    env: { RUST_BACKTRACE: "0", NO_COLOR: "1" },
    stdout: "null",
    stderr: "piped",
  }).output();
  return { code: out.code, stderr: new TextDecoder().decode(out.stderr) };
}

/** A Deno process that takes the lock on `dir`, says so, and holds it until killed. */
async function holdInOtherProcess(dir: string): Promise<Deno.ChildProcess> {
  const script = `
    import { acquireDataLock } from ${JSON.stringify(MODULE)};
    await acquireDataLock(${JSON.stringify(dir)});
    console.log("locked");
    setInterval(() => {}, 60_000);`;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["eval", "--no-config", script],
    env: { RUST_BACKTRACE: "0", NO_COLOR: "1" },
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let seen = "";
  while (!seen.includes("locked")) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`Lock holder exited early: ${seen}`);
    seen += value;
  }
  await reader.cancel();
  return child;
}

Deno.test("data lock: a second process is refused while held, and admitted after release", async () => {
  const root = await Deno.makeTempDir();
  const dir = join(root, "data", "nested"); // created on demand
  try {
    const lock = await acquireDataLock(dir);
    assert.equal((await Deno.readTextFile(join(dir, LOCK_FILE))).trim(), String(Deno.pid));

    const refused = await tryInOtherProcess(dir);
    assert.equal(refused.code, REFUSED, refused.stderr);
    assert.match(refused.stderr, new RegExp(`already using .*nested \\(pid ${Deno.pid}\\)`));
    assert.match(refused.stderr, /set DATA_DIR to another folder/);

    await lock.release();
    await lock.release(); // idempotent
    const admitted = await tryInOtherProcess(dir);
    assert.equal(admitted.code, 0, admitted.stderr);
    // The helper exited without releasing: the OS dropped its lock, so we can take it again.
    await (await acquireDataLock(dir)).release();
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("data lock: a killed holder's lock is released by the OS", async () => {
  const dir = await Deno.makeTempDir();
  const holder = await holdInOtherProcess(dir);
  try {
    await assert.rejects(
      acquireDataLock(dir),
      (err: Error) => {
        assert.equal(
          err.message,
          `Another Darkroom is already using ${dir} (pid ${holder.pid}); ` +
            `stop it first or set DATA_DIR to another folder`,
        );
        return true;
      },
    );
    holder.kill("SIGKILL");
    await holder.status;
    const lock = await acquireDataLock(dir);
    assert.equal((await Deno.readTextFile(join(dir, LOCK_FILE))).trim(), String(Deno.pid));
    await lock.release();
  } finally {
    try {
      holder.kill("SIGKILL");
    } catch {
      // already exited
    }
    await holder.status;
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("data lock: a second acquire in the same process is refused too", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const lock = await acquireDataLock(dir);
    await assert.rejects(acquireDataLock(dir), /already using .* \(pid \d+\)/);
    await lock.release();
    await (await acquireDataLock(dir)).release();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
