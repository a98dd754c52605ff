import assert from "node:assert/strict";
import { parseProgress } from "./progress.ts";

const SDXL_LOGS = [
  "Using seed: 39195",
  "Prompt: An astronaut riding a rainbow unicorn, cinematic, dramatic",
  "txt2img mode",
  "  0%|          | 0/50 [00:00<?, ?it/s]",
  "  2%|▏         | 1/50 [00:00<00:07,  6.60it/s]",
  "  4%|▍         | 2/50 [00:00<00:07,  6.59it/s]",
  " 20%|██        | 10/50 [00:01<00:06,  6.58it/s]",
  " 46%|████▌     | 23/50 [00:03<00:04,  6.57it/s]",
].join("\n");

const SDXL_WITH_REFINER = [
  SDXL_LOGS,
  "100%|██████████| 50/50 [00:07<00:00,  6.55it/s]",
  "  0%|          | 0/10 [00:00<?, ?it/s]",
  " 30%|███       | 3/10 [00:00<00:01,  6.93it/s]",
].join("\n");

const FLUX_LOGS = [
  "2024-08-02 13:22:08.614 | INFO | Using seed: 1278453461",
  "running quantized prediction",
  "Using seed: 1278453461",
  "  0%|          | 0/4 [00:00<?, ?it/s]",
  " 50%|█████     | 2/4 [00:00<00:00,  5.02it/s]",
  " 75%|███████▌  | 3/4 [00:00<00:00,  4.36it/s]",
  "100%|██████████| 4/4 [00:00<00:00,  4.43it/s]",
  "100%|██████████| 4/4 [00:00<00:00,  4.46it/s]",
  "Total safe images: 1 out of 1",
].join("\n");

const CASES: { name: string; logs: string; want: number | null }[] = [
  { name: "empty", logs: "", want: null },
  { name: "no progress", logs: "Using seed: 12\nLoading pipeline...\nDone", want: null },
  { name: "one bar", logs: " 40%|████      | 8/20 [00:00<00:01, 10.0it/s]", want: 40 },
  {
    name: "counts win over the rounded percentage",
    logs: " 33%|███▎ | 1/3 [00:01<00:02]",
    want: 100 / 3,
  },
  { name: "fraction from counts", logs: " 40%|████ | 20/50 [00:02<00:03, 10.00it/s]", want: 40 },
  { name: "percentage only (no counters)", logs: " 75%|███████▌  |", want: 75 },
  { name: "counter only, tqdm format", logs: "20/50 [00:02<00:03, 10.00it/s]", want: 40 },
  {
    name: "carriage returns, as tqdm writes them",
    logs:
      "  0%|          | 0/20 [00:00<?, ?it/s]\r 10%|█         | 2/20 [00:00<00:01]\r 55%|█████▌    | 11/20 [00:01<00:00]",
    want: 55,
  },
  {
    name: "several updates on one line without separators keep the last",
    logs: " 10%|█ | 1/10 [00:00<00:01] 20%|██ | 2/10 [00:00<00:01]",
    want: 20,
  },
  { name: "last of many lines (SDXL)", logs: SDXL_LOGS, want: 46 },
  { name: "second bar after the first (SDXL refiner)", logs: SDXL_WITH_REFINER, want: 30 },
  { name: "flux-schnell finished, trailing non-progress lines", logs: FLUX_LOGS, want: 100 },
  { name: "CRLF line ends", logs: "Using seed: 1\r\n 25%|██▌ | 5/20 [00:00<00:01]\r\n", want: 25 },
  {
    name: "ANSI colour codes around the bar",
    logs: "\x1b[32m 60%|██████    | 12/20 [00:01<00:00]\x1b[0m",
    want: 60,
  },
  {
    name: "unknown total is not progress",
    logs: "0it [00:00, ?it/s]\n3it [00:00, 8.2it/s]",
    want: null,
  },
  {
    name: "unknown total after a real bar keeps the bar",
    logs: " 80%|████████  | 16/20 [00:01<00:00]\n3it [00:00, 8.2it/s]",
    want: 80,
  },
  { name: "zero total is ignored", logs: "0/0 [00:00<?, ?it/s]", want: null },
  {
    name: "other slashes are not progress",
    logs: "Saved to /tmp/out/1/2.png on 2024/05",
    want: null,
  },
  { name: "never above 100", logs: "120%|██████████| 12/10 [00:01<00:00]", want: 100 },
  { name: "zero", logs: "  0%|          | 0/28 [00:00<?, ?it/s]", want: 0 },
];

for (const c of CASES) {
  Deno.test(`parseProgress: ${c.name}`, () => {
    const got = parseProgress(c.logs);
    if (c.want === null || got === null) {
      assert.equal(got, c.want);
    } else {
      assert.ok(Math.abs(got - c.want) < 1e-9, `got ${got}, want ${c.want}`);
    }
  });
}
