import assert from "node:assert/strict";
import { decode } from "fast-png";
import { PredictionNotFoundError, ProviderError } from "../errors.ts";
import { createLocalProvider, isLocalModel, LOCAL_STYLES } from "./local.ts";
import { hashString } from "./local_render.ts";
import type { PredictionInput, Provider } from "./provider.ts";

/** A provider on a hand-driven clock. */
function setup(stepMs: number, extra: { maxAgeMs?: number; maxPredictions?: number } = {}) {
  const clock = { t: 1_000_000 };
  const provider = createLocalProvider({ stepMs, now: () => clock.t, ...extra });
  return { provider, clock };
}

function input(
  parameters: Record<string, unknown> = {},
  model = "local/abstract",
): PredictionInput {
  return { model, prompt: "a red fox in the snow", negative_prompt: null, parameters };
}

async function openPng(provider: Provider, ref: string) {
  const response = await provider.openOutput(ref);
  assert.equal(response.status, 200);
  assert.equal(response.headers.get("content-type"), "image/png");
  const bytes = new Uint8Array(await response.arrayBuffer());
  assert.equal(response.headers.get("content-length"), String(bytes.byteLength));
  return bytes;
}

function isNotRetryable(pattern: RegExp) {
  return (err: unknown) => {
    assert.ok(err instanceof ProviderError, `expected a ProviderError, got ${err}`);
    assert.equal(err.retryable, false);
    assert.match(err.message, pattern);
    return true;
  };
}

function lines(logs: string): string[] {
  assert.ok(logs.endsWith("\n"), "logs end with a newline");
  return logs.slice(0, -1).split("\n");
}

Deno.test("create starts a prediction; steps advance with the clock to succeeded", async () => {
  const { provider, clock } = setup(50);
  assert.equal(provider.name, "local");
  const created = await provider.create(input({ seed: 42, num_inference_steps: 20 }));
  assert.match(created.id, /^[0-9a-f]{32}$/);
  assert.deepEqual(created, {
    id: created.id,
    status: "starting",
    output: [],
    logs: "",
    error: null,
  });

  assert.equal((await provider.get(created.id)).status, "starting");

  clock.t += 1;
  const first = await provider.get(created.id);
  assert.equal(first.status, "processing");
  assert.equal(first.logs, "Using seed: 42\n  0%|          | 0/20 [00:00<?, ?it/s]\n");

  clock.t += 399; // 400 ms: 8 of 20 steps
  const mid = await provider.get(created.id);
  assert.equal(mid.status, "processing");
  assert.deepEqual(mid.output, []);
  const midLines = lines(mid.logs);
  assert.equal(midLines.length, 2 + 8);
  assert.equal(midLines[0], "Using seed: 42");
  assert.equal(midLines[2], "  5%|▌         | 1/20 [00:00<00:00, 20.00it/s]");
  assert.equal(midLines[9], " 40%|████      | 8/20 [00:00<00:00, 20.00it/s]");

  clock.t += 599; // one ms short of 20 steps
  const almost = await provider.get(created.id);
  assert.equal(almost.status, "processing");
  assert.equal(lines(almost.logs).at(-1), " 95%|█████████▌| 19/20 [00:00<00:00, 20.00it/s]");

  clock.t += 1;
  const done = await provider.get(created.id);
  assert.equal(done.status, "succeeded");
  assert.deepEqual(done.output, [`local://${created.id}/0`]);
  assert.equal(done.error, null);
  assert.equal(done.runMs, 1000, "20 steps of 50 ms");
  assert.equal(almost.runMs, undefined);
  const doneLines = lines(done.logs);
  assert.equal(doneLines.length, 2 + 20);
  assert.equal(doneLines.at(-1), "100%|██████████| 20/20 [00:01<00:00, 20.00it/s]");
});

Deno.test("tqdm lines match diffusers' format for fast and slow steps", async () => {
  const fast = setup(62.5);
  const a = await fast.provider.create(input({ seed: 1 }));
  fast.clock.t += 8 * 62.5;
  assert.equal(
    lines((await fast.provider.get(a.id)).logs).at(-1),
    " 40%|████      | 8/20 [00:00<00:00, 16.00it/s]",
  );

  const slow = setup(1500);
  const b = await slow.provider.create(input({ seed: 1, num_inference_steps: 3 }));
  slow.clock.t += 1500;
  assert.equal(
    lines((await slow.provider.get(b.id)).logs).at(-1),
    " 33%|███▎      | 1/3 [00:01<00:03,  1.50s/it]",
  );

  const long = setup(10_000);
  const c = await long.provider.create(input({ seed: 1, num_inference_steps: 100 }));
  long.clock.t += 99 * 10_000;
  assert.equal(
    lines((await long.provider.get(c.id)).logs).at(-1),
    " 99%|█████████▉| 99/100 [16:30<00:10, 10.00s/it]",
  );
  long.clock.t += 10_000;
  assert.equal(
    lines((await long.provider.get(c.id)).logs).at(-1),
    "100%|██████████| 100/100 [16:40<00:00, 10.00s/it]",
  );
});

