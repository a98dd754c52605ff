import assert from "node:assert/strict";
import { webhookUrlProblem } from "./target.ts";

Deno.test("webhook targets: literal private, loopback, link-local and reserved hosts are refused", () => {
  const refused = [
    "https://127.0.0.1/hook",
    "https://127.1/hook",
    "https://2130706433/hook", // decimal
    "https://0x7f000001/hook", // hex
    "https://017700000001/hook", // octal
    "https://0x7f.1/hook",
    "https://10.0.0.1/hook",
    "https://172.16.5.4/hook",
    "https://192.168.1.1:8443/hook",
    "https://169.254.169.254/latest/meta-data",
    "https://100.64.0.1/",
    "https://0.0.0.0/",
    "https://224.0.0.1/",
    "https://255.255.255.255/",
    "https://[::1]/hook",
    "https://[::]/hook",
    "https://[fc00::1]/hook",
    "https://[fd12:3456::1]/hook",
    "https://[fe80::1]/hook",
    "https://[ff02::1]/hook",
    "https://[::ffff:127.0.0.1]/hook", // IPv4-mapped
    "https://[::ffff:10.0.0.1]/hook",
    "https://localhost/hook",
    "https://LOCALHOST./hook",
    "https://api.localhost/hook",
  ];
  for (const url of refused) {
    const problem = webhookUrlProblem(url, []);
    assert.match(problem ?? "", /private, loopback or reserved/, url);
  }
  for (
    const url of [
      "https://hooks.example.com/x",
      "https://93.184.215.14/x",
      "https://[2606:4700::1111]/x",
    ]
  ) {
    assert.equal(webhookUrlProblem(url, []), null, url);
  }
});

Deno.test("webhook targets: https only and no credentials, unless the host is allowed", () => {
  assert.equal(webhookUrlProblem("http://hooks.example.com/x", []), "must be an https URL");
  assert.equal(
    webhookUrlProblem("https://u:p@hooks.example.com/x", []),
    "must not carry credentials",
  );
  assert.equal(webhookUrlProblem("ftp://hooks.example.com/x", []), "must be an http(s) URL");
  // WEBHOOK_ALLOW_HOSTS lets a private or plain-http receiver in (host, or host:port).
  assert.equal(webhookUrlProblem("http://127.0.0.1:8080/x", ["127.0.0.1:8080"]), null);
  assert.equal(webhookUrlProblem("https://10.0.0.1/x", ["10.0.0.1"]), null);
  assert.match(webhookUrlProblem("http://127.0.0.1:9090/x", ["127.0.0.1:8080"]) ?? "", /https/);
  assert.match(webhookUrlProblem("https://localhost/x", ["not a host!"]) ?? "", /private/);
  assert.equal(
    webhookUrlProblem("https://u:p@127.0.0.1/x", ["127.0.0.1"]),
    "must not carry credentials",
  );
});
