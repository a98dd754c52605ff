import assert from "node:assert/strict";
import { DEFAULT_URL_STATE, parseUrlState, serializeUrlState } from "./url.ts";

Deno.test("URL state: defaults are left out and everything round-trips", () => {
  assert.equal(serializeUrlState(DEFAULT_URL_STATE), "");
  const state = {
    tab: "history" as const,
    status: "failed" as const,
    q: "a cat & dog",
    page: 3,
    job: "",
  };
  const search = serializeUrlState(state);
  assert.equal(search, "?tab=history&status=failed&q=a+cat+%26+dog&page=3");
  assert.deepEqual(parseUrlState(search), state);
});

Deno.test("URL state: unknown values fall back to defaults", () => {
  assert.deepEqual(
    parseUrlState("?tab=admin&status=deleted&page=-2&job=../../x"),
    DEFAULT_URL_STATE,
  );
  assert.equal(parseUrlState("?page=1.5").page, 1);
  assert.equal(parseUrlState("", "#architecture").tab, "architecture");
  assert.equal(parseUrlState("?tab=history", "#architecture").tab, "history");
  assert.equal(parseUrlState("?q=" + "x".repeat(500)).q.length, 200);
});

Deno.test("URL state: the History provider filter round-trips; unknown providers are dropped", () => {
  const state = {
    tab: "history" as const,
    status: "" as const,
    q: "",
    page: 1,
    job: "",
    provider: "fal" as const,
  };
  const search = serializeUrlState(state);
  assert.equal(search, "?tab=history&provider=fal");
  assert.deepEqual(parseUrlState(search), state);
  assert.equal(parseUrlState("?provider=openai").provider, undefined);
});

Deno.test("URL state: the library's filters round-trip; malformed ones are dropped", () => {
  const state = {
    tab: "history" as const,
    status: "completed" as const,
    q: "red car",
    page: 2,
    job: "",
    model: "black-forest-labs/flux-schnell",
    starred: true,
    collection: "0b6c9a52-3f2e-4d8a-9a7e-5d7f1c2b3a4e",
    from: "2025-03-01",
    to: "2025-03-31",
    sort: "oldest" as const,
    cursor: "bi4yMDI1LTAzLTEy",
  };
  const search = serializeUrlState(state);
  assert.equal(
    search,
    "?tab=history&status=completed&model=black-forest-labs%2Fflux-schnell&starred=true" +
      "&collection=0b6c9a52-3f2e-4d8a-9a7e-5d7f1c2b3a4e&from=2025-03-01&to=2025-03-31" +
      "&sort=oldest&q=red+car&page=2&cursor=bi4yMDI1LTAzLTEy",
  );
  assert.deepEqual(parseUrlState(search), state);
  assert.deepEqual(
    parseUrlState("?model=a%20b&starred=yes&collection=../x&from=2025-3-1&to=x&sort=up&cursor=a+b"),
    DEFAULT_URL_STATE,
  );
  assert.equal(parseUrlState("?model=fal:fal-ai/flux/schnell").model, "fal:fal-ai/flux/schnell");
});