Deno.test("with stepMs 0 a prediction succeeds on the first get", async () => {
  const { provider } = setup(0);
  const created = await provider.create(input({ seed: 7, num_inference_steps: 4 }));
  assert.equal(created.status, "starting");
  const done = await provider.get(created.id);
  assert.equal(done.status, "succeeded");
  assert.deepEqual(lines(done.logs), [
    "Using seed: 7",
    "  0%|          | 0/4 [00:00<?, ?it/s]",
    " 25%|██▌       | 1/4 [00:00<?, ?it/s]",
    " 50%|█████     | 2/4 [00:00<?, ?it/s]",
    " 75%|███████▌  | 3/4 [00:00<?, ?it/s]",
    "100%|██████████| 4/4 [00:00<?, ?it/s]",
  ]);
});

Deno.test("defaults: 20 steps, one 1024x1024 output, seed from the prompt's hash", async () => {
  const { provider } = setup(0);
  const a = await provider.get((await provider.create(input())).id);
  const b = await provider.get((await provider.create(input())).id);
  assert.equal(lines(a.logs)[0], `Using seed: ${hashString("a red fox in the snow")}`);
  assert.equal(lines(a.logs).at(-1)?.includes("| 20/20 ["), true);
  assert.equal(a.output.length, 1);
  const pngA = await openPng(provider, a.output[0]);
  const pngB = await openPng(provider, b.output[0]);
  const img = decode(pngA);
  assert.equal(img.width, 1024);
  assert.equal(img.height, 1024);
  assert.deepEqual(pngA, pngB, "the same prompt without a seed gives the same image");
});

Deno.test("num_outputs and num_inference_steps are used as given; out of range is refused", async () => {
  // Issue 21: a value the provider cannot honour is refused, never silently changed (the job
  // would record 250 steps while 100 ran). The API refuses them first, from the model's schema.
  const { provider } = setup(0);
  const cases: [Record<string, unknown>, number, number][] = [
    [{ num_outputs: 3 }, 3, 20],
    [{ num_outputs: 4, num_inference_steps: 100 }, 4, 100],
    [{ num_outputs: 1, num_inference_steps: 1 }, 1, 1],
  ];
  for (const [parameters, outputs, steps] of cases) {
    const done = await provider.get((await provider.create(input(parameters))).id);
    assert.equal(done.output.length, outputs, JSON.stringify(parameters));
    assert.deepEqual(done.output, done.output.map((_, i) => `local://${done.id}/${i}`));
    assert.ok(
      lines(done.logs).at(-1)?.includes(`| ${steps}/${steps} [`),
      JSON.stringify(parameters),
    );
  }
  for (
    const parameters of [
      { num_inference_steps: 250 },
      { num_inference_steps: 0 },
      { num_outputs: 9 },
      { num_outputs: 0 },
    ]
  ) {
    await assert.rejects(
      provider.create(input(parameters)),
      (err: unknown) => err instanceof ProviderError && !err.retryable,
      JSON.stringify(parameters),
    );
  }
});

Deno.test("openOutput renders each output at the requested size", async () => {
  const { provider } = setup(0);
  const tall = await provider.get(
    (await provider.create(input({ width: 512, height: 768, seed: 3 }, "local/aurora"))).id,
  );
  const img = decode(await openPng(provider, tall.output[0]));
  assert.deepEqual([img.width, img.height, img.channels, img.depth], [512, 768, 3, 8]);

  const pair = await provider.get(
    (await provider.create(input({ width: 1024, height: 1024, num_outputs: 2, seed: 3 }))).id,
  );
  assert.equal(pair.output.length, 2);
  const [first, second] = await Promise.all(pair.output.map((ref) => openPng(provider, ref)));
  for (const png of [first, second]) {
    const decoded = decode(png);
    assert.deepEqual([decoded.width, decoded.height], [1024, 1024]);
  }
  assert.notDeepEqual(first, second, "outputs of one prediction differ");
  assert.deepEqual(await openPng(provider, pair.output[1]), second, "downloads repeat exactly");
});

Deno.test("a different seed or prompt gives a different image", async () => {
  const { provider } = setup(0);
  async function png(parameters: Record<string, unknown>, prompt = "a red fox in the snow") {
    const created = await provider.create({ ...input(parameters), prompt });
    const done = await provider.get(created.id);
    return await openPng(provider, done.output[0]);
  }
  const small = { width: 128, height: 128 };
  const base = await png({ ...small, seed: 1 });
  assert.deepEqual(await png({ ...small, seed: 1 }), base);
  assert.notDeepEqual(await png({ ...small, seed: 2 }), base);
  assert.notDeepEqual(await png({ ...small, seed: 1 }, "a blue whale"), base);
});

