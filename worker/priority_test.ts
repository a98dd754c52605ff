/**
 * The worker's CPU priority: a real worker process takes WORKER_NICE at start and still runs
 * jobs; WORKER_NICE=0 leaves the priority it was started with; a worker started nicer than
 * WORKER_NICE is never made less nice. Read from /proc, not from the worker's own word.
 */
import assert from "node:assert/strict";
import { getPriority } from "node:os";
import { startService, startStack } from "../shared/testing/processes.ts";
import { waitFor } from "../shared/testing/queue_contract.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

/** The niceness of a process's main thread, field 19 of /proc/<pid>/stat. */
async function niceOf(pid: number): Promise<number> {
  const stat = await Deno.readTextFile(`/proc/${pid}/stat`);
  return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[16]);
}

Deno.test({
  name: "priority: the worker takes WORKER_NICE at start and still completes jobs",
  ignore: Deno.build.os !== "linux",
  ...opts,
  fn: async () => {
    const t = await startStack(50);
    const worker = await startService("worker", { ...t.env, WORKER_NICE: "7" });
    const plain = await startService("worker", { ...t.env, WORKER_NICE: "0", WORKER_PORT: "0" });
    try {
      const lowered = () => worker.output().split("\n").find((l) => l.includes("priority lowered"));
      await waitFor(() => lowered() !== undefined, 15_000, "the worker's priority line");
      assert.equal(await niceOf(worker.child.pid), 7);
      const { nice, was } = JSON.parse(lowered()!);
      assert.deepEqual([nice, was], [7, getPriority()]);
      // Both workers take jobs; the one at 0 kept the priority it was started with.
      const ids = await Promise.all(Array.from({ length: 6 }, (_, i) => t.submit(`nice ${i}`)));
      for (const id of ids) {
        assert.equal((await t.waitStatus(id, ["completed"])).status, "completed");
      }
      assert.equal(await niceOf(plain.child.pid), getPriority());
      assert.doesNotMatch(plain.output(), /priority lowered/);
    } finally {
      await plain.stop();
      await worker.stop();
      await t.cleanup();
    }
  },
});

Deno.test({
  name: "priority: a process already nicer than asked stays as nice",
  ignore: Deno.build.os !== "linux",
  ...opts,
  fn: async () => {
    const module = new URL("./priority.ts", import.meta.url).href;
    const logger = new URL("../shared/logger.ts", import.meta.url).href;
    const script = `
      import { lowerPriority } from ${JSON.stringify(module)};
      import { createLogger } from ${JSON.stringify(logger)};
      const lines = [];
      const log = createLogger({ write: (line) => lines.push(JSON.parse(line).msg) });
      console.log(JSON.stringify([lowerPriority(5, log), lowerPriority(15, log), lines]));
    `;
    const out = await new Deno.Command("nice", {
      args: ["-n", "12", Deno.execPath(), "eval", script],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(out.stdout);
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    assert.deepEqual(JSON.parse(text), [12, 15, ["worker priority lowered"]]);
  },
});
