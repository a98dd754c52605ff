import assert from "node:assert/strict";
import { sha256Hex } from "./hash.ts";

Deno.test("sha256Hex: the standard digests, as lowercase hex", async () => {
  assert.equal(
    await sha256Hex(""),
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
  );
  assert.equal(
    await sha256Hex("abc"),
    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
  );
  // UTF-8, not UTF-16 code units.
  assert.equal(
    await sha256Hex("\u00e9"),
    "4a99557e4033c3539de2eb65472017cad5f9557f7a0625a09f1c3f6e2ba69c4c",
  );
});