Deno.test("cancel stops a running prediction and leaves a finished one alone", async () => {
  const { provider, clock } = setup(100);
  const running = await provider.create(input({ seed: 5 }));
  clock.t += 350;
  await provider.cancel(running.id);
  clock.t += 10_000;
  const canceled = await provider.get(running.id);
  assert.equal(canceled.status, "canceled");
  assert.deepEqual(canceled.output, []);
  assert.equal(lines(canceled.logs).length, 2 + 3, "logs stop at the step reached");
  await assert.rejects(
    provider.openOutput(`local://${running.id}/0`),
    isNotRetryable(/is canceled/),
  );

  const finished = await provider.create(input({ seed: 5, num_inference_steps: 1 }));
  clock.t += 100;
  await provider.cancel(finished.id);
  assert.equal((await provider.get(finished.id)).status, "succeeded");
});

Deno.test("deadlineS aborts a prediction that runs past it", async () => {
  const { provider, clock } = setup(100);
  const created = await provider.create(input({ num_inference_steps: 20 }), { deadlineS: 0.5 });
  clock.t += 499;
  assert.equal((await provider.get(created.id)).status, "processing");
  clock.t += 1;
  const aborted = await provider.get(created.id);
  assert.equal(aborted.status, "aborted");
  assert.deepEqual(aborted.output, []);
  assert.equal(lines(aborted.logs).at(-1), " 25%|██▌       | 5/20 [00:00<00:01, 10.00it/s]");

  const quick = await provider.create(input({ num_inference_steps: 2 }), { deadlineS: 60 });
  clock.t += 200;
  assert.equal((await provider.get(quick.id)).status, "succeeded");
});

Deno.test("unknown ids and refs are errors the worker does not retry", async () => {
  const { provider } = setup(0);
  await assert.rejects(provider.get("0123456789abcdef0123456789abcdef"), PredictionNotFoundError);
  await assert.rejects(provider.cancel("nope"), PredictionNotFoundError);
  await assert.rejects(
    provider.openOutput("local://0123456789abcdef0123456789abcdef/0"),
    isNotRetryable(/is gone/),
  );
  await assert.rejects(
    provider.openOutput("https://example.com/x.png"),
    isNotRetryable(/not a local:\/\/ ref/),
  );
  const done = await provider.get((await provider.create(input({ width: 64, height: 64 }))).id);
  await assert.rejects(
    provider.openOutput(`local://${done.id}/1`),
    isNotRetryable(/has 1 output/),
  );
});

Deno.test("unknown local models and bad parameters are rejected without retry", async () => {
  const { provider } = setup(0);
  await assert.rejects(
    provider.create(input({}, "local/photoreal")),
    isNotRetryable(/^Unknown local model local\/photoreal; choose one of local\/abstract, /),
  );
  await assert.rejects(
    provider.create(input({}, "black-forest-labs/flux-schnell")),
    isNotRetryable(/Unknown local model/),
  );
  await assert.rejects(provider.create(input({ width: 32 })), isNotRetryable(/width 32/));
  await assert.rejects(provider.create(input({ height: 4096 })), isNotRetryable(/height 4096/));
  await assert.rejects(provider.create(input({ seed: 1.5 })), isNotRetryable(/seed 1.5/));
  await assert.rejects(
    provider.create(input({ num_outputs: "2" })),
    isNotRetryable(/num_outputs "2"/),
  );
});

Deno.test("an aborted signal rejects with its reason", async () => {
  const { provider } = setup(0);
  const created = await provider.create(input());
  const controller = new AbortController();
  const reason = new Error("shutting down");
  controller.abort(reason);
  const signal = controller.signal;
  for (
    const call of [
      () => provider.create(input(), { signal }),
      () => provider.get(created.id, { signal }),
      () => provider.cancel(created.id, { signal }),
      () => provider.openOutput(`local://${created.id}/0`, { signal }),
    ]
  ) {
    await assert.rejects(call(), (err) => err === reason);
  }
  assert.equal((await provider.get(created.id)).status, "succeeded", "nothing was canceled");
});

Deno.test("the prediction map is bounded by count and by age", async () => {
  const byCount = setup(0, { maxPredictions: 3 });
  const ids: string[] = [];
  for (let i = 0; i < 4; i++) ids.push((await byCount.provider.create(input())).id);
  await assert.rejects(byCount.provider.get(ids[0]), PredictionNotFoundError);
  for (const id of ids.slice(1)) await byCount.provider.get(id);

  const byAge = setup(0, { maxAgeMs: 60_000 });
  const old = await byAge.provider.create(input());
  byAge.clock.t += 30_000;
  const middle = await byAge.provider.create(input());
  byAge.clock.t += 30_001;
  await byAge.provider.create(input());
  await assert.rejects(byAge.provider.get(old.id), PredictionNotFoundError);
  await byAge.provider.get(middle.id);
});

Deno.test("local.ts exposes the styles the registry offers", () => {
  assert.ok(LOCAL_STYLES.length >= 4);
  assert.ok(LOCAL_STYLES.every((s) => isLocalModel(s.id)));
});

Deno.test("the default provider uses the real clock", async () => {
  const provider = createLocalProvider({ stepMs: 1 });
  const created = await provider.create(input({ num_inference_steps: 2, width: 64, height: 64 }));
  await new Promise((resolve) => setTimeout(resolve, 20));
  const done = await provider.get(created.id);
  assert.equal(done.status, "succeeded");
  assert.equal(decode(await openPng(provider, done.output[0])).width, 64);
});
