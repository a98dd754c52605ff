import assert from "node:assert/strict";
import { isSafeFileName } from "./storage.ts";

Deno.test("isSafeFileName accepts plain names and refuses the rest", () => {
  for (const name of ["a", "abc-0.png", "0193e3a1-7c2b-7cc0-9a1b-2f3e4d5c6b7a-0.webp", "A_b.c"]) {
    assert.ok(isSafeFileName(name), name);
  }
  const bad = [
    "",
    ".hidden",
    "-x",
    "_x",
    "a..b",
    "..",
    "../etc/passwd",
    "a/b",
    "a\\b",
    "a\0b",
    "a b",
    "a%2fb",
    "é.png",
    "x".repeat(202),
    "a\n",
  ];
  for (const name of bad) assert.ok(!isSafeFileName(name), JSON.stringify(name));
  assert.ok(isSafeFileName("x".repeat(201)));
});
