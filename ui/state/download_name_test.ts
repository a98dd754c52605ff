import assert from "node:assert/strict";
import { fileNameFromPrompt } from "./download_name.ts";

Deno.test("fileNameFromPrompt: a safe slug, the short id, the image number and extension", () => {
  assert.equal(
    fileNameFromPrompt("A lighthouse on a cliff, at dusk!", {
      id: "5b7c1a2e-0000-4000-8000-000000000000",
      index: 1,
      count: 4,
      contentType: "image/webp",
    }),
    "a-lighthouse-on-a-cliff-at-dusk-5b7c1a2e-2.webp",
  );
  assert.equal(
    fileNameFromPrompt("Crème brûlée", { contentType: "image/jpeg" }),
    "creme-brulee.jpg",
  );
  assert.equal(fileNameFromPrompt("一只猫 🐱"), "darkroom.png");
  assert.equal(
    fileNameFromPrompt("<img src=x onerror=alert(1)> ../../etc/passwd"),
    "img-src-x-onerror-alert-1-etc-passwd.png",
  );
  const long = fileNameFromPrompt("word ".repeat(50), { count: 1 });
  assert.ok(long.length <= 64, long);
  assert.match(long, /^word(-word)*\.png$/);
  assert.equal(fileNameFromPrompt("x".repeat(100)).length, 64);
});
