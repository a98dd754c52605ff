/** The catalogue's and the uploads' SQL on PGlite (the embedded database of `deno task start`). */
import assert from "node:assert/strict";
import { sql } from "../db/db.ts";
import { migrate } from "../db/migrations.ts";
import { openPglite } from "../db/pglite.ts";
import { insertJob } from "../jobs/repo.ts";
import { fakeOpenApiSchema } from "../testing/fake_replicate_models.ts";
import {
  claimUploads,
  deleteExpiredUploads,
  findUpload,
  insertUpload,
  linkUploads,
  serviceSecret,
} from "../uploads/repo.ts";
import { latestSummaries, readLatest, readVersion, recentModels, saveCard } from "./repo.ts";
import { inputSchemaOf } from "./schema.ts";

Deno.test("models and uploads SQL on PGlite", async () => {
  const db = await openPglite(undefined);
  try {
    await migrate(db);
    const card = {
      id: "acme/paint",
      provider: "replicate",
      version: "a".repeat(64),
      title: "Paint",
      description: "Paints",
      cover_image_url: "https://replicate.delivery/x.webp",
      input_schema: inputSchemaOf(fakeOpenApiSchema()),
    };
    await saveCard(db, card, true);
    assert.deepEqual(await readVersion(db, card.id, card.version), card);
    const latest = await readLatest(db, card.id);
    assert.deepEqual(latest?.card, card);
    assert.ok(latest?.checkedAt instanceof Date);
    assert.equal((await latestSummaries(db, [card.id, "x/y"])).get(card.id)?.title, "Paint");
    await insertJob(db, {
      id: crypto.randomUUID(),
      prompt: "p",
      model: card.id,
      parameters: {},
      provider: "replicate",
    });
    assert.deepEqual(await recentModels(db), [card.id]);

    const id = crypto.randomUUID();
    await insertUpload(db, {
      id,
      owner_key_id: null,
      file: `upload-${id}.png`,
      content_type: "image/png",
      width: 2,
      height: 2,
      bytes: 70,
    }, 60);
    const viewer = { admin: true, keyId: null };
    assert.equal((await findUpload(db, id, viewer))?.bytes, 70);
    assert.deepEqual([...await claimUploads(db, [id], viewer)], [id]);
    const job = crypto.randomUUID();
    await insertJob(db, {
      id: job,
      prompt: "p",
      model: "local/abstract",
      parameters: {},
      provider: "local",
    });
    await linkUploads(db, job, [id]);
    await db.query(sql`UPDATE uploads SET expires_at = now() - interval '1 hour'`);
    assert.deepEqual(await deleteExpiredUploads(db), [], "a job uses it");
    await db.query(sql`DELETE FROM jobs WHERE id = ${job}`);
    assert.equal((await deleteExpiredUploads(db)).length, 1, "released by the trigger");
    assert.match((await serviceSecret(db, "upload_url")) ?? "", /^[0-9a-f]{64}$/);
  } finally {
    await db.close();
  }
});
