import assert from "node:assert/strict";
import { createLogger, redact } from "./logger.ts";

Deno.test("logger: bucket credentials and presigned URLs are redacted", () => {
  const lines: string[] = [];
  const log = createLogger({ write: (line) => lines.push(line) });
  const keyId = ["AKIA", "EXAMPLE0EXAMPLE0"].join("");
  log.info("bucket", {
    AWS_ACCESS_KEY_ID: "anything",
    AWS_SECRET_ACCESS_KEY: "anything-else",
    accessKeyId: "x",
    url: "https://b.s3.amazonaws.com/k.png?X-Amz-Credential=AK%2F1&X-Amz-Signature=abc&x=1",
    note: `key ${keyId} leaked`,
  });
  const record = JSON.parse(lines[0]);
  assert.equal(record.AWS_ACCESS_KEY_ID, "[redacted]");
  assert.equal(record.AWS_SECRET_ACCESS_KEY, "[redacted]");
  assert.equal(record.accessKeyId, "[redacted]");
  assert.ok(!record.url.includes("abc") && !record.url.includes("AK%2F1"), record.url);
  assert.ok(!record.note.includes(keyId), record.note);
  assert.equal(redact("plain"), "plain");
});
