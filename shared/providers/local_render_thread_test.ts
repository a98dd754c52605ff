import assert from "node:assert/strict";
import { type RenderOptions, renderPng } from "./local_render.ts";
import { createRenderThread } from "./local_render_thread.ts";

const options: RenderOptions = {
  prompt: "a lighthouse on a cliff at dusk",
  negativePrompt: null,
  style: "local/aurora",
  seed: 7,
  width: 320,
  height: 192,
  index: 0,
};

Deno.test("render thread: the same PNG as rendering on the calling thread", async () => {
  const thread = createRenderThread();
  try {
    const [a, b] = await Promise.all([
      thread.render(options),
      thread.render({ ...options, index: 1 }),
    ]);
    assert.deepEqual(a, renderPng(options));
    assert.deepEqual(b, renderPng({ ...options, index: 1 }));
  } finally {
    thread.close();
  }
});

Deno.test("render thread: the caller's event loop runs while an image renders", async () => {
  const thread = createRenderThread();
  try {
    await thread.render(options); // the thread is up and its code compiled
    let rendered = false;
    const big = thread.render({ ...options, width: 2048, height: 2048 }).then((bytes) => {
      rendered = true;
      return bytes;
    });
    // On the calling thread the render would be over before this timer could fire.
    await new Promise((resolve) => setTimeout(resolve, 0));
    assert.equal(rendered, false);
    assert.ok((await big).byteLength > 0);
    assert.equal(rendered, true);
  } finally {
    thread.close();
  }
});

Deno.test("render thread: a refused render fails alone; close fails what is pending", async () => {
  const thread = createRenderThread();
  try {
    await assert.rejects(thread.render({ ...options, width: 0 }), /width must be an integer/);
    assert.ok((await thread.render(options)).byteLength > 0);
    const pending = thread.render({ ...options, width: 2048, height: 2048 });
    thread.close();
    await assert.rejects(pending, /render thread closed/);
    // A render after close starts a new thread.
    assert.ok((await thread.render(options)).byteLength > 0);
  } finally {
    thread.close();
  }
});
