import assert from "node:assert/strict";
import { runSettings } from "./bench.ts";

Deno.test("bench: without options a full run has every scenario and the 5,000-job RSS run", () => {
  const { plan, scenarios, roleEnv } = runSettings({});
  assert.equal(plan.mode, "full");
  assert.equal(plan.rssJobs, 5000);
  assert.deepEqual(scenarios, ["http", "small", "large"]);
  assert.deepEqual(roleEnv, { api: {}, worker: {} });
  assert.equal(runSettings({ quick: true }).plan.rssJobs, 500);
});

Deno.test("bench: the search scenario runs only when named", () => {
  assert.deepEqual(runSettings({ only: "search" }).scenarios, ["search"]);
  assert.deepEqual(runSettings({ only: "search,http" }).scenarios, ["http", "search"]);
});

Deno.test("bench: --only keeps the scenarios' own order; --rss-jobs changes this run only", () => {
  const soak = runSettings({ only: "large, http", "rss-jobs": "30000" });
  assert.deepEqual(soak.scenarios, ["http", "large"]);
  assert.equal(soak.plan.rssJobs, 30000);
  assert.equal(runSettings({}).plan.rssJobs, 5000, "the next run starts from the plan again");
});

Deno.test("bench: --worker-env and --api-env go to their role only", () => {
  const { roleEnv } = runSettings({
    "worker-env": '{"DENO_V8_FLAGS":"--max-old-space-size=256"}',
  });
  assert.deepEqual(roleEnv, { api: {}, worker: { DENO_V8_FLAGS: "--max-old-space-size=256" } });
  assert.deepEqual(runSettings({ "api-env": '{"PORT_HINT":"1"}' }).roleEnv.api, { PORT_HINT: "1" });
});

Deno.test("bench: a bad option value names the option", () => {
  assert.throws(
    () => runSettings({ only: "http,nope" }),
    /--only must be one of http, small, large, images, search/,
  );
  assert.throws(() => runSettings({ only: "" }), /--only/);
  assert.throws(() => runSettings({ "rss-jobs": "0" }), /--rss-jobs must be an integer ≥ 1/);
  assert.throws(() => runSettings({ "rss-jobs": "1e9x" }), /--rss-jobs/);
  assert.throws(() => runSettings({ "worker-env": "{oops" }), /not JSON/);
  assert.throws(() => runSettings({ "api-env": '{"A":1}' }), /JSON object of strings/);
});

Deno.test("bench: the image scenario runs only when --only names it", () => {
  assert.deepEqual(runSettings({ only: "images" }).scenarios, ["images"]);
  assert.deepEqual(runSettings({ quick: true, only: "images,http" }).scenarios, ["http", "images"]);
  assert.ok(!runSettings({ quick: true }).scenarios.includes("images"));
});
