import assert from "node:assert/strict";
import { localModelCard, type ModelCard } from "../../shared/models/card.ts";
import { inputSchemaOf } from "../../shared/models/schema.ts";
import { fakeOpenApiSchema } from "../../shared/testing/fake_replicate_models.ts";
import { ApiError } from "../api_client.ts";
import { DEFAULT_DRAFT, draft, negativeOffered } from "./form.ts";
import {
  cardProblem,
  cardState,
  createCardCache,
  droppedNotice,
  formOf,
  modelForm,
  startModelSync,
} from "./models.ts";

const LOCAL = localModelCard("local/aurora")!;
const PAINTER: ModelCard = {
  id: "acme/painter",
  provider: "replicate",
  version: "a".repeat(64),
  title: "Painter",
  description: "Paints",
  cover_image_url: null,
  input_schema: inputSchemaOf(fakeOpenApiSchema()),
};

function fakeCards(known: ModelCard[]) {
  const asked: string[] = [];
  const cache = createCardCache((id) => {
    asked.push(id);
    const card = known.find((c) => c.id === id);
    return card
      ? Promise.resolve(card)
      : Promise.reject(new ApiError(404, "not_found", `Model ${id} was not found`));
  });
  return { cache, asked };
}

const tick = () => new Promise((r) => setTimeout(r, 0));

Deno.test("card cache: one request per model at a time, kept once loaded, failures not kept", async () => {
  const { cache, asked } = fakeCards([LOCAL]);
  const [a, b] = await Promise.all([cache.get("local/aurora"), cache.get("local/aurora")]);
  assert.equal(a, b);
  assert.equal(cache.peek("local/aurora"), LOCAL);
  await cache.get("local/aurora");
  assert.deepEqual(asked, ["local/aurora"]);
  await assert.rejects(cache.get("x/y"));
  await assert.rejects(cache.get("x/y"));
  assert.deepEqual(asked, ["local/aurora", "x/y", "x/y"], "a failure is asked again");
  assert.equal(cache.peek("x/y"), undefined);
});

Deno.test("card problems: 404 unknown, 422 names the variable, 503 can be retried", () => {
  const nf = cardProblem("a/b", new ApiError(404, "not_found", "Model a/b was not found"));
  assert.deepEqual(nf, {
    status: 404,
    message: "No model a/b: check the owner and the name",
    retry: false,
  });
  const msg = "Model a/b needs the Replicate provider, which is not configured: set " +
    "REPLICATE_API_TOKEN (or use a local/... model)";
  assert.deepEqual(cardProblem("a/b", new ApiError(422, "validation_error", msg)), {
    status: 422,
    message: msg,
    retry: false,
  });
  const down = cardProblem("a/b", new ApiError(503, "service_unavailable", "Cannot read model"));
  assert.equal(down.retry, true);
  assert.match(down.message, /cannot be reached.*Cannot read model.*Try again/);
  assert.equal(cardProblem("a/b", new ApiError(0, "network", "offline")).retry, true);
});

Deno.test("formOf: the fields of a card, built once; whether it takes a negative prompt", () => {
  assert.equal(formOf(LOCAL), formOf(LOCAL));
  assert.equal(formOf(LOCAL).negativePrompt, true);
  assert.equal(formOf(PAINTER).negativePrompt, false);
  assert.equal(formOf(PAINTER).fields[0].name, "image");
});

// Read through functions: an assertion on one value must not narrow the next read's type.
const card = () => cardState.value;
const dropped = () => droppedNotice.value;
const form = () => modelForm.value;

Deno.test("model sync: the card follows the draft's model, values carry over, drops are told", async () => {
  const { cache } = fakeCards([LOCAL, PAINTER]);
  draft.value = {
    ...DEFAULT_DRAFT,
    model: "local/aurora",
    inputs: { num_inference_steps: 80, num_outputs: 2 },
    inputsModel: "local/aurora",
  };
  droppedNotice.value = null;
  const stop = startModelSync(cache);
  try {
    await tick();
    assert.equal(card()?.status, "ready");
    assert.equal(form(), formOf(LOCAL));
    assert.equal(negativeOffered.value, true);
    assert.deepEqual(draft.value.inputs, { num_inference_steps: 80, num_outputs: 2 });
    assert.equal(dropped(), null, "fitted already: nothing dropped");

    // To the Replicate model: steps 80 is over its 50, so it is dropped; 2 images stay.
    draft.value = { ...draft.value, model: "acme/painter" };
    assert.equal(card()?.status, "loading");
    assert.equal(form(), null);
    await tick();
    assert.equal(form(), formOf(PAINTER));
    assert.equal(negativeOffered.value, false);
    assert.deepEqual(draft.value.inputs, { num_outputs: 2 });
    assert.equal(draft.value.inputsModel, "acme/painter");
    const notice = dropped();
    assert.ok(notice);
    assert.equal(notice.model, "Painter");
    assert.equal(notice.id, "acme/painter");
    assert.deepEqual(notice.items.map((i) => [i.label, i.value]), [["Steps", 80]]);
    assert.deepEqual(notice.undo, {
      model: "local/aurora",
      inputs: { num_inference_steps: 80, num_outputs: 2 },
      inputsModel: "local/aurora",
    });

    // Back again (the card is cached: at once), nothing more to drop.
    draft.value = { ...draft.value, model: "local/aurora" };
    assert.equal(card()?.status, "ready");
    assert.equal(dropped(), null);
    assert.deepEqual(draft.value.inputs, { num_outputs: 2 });

    // An unknown model: the card's problem, no form (the server will decide).
    draft.value = { ...draft.value, model: "nobody/nothing" };
    await tick();
    const s = card();
    assert.ok(s?.status === "error");
    assert.equal(s.problem.status, 404);
    assert.equal(form(), null);
    assert.equal(negativeOffered.value, true);
  } finally {
    stop();
    draft.value = { ...DEFAULT_DRAFT };
    cardState.value = null;
    droppedNotice.value = null;
  }
});
