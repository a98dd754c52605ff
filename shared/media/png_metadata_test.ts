import assert from "node:assert/strict";
import { decode } from "fast-png";
import { pngBytes } from "../testing/image_fixtures.ts";
import {
  a1111Parameters,
  crc32,
  createPngInserter,
  fromComfyGraph,
  fromComfyWorkflow,
  parseA1111,
  pngChunk,
  readImageSettings,
  readPngText,
  settingsChunks,
  textChunk,
} from "./png_metadata.ts";

/** `png` with `chunks` after its IHDR, through the streaming inserter fed `piece` bytes at a time. */
function inserted(png: Uint8Array, chunks: Uint8Array, piece: number): Uint8Array {
  const inserter = createPngInserter(() => chunks);
  const out: Uint8Array[] = [];
  for (let at = 0; at < png.length; at += piece) {
    out.push(...inserter.push(png.subarray(at, at + piece)));
  }
  out.push(...inserter.end());
  const bytes = new Uint8Array(out.reduce((n, b) => n + b.length, 0));
  let at = 0;
  for (const b of out) {
    bytes.set(b, at);
    at += b.length;
  }
  assert.equal(inserter.added, bytes.length - png.length);
  return bytes;
}

async function deflate(bytes: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream()
    .pipeThrough(new CompressionStream("deflate"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

Deno.test("png metadata: CRC-32 and chunks as PNG defines them", () => {
  assert.equal(crc32(new TextEncoder().encode("123456789")), 0xcbf43926);
  const chunk = pngChunk("tEXt", new Uint8Array([0x61, 0, 0x62]));
  assert.deepEqual([...chunk.subarray(0, 8)], [0, 0, 0, 3, 0x74, 0x45, 0x58, 0x74]);
  assert.throws(() => textChunk("", "x"), RangeError);
  assert.throws(() => textChunk("a".repeat(80), "x"), RangeError);
  assert.throws(() => textChunk(" lead", "x"), RangeError);
});

Deno.test("png metadata: inserted after IHDR whatever the pieces; the PNG stays valid", async () => {
  const png = pngBytes(20, 10);
  const chunks = settingsChunks({
    prompt: "a fox in snow, 日本",
    negative_prompt: "blurry",
    model: "local/aurora",
    parameters: { seed: 42, num_inference_steps: 30, guidance_scale: 7.5, scheduler: "K_EULER" },
  }, { width: 20, height: 10 });
  for (const piece of [1, 7, 33, 34, png.length]) {
    const bytes = inserted(png, chunks, piece);
    const decoded = decode(bytes, { checkCrc: true });
    assert.deepEqual(decoded.data, decode(png).data, `piece ${piece}`);
    const text = await readPngText(bytes);
    assert.equal(
      text.get("parameters"),
      "a fox in snow, 日本\nNegative prompt: blurry\n" +
        "Steps: 30, Sampler: K_EULER, CFG scale: 7.5, Seed: 42, Size: 20x10, Model: local/aurora",
    );
    assert.deepEqual(await readImageSettings(bytes), {
      source: "darkroom",
      prompt: "a fox in snow, 日本",
      negative_prompt: "blurry",
      model: "local/aurora",
      parameters: { seed: 42, num_inference_steps: 30, guidance_scale: 7.5, scheduler: "K_EULER" },
    });
  }
  // Not a PNG, or too short to be one: passed on unchanged, nothing added.
  for (const other of [new Uint8Array([0xff, 0xd8, 0xff, 0xe0, 1, 2, 3]), png.subarray(0, 20)]) {
    assert.deepEqual(inserted(other, chunks, 3), other);
  }
});

Deno.test("png metadata: A1111 text read back; values with commas are quoted", () => {
  const text = a1111Parameters({
    prompt: "line one\nline two",
    negative_prompt: "bad, worse",
    model: "owner/model:abc",
    parameters: { seed: 7, scheduler: "DPM++ 2M, Karras" },
  }, { width: 512, height: 768 });
  assert.equal(
    text,
    'line one\nline two\nNegative prompt: bad, worse\nSampler: "DPM++ 2M, Karras", Seed: 7, ' +
      'Size: 512x768, Model: "owner/model:abc"',
  );
  assert.deepEqual(parseA1111(text), {
    prompt: "line one\nline two",
    negative_prompt: "bad, worse",
    settings: { Sampler: "DPM++ 2M, Karras", Seed: "7", Size: "512x768", Model: "owner/model:abc" },
  });
  // A1111's own output, and a prompt with no settings line.
  const a1111 = "masterpiece, a cat\nNegative prompt: lowres\nSteps: 20, Sampler: Euler a, " +
    "CFG scale: 7, Seed: 3868, Size: 512x512, Model hash: 6ce0161689, Model: v1-5-pruned";
  assert.deepEqual(parseA1111(a1111).settings["Model hash"], "6ce0161689");
  assert.deepEqual(parseA1111("just a prompt"), {
    prompt: "just a prompt",
    negative_prompt: null,
    settings: {},
  });
});

Deno.test("png metadata: A1111, ComfyUI and compressed chunks from other tools", async () => {
  const png = pngBytes(8, 8);
  const a1111 = "a cat\nNegative prompt: lowres\nSteps: 20, Sampler: Euler a, CFG scale: 7, " +
    "Seed: 3868, Size: 512x512, Model: v1-5-pruned";
  const fromA1111 = await readImageSettings(inserted(png, textChunk("parameters", a1111), 64));
  assert.deepEqual(fromA1111, {
    source: "a1111",
    prompt: "a cat",
    negative_prompt: "lowres",
    model: "v1-5-pruned",
    parameters: {
      seed: 3868,
      num_inference_steps: 20,
      guidance_scale: 7,
      scheduler: "Euler a",
      width: 512,
      height: 512,
    },
  });

  const graph = {
    "3": {
      class_type: "KSampler",
      inputs: {
        seed: 99,
        steps: 25,
        cfg: 6.5,
        sampler_name: "euler",
        positive: ["6", 0],
        negative: ["7", 0],
        latent_image: ["5", 0],
        model: ["4", 0],
      },
    },
    "4": { class_type: "CheckpointLoaderSimple", inputs: { ckpt_name: "sdxl.safetensors" } },
    "5": { class_type: "EmptyLatentImage", inputs: { width: 1024, height: 768, batch_size: 1 } },
    "6": { class_type: "CLIPTextEncode", inputs: { text: "a castle", clip: ["4", 1] } },
    "7": { class_type: "CLIPTextEncode", inputs: { text: "ugly", clip: ["4", 1] } },
  };
  const expected = {
    source: "comfyui",
    prompt: "a castle",
    negative_prompt: "ugly",
    model: "sdxl.safetensors",
    parameters: {
      seed: 99,
      num_inference_steps: 25,
      guidance_scale: 6.5,
      scheduler: "euler",
      width: 1024,
      height: 768,
    },
  };
  assert.deepEqual(fromComfyGraph(graph), expected);
  // ComfyUI writes `prompt` as tEXt; here compressed (zTXt) to read that form too.
  const ztxt = pngChunk(
    "zTXt",
    new Uint8Array([
      ...new TextEncoder().encode("prompt"),
      0,
      0,
      ...await deflate(new TextEncoder().encode(JSON.stringify(graph))),
    ]),
  );
  assert.deepEqual(await readImageSettings(inserted(png, ztxt, 64)), expected);

  const workflow = {
    nodes: [
      {
        id: 3,
        type: "KSampler",
        inputs: [{ name: "positive", link: 4 }, { name: "negative", link: 6 }],
        widgets_values: [5, "fixed", 30, 8, "dpmpp_2m", "karras", 1],
      },
      { id: 6, type: "CLIPTextEncode", widgets_values: ["a river"] },
      { id: 7, type: "CLIPTextEncode", widgets_values: ["noise"] },
    ],
    links: [[4, 6, 0, 3, 1, "CONDITIONING"], [6, 7, 0, 3, 2, "CONDITIONING"]],
  };
  assert.deepEqual(fromComfyWorkflow(workflow), {
    source: "comfyui",
    prompt: "a river",
    negative_prompt: "noise",
    model: null,
    parameters: { seed: 5, num_inference_steps: 30, guidance_scale: 8, scheduler: "dpmpp_2m" },
  });
  // A compressed iTXt (UTF-8) with the workflow only.
  const itxt = pngChunk(
    "iTXt",
    new Uint8Array([
      ...new TextEncoder().encode("workflow"),
      0,
      1,
      0,
      0,
      0,
      ...await deflate(new TextEncoder().encode(JSON.stringify(workflow))),
    ]),
  );
  assert.equal((await readImageSettings(inserted(png, itxt, 64)))?.prompt, "a river");
  // Nothing to say, or no PNG at all.
  assert.equal(await readImageSettings(png), null);
  assert.equal(await readImageSettings(new Uint8Array([1, 2, 3])), null);
});
