/**
 * Settings travel with the image (issue 21): every PNG a job stores carries its settings, in
 * AUTOMATIC1111's `parameters` text and Darkroom's `darkroom` JSON, and reads back with the
 * reader the UI uses when a PNG is dropped on the form.
 */
import assert from "node:assert/strict";
import { decode } from "fast-png";
import { getJob, insertJob } from "../shared/jobs/repo.ts";
import { parseA1111, readImageSettings, readPngText } from "../shared/media/png_metadata.ts";
import { createTestDeps } from "../shared/testing/app_deps.ts";
import { processJob } from "./process_job.ts";

Deno.test({
  name: "a stored PNG carries its job's settings, read back by the reader",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const deps = await createTestDeps();
    try {
      const parameters = {
        width: 96,
        height: 64,
        seed: 1234,
        num_inference_steps: 3,
        num_outputs: 2,
      };
      const job = await insertJob(deps.db, {
        id: crypto.randomUUID(),
        prompt: "a lighthouse at dusk, été",
        negative_prompt: "fog",
        model: "local/aurora",
        parameters,
        provider: "local",
      });
      await processJob(deps, { jobId: job.id }, {
        attempt: 1,
        maxAttempts: 1,
        signal: new AbortController().signal,
        pauseAll: () => Promise.resolve(),
      });
      const done = await getJob(deps.db, job.id);
      assert.equal(done?.status, "completed", done?.error_message ?? "");
      assert.equal(done!.images.length, 2);
      for (const image of done!.images) {
        const bytes = new Uint8Array(
          await new Response(await deps.storage.read(image.file)).arrayBuffer(),
        );
        assert.equal(image.bytes, bytes.length, "the recorded size is the stored file's");
        const png = decode(bytes, { checkCrc: true });
        assert.deepEqual([png.width, png.height], [96, 64]);
        assert.deepEqual(await readImageSettings(bytes), {
          source: "darkroom",
          prompt: "a lighthouse at dusk, été",
          negative_prompt: "fog",
          model: "local/aurora",
          parameters,
        });
        const text = (await readPngText(bytes)).get("parameters")!;
        assert.equal(
          text,
          "a lighthouse at dusk, été\nNegative prompt: fog\n" +
            "Steps: 3, Seed: 1234, Size: 96x64, Model: local/aurora",
        );
        assert.deepEqual(parseA1111(text).settings, {
          Steps: "3",
          Seed: "1234",
          Size: "96x64",
          Model: "local/aurora",
        });
        const darkroom = JSON.parse((await readPngText(bytes)).get("darkroom")!);
        assert.equal(darkroom.job_id, job.id);
      }
    } finally {
      await deps.cleanup();
    }
  },
});
