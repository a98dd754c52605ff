import assert from "node:assert/strict";
import { ApiError, type UploadJson } from "../api_client.ts";
import {
  addImage,
  checkImageFile,
  knownPreview,
  loadPreview,
  pendingUploads,
  uploadDetails,
  uploadProblem,
  uploadsBusy,
} from "./uploads.ts";

const ID = "9d2e7c41-0b6a-4f3e-8c5d-2a1b0c9d8e7f";
const UPLOAD: UploadJson = {
  id: ID,
  url: `/uploads/${ID}`,
  content_type: "image/png",
  width: 64,
  height: 48,
  bytes: 1234,
  created_at: "2025-01-01T00:00:00Z",
  expires_at: "2025-01-02T00:00:00Z",
};

function png(name = "in.png", type = "image/png"): File {
  return new File([new Uint8Array([0x89, 0x50, 0x4e, 0x47])], name, { type });
}

Deno.test("image files: PNG, JPEG, WebP and GIF (or no type: the server sniffs); never empty", () => {
  assert.equal(checkImageFile(png()), null);
  assert.equal(checkImageFile(png("x", "")), null);
  assert.match(checkImageFile(png("notes.txt", "text/plain"))!, /notes\.txt is not a PNG/);
  assert.match(checkImageFile(new File([], "e.png", { type: "image/png" }))!, /empty/);
});

Deno.test("refused uploads are said plainly", () => {
  assert.match(
    uploadProblem(new ApiError(413, "payload_too_large", "at most 20971520 bytes")),
    /too large: at most/,
  );
  assert.match(uploadProblem(new ApiError(415, "unsupported_media_type", "x")), /PNG, JPEG/);
  assert.match(
    uploadProblem(new ApiError(0, "network", "Cannot reach the server")),
    /Cannot upload/,
  );
});

Deno.test("addImage: a preview while it uploads, the upload's url after; failures reported", async () => {
  let finish: (u: UploadJson) => void = () => {};
  const uploaded: string[] = [];
  const errors: string[] = [];
  const revoked: string[] = [];
  const deps = {
    api: { upload: () => new Promise<UploadJson>((r) => finish = r) },
    onUploaded: (url: string) => void uploaded.push(url),
    onError: (m: string) => void errors.push(m),
    createObjectURL: () => "blob:preview-1",
    revokeObjectURL: (u: string) => void revoked.push(u),
  };
  const running = addImage("image", png(), deps);
  assert.equal(uploadsBusy.value, true);
  assert.deepEqual(pendingUploads.value.image.map((p) => [p.name, p.preview]), [
    ["in.png", "blob:preview-1"],
  ]);
  finish(UPLOAD);
  await running;
  assert.equal(uploadsBusy.value, false);
  assert.deepEqual(uploaded, [UPLOAD.url]);
  assert.equal(knownPreview(UPLOAD.url), "blob:preview-1", "the file itself is the preview");
  assert.equal(knownPreview(`upload:${ID}`), "blob:preview-1");
  assert.equal(uploadDetails(UPLOAD.url)?.width, 64);

  const refused = {
    ...deps,
    api: { upload: () => Promise.reject(new ApiError(415, "unsupported_media_type", "no")) },
  };
  await addImage("image", png(), refused);
  assert.match(errors[0], /Not an image this service takes/);
  assert.deepEqual(revoked, ["blob:preview-1"]);
  await addImage("image", png("a.txt", "text/plain"), refused);
  assert.match(errors[1], /a\.txt is not a PNG/);
  assert.equal(uploadsBusy.value, false);
});

Deno.test("previews: data: URIs as they are, other uploads fetched with the key, https not", async () => {
  const data = "data:image/png;base64,iVBORw0KGgo=";
  const asked: string[] = [];
  const api = {
    uploadImage: (ref: string) => {
      asked.push(ref);
      return Promise.resolve(new Blob([new Uint8Array([1])], { type: "image/png" }));
    },
  };
  assert.equal(await loadPreview(data, api), data);
  assert.equal(await loadPreview("https://example.com/a.png", api), null);
  const other = "/uploads/00000000-0000-4000-8000-000000000000";
  const url = await loadPreview(other, api);
  assert.match(url ?? "", /^blob:/);
  assert.equal(await loadPreview(other, api), url, "fetched once");
  assert.deepEqual(asked, [other]);
  URL.revokeObjectURL(url!);
});
