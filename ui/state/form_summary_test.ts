import assert from "node:assert/strict";
import { advancedSummary } from "./form_summary.ts";

Deno.test("advanced summary: every non-default value, nothing for defaults", () => {
  assert.deepEqual(
    advancedSummary({ steps: "", guidance: "", extraJson: "", priority: "normal" }),
    [],
  );
  assert.deepEqual(
    advancedSummary({
      steps: "250",
      guidance: " 7.5 ",
      priority: "high",
      extraJson: '{"scheduler": "K_EULER", "lora_scale": 0.8, "prompt_strength": 0.9, "x": 1}',
    }),
    [
      "250 steps",
      "guidance 7.5",
      "high priority",
      "scheduler=K_EULER",
      "lora_scale=0.8",
      "prompt_strength=0.9",
      "+1 more",
    ],
  );
  assert.deepEqual(
    advancedSummary({
      extraJson: '{"image": "data:image/png;base64,AAAAAAAAAAAAAAAAAAAAAA"}',
      priority: "low",
    }),
    ["low priority", "image=data:image/png;base64,A…"],
  );
  assert.deepEqual(advancedSummary({ extraJson: "{oops", priority: "normal" }), [
    "extra parameters (not valid JSON)",
  ]);
  assert.deepEqual(advancedSummary({ extraJson: "[1]", priority: "normal" }), ["extra JSON"]);
});
