import assert from "node:assert/strict";
import { parseA1111, parseComfyGraph, readImageSettings, readPngText } from "./png_settings.ts";

const enc = (s: string) => new TextEncoder().encode(s);
const latin1 = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0));

function crc32(bytes: Uint8Array): number {
  let c = ~0 >>> 0;
  for (const b of bytes) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  }
  return ~c >>> 0;
}

function chunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, data.length);
  out.set(latin1(type), 4);
  out.set(data, 8);
  view.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
  return out;
}

function png(...chunks: Uint8Array[]): Uint8Array {
  const ihdr = new Uint8Array(13);
  new DataView(ihdr.buffer).setUint32(0, 64);
  new DataView(ihdr.buffer).setUint32(4, 96);
  ihdr.set([8, 2, 0, 0, 0], 8);
  const parts = [
    new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk("IHDR", ihdr),
    ...chunks,
    chunk("IDAT", new Uint8Array([1, 2, 3])),
    chunk("IEND", new Uint8Array()),
  ];
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

async function deflate(bytes: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream()
    .pipeThrough(new CompressionStream("deflate"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

const join = (...parts: Uint8Array[]) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
};

const A1111 = `a lighthouse at dusk, "volumetric" light
second line of the prompt
Negative prompt: blurry, watermark
Steps: 250, Sampler: DPM++ 2M Karras, CFG scale: 7.5, Seed: 4242, Size: 832x1216, ` +
  `Model hash: abc123, Model: local/aurora, Lora hashes: "a: 1, b: 2", Version: v1.9`;

Deno.test("A1111 parameters: prompt lines, negative prompt and the settings line", () => {
  assert.deepEqual(parseA1111(A1111), {
    source: "a1111",
    prompt: 'a lighthouse at dusk, "volumetric" light\nsecond line of the prompt',
    negative_prompt: "blurry, watermark",
    model: "local/aurora",
    parameters: {
      seed: 4242,
      num_inference_steps: 250,
      guidance_scale: 7.5,
      width: 832,
      height: 1216,
    },
  });
  // Only a prompt: no settings line, nothing invented.
  assert.deepEqual(parseA1111("just a prompt: with a colon"), {
    source: "a1111",
    prompt: "just a prompt: with a colon",
    negative_prompt: null,
    model: null,
    parameters: {},
  });
});

Deno.test("PNG text: tEXt, zTXt and iTXt (plain and compressed); the first of a keyword wins", async () => {
  const bytes = png(
    chunk("tEXt", join(latin1("Software"), new Uint8Array([0]), latin1("Caf\xe9"))),
    chunk("zTXt", join(latin1("Comment"), new Uint8Array([0, 0]), await deflate(latin1("zip")))),
    chunk("iTXt", join(latin1("Title"), new Uint8Array([0, 0, 0, 0, 0]), enc("猫 🐱"))),
    chunk(
      "iTXt",
      join(
        latin1("Author"),
        new Uint8Array([0, 1, 0]),
        latin1("en"),
        new Uint8Array([0, 0, 1, 2, 3]),
      ),
    ),
    chunk("tEXt", join(latin1("Software"), new Uint8Array([0]), latin1("second"))),
  );
  const text = await readPngText(bytes);
  assert.equal(text.get("Software"), "Café");
  assert.equal(text.get("Comment"), "zip");
  assert.equal(text.get("Title"), "猫 🐱");
  assert.equal(text.get("Author"), undefined, "compressed flag on data that is not zlib: skipped");
  assert.equal((await readPngText(enc("GIF89a..."))).size, 0, "not a PNG");
  // Cut short: what was read before the cut is kept, nothing throws.
  assert.equal((await readPngText(bytes.subarray(0, 60))).get("Software"), "Café");
});

Deno.test("settings: Darkroom's chunk first, then A1111's, then ComfyUI's graph", async () => {
  const darkroom = JSON.stringify({
    prompt: "a fox",
    negative_prompt: null,
    model: "black-forest-labs/flux-schnell",
    parameters: { seed: 9, aspect_ratio: "2:3" },
    job_id: "j1",
  });
  const both = png(
    chunk("tEXt", join(latin1("parameters"), new Uint8Array([0]), latin1(A1111))),
    chunk(
      "iTXt",
      join(
        latin1("darkroom"),
        new Uint8Array([0, 1, 0, 0, 0]),
        await deflate(
          enc(darkroom),
        ),
      ),
    ),
  );
  assert.deepEqual(await readImageSettings(both), {
    source: "darkroom",
    prompt: "a fox",
    negative_prompt: null,
    model: "black-forest-labs/flux-schnell",
    parameters: { seed: 9, aspect_ratio: "2:3" },
  });
  const a1111 = png(chunk("tEXt", join(latin1("parameters"), new Uint8Array([0]), latin1(A1111))));
  assert.equal((await readImageSettings(a1111))?.source, "a1111");

  const graph = {
    "3": {
      class_type: "KSampler",
      inputs: {
        seed: 156680208700286,
        steps: 20,
        cfg: 8,
        sampler_name: "euler",
        positive: ["6", 0],
        negative: ["7", 0],
        latent_image: ["5", 0],
      },
    },
    "4": { class_type: "CheckpointLoaderSimple", inputs: { ckpt_name: "v1-5.safetensors" } },
    "5": { class_type: "EmptyLatentImage", inputs: { width: 512, height: 768, batch_size: 1 } },
    "6": { class_type: "CLIPTextEncode", inputs: { text: "beautiful scenery", clip: ["4", 1] } },
    "7": { class_type: "CLIPTextEncode", inputs: { text: "text, watermark", clip: ["4", 1] } },
  };
  const comfy = png(
    chunk("tEXt", join(latin1("prompt"), new Uint8Array([0]), enc(JSON.stringify(graph)))),
  );
  assert.deepEqual(await readImageSettings(comfy), {
    source: "comfyui",
    prompt: "beautiful scenery",
    negative_prompt: "text, watermark",
    model: "v1-5.safetensors",
    parameters: {
      seed: 156680208700286,
      num_inference_steps: 20,
      guidance_scale: 8,
      width: 512,
      height: 768,
    },
  });
  assert.equal(parseComfyGraph({ "1": { class_type: "SaveImage" } }), null);
  assert.equal(await readImageSettings(png()), null, "a PNG that says nothing");
});
