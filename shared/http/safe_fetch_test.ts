import assert from "node:assert/strict";
import {
  createSafeFetch,
  isPrivateAddress,
  SafeFetchError,
  type SafeFetchReason,
} from "./safe_fetch.ts";

/** Awaits a promise that must fail with a SafeFetchError of `reason`, and returns the error. */
async function refusal(
  promise: Promise<unknown>,
  reason: SafeFetchReason,
): Promise<SafeFetchError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof SafeFetchError, `expected a SafeFetchError, got ${error}`);
    assert.equal(error.reason, reason, error.message);
    return error;
  }
  assert.fail(`expected a "${reason}" refusal`);
}

interface FetchCall {
  url: string;
  init: RequestInit;
}

/**
 * A stand-in for the network, used only for "public" hosts that cannot exist on these machines.
 * Records each request and answers with `answer`.
 */
function publicFetch(answer: (url: URL, init: RequestInit) => Response = () => new Response("ok")) {
  const calls: FetchCall[] = [];
  const fn = (input: RequestInfo | URL, init: RequestInit = {}) => {
    const url = new URL(input instanceof Request ? input.url : input);
    calls.push({ url: url.href, init });
    return Promise.resolve(answer(url, init));
  };
  return { fn: fn as typeof fetch, calls };
}

/** A resolver that answers from a table and records every name it was asked. */
function fakeResolver(answers: Record<string, string[] | Error> = {}) {
  const asked: string[] = [];
  const resolve = (hostname: string) => {
    asked.push(hostname);
    const answer = answers[hostname];
    if (answer === undefined) return Promise.reject(new Error(`no fake answer for ${hostname}`));
    return answer instanceof Error ? Promise.reject(answer) : Promise.resolve(answer);
  };
  return { resolve, asked };
}

/** Runs `body` against a real HTTP server on 127.0.0.1; `host` is `127.0.0.1:<port>`. */
async function withServer(
  handler: (req: Request, url: URL) => Response | Promise<Response>,
  body: (host: string, seen: string[]) => Promise<void>,
): Promise<void> {
  const seen: string[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    const url = new URL(req.url);
    seen.push(`${req.method} ${url.pathname}`);
    return handler(req, url);
  });
  try {
    await body(`127.0.0.1:${server.addr.port}`, seen);
  } finally {
    await server.shutdown();
  }
}

function redirect(location: string, status = 302): Response {
  return new Response(null, { status, headers: { location } });
}

const PUBLIC_V4 = "93.184.216.34";
const PUBLIC_V6 = "2606:2800:21f:cb07:6820:80da:af6b:8b2c";

Deno.test("safe fetch: refuses private IP literals in every spelling, without DNS or fetch", async () => {
  const net = publicFetch();
  const dns = fakeResolver();
  const safeFetch = createSafeFetch({ timeoutMs: 1000, fetch: net.fn, resolve: dns.resolve });
  const cases: Array<[string, string]> = [
    ["https://127.0.0.1/", "127.0.0.1"],
    ["https://127.255.0.9:8443/x", "127.255.0.9"],
    ["https://localhost/", "localhost"],
    ["https://LOCALHOST./", "localhost."],
    ["https://api.localhost/", "api.localhost"],
    ["https://10.0.0.5/x", "10.0.0.5"],
    ["https://10.255.255.255/", "10.255.255.255"],
    ["https://172.16.0.1/", "172.16.0.1"],
    ["https://172.31.255.254/", "172.31.255.254"],
    ["https://192.168.1.1/", "192.168.1.1"],
    ["https://169.254.169.254/latest/meta-data/", "169.254.169.254"],
    ["https://100.64.0.1/", "100.64.0.1"],
    ["https://0.0.0.0/", "0.0.0.0"],
    ["https://0/", "0.0.0.0"],
    ["https://224.0.0.1/", "224.0.0.1"],
    ["https://255.255.255.255/", "255.255.255.255"],
    ["https://2130706433/", "127.0.0.1"], // decimal
    ["https://0x7f000001/", "127.0.0.1"], // hex
    ["https://0x7f.0x0.0x0.0x1/", "127.0.0.1"],
    ["https://017700000001/", "127.0.0.1"], // octal
    ["https://0177.0.0.1/", "127.0.0.1"],
    ["https://127.1/", "127.0.0.1"],
    ["https://[::1]/", "::1"],
    ["https://[0:0:0:0:0:0:0:1]/", "::1"],
    ["https://[::]/", "::"],
    ["https://[::ffff:127.0.0.1]/", "::ffff:7f00:1"],
    ["https://[::ffff:169.254.169.254]/", "::ffff:a9fe:a9fe"],
    ["https://[64:ff9b::10.0.0.1]/", "64:ff9b::a00:1"],
    ["https://[fd00::1]/", "fd00::1"],
    ["https://[fe80::1]/", "fe80::1"],
    ["https://[ff02::1]/", "ff02::1"],
  ];
  for (const [url, host] of cases) {
    const error = await refusal(safeFetch(url), "private_address");
    assert.match(error.message, new RegExp(`: ${host.replace(/[.[\]]/g, "\\$&")} is a private`));
  }
  assert.deepEqual(dns.asked, []);
  assert.deepEqual(net.calls, []);
});

Deno.test("safe fetch: the message names the URL and the address, not the query", async () => {
  const safeFetch = createSafeFetch({ timeoutMs: 1000, fetch: publicFetch().fn });
  const error = await refusal(
    safeFetch("http://10.0.0.5/x?X-Amz-Signature=secret#f"),
    "private_address",
  );
  assert.equal(error.message, "Refusing to fetch http://10.0.0.5/x: 10.0.0.5 is a private address");
  assert.equal(error.name, "SafeFetchError");
  assert.ok(error instanceof Error);
});

Deno.test("safe fetch: refuses other schemes and plain http to a host not allowed", async () => {
  const net = publicFetch();
  const dns = fakeResolver({ "example.com": [PUBLIC_V4] });
  const safeFetch = createSafeFetch({ timeoutMs: 1000, fetch: net.fn, resolve: dns.resolve });
  for (
    const url of [
      "file:///etc/passwd",
      "data:text/plain;base64,c2VjcmV0",
      "ftp://example.com/x",
      "blob:https://example.com/0b7a2a1e-0d7c-4a3e-9c4e-1f2f3a4b5c6d",
      "javascript:alert(1)",
      "ws://example.com/",
      "http://example.com/",
      "http://example.com:443/",
    ]
  ) {
    const error = await refusal(safeFetch(url), "scheme");
    assert.ok(!error.message.includes("c2VjcmV0"), error.message);
  }
  await refusal(safeFetch(new URL("file:///etc/passwd")), "scheme");
  await refusal(safeFetch("not a url"), "scheme");
  assert.deepEqual(dns.asked, []);
  assert.deepEqual(net.calls, []);
});

Deno.test("safe fetch: refuses credentials in the URL without showing them", async () => {
  const net = publicFetch();
  const safeFetch = createSafeFetch({
    timeoutMs: 1000,
    fetch: net.fn,
    resolve: fakeResolver({ host: [PUBLIC_V4] }).resolve,
  });
  for (const url of ["https://user:pw@host/", "https://user@host/", "https://:pw@host/"]) {
    const error = await refusal(safeFetch(url), "credentials");
    assert.ok(!error.message.includes("pw") && !error.message.includes("user"), error.message);
  }
  assert.deepEqual(net.calls, []);
});

Deno.test("safe fetch: refuses a name when any of its addresses is private", async () => {
  const net = publicFetch();
  const dns = fakeResolver({
    "internal.example": ["10.1.2.3"],
    "mixed.example": [PUBLIC_V4, "10.1.2.3"],
    "mixed6.example": [PUBLIC_V6, "fd12:3456::1"],
    "mapped.example": ["::ffff:192.168.0.1"],
    "meta.example": ["169.254.169.254"],
    "garbage.example": ["not-an-address"],
  });
  const safeFetch = createSafeFetch({ timeoutMs: 1000, fetch: net.fn, resolve: dns.resolve });
  const error = await refusal(safeFetch("https://internal.example/out.png"), "private_address");
  assert.equal(
    error.message,
    "Refusing to fetch https://internal.example/out.png: internal.example resolves to 10.1.2.3, " +
      "a private address",
  );
  for (const host of ["mixed", "mixed6", "mapped", "meta", "garbage"]) {
    await refusal(safeFetch(`https://${host}.example/`), "private_address");
  }
  assert.deepEqual(net.calls, []);
  assert.equal(dns.asked[0], "internal.example");
});

Deno.test("safe fetch: a name that cannot be resolved fails with reason dns", async () => {
  const net = publicFetch();
  const dns = fakeResolver({ "gone.example": new Error("NXDOMAIN"), "empty.example": [] });
  const safeFetch = createSafeFetch({ timeoutMs: 1000, fetch: net.fn, resolve: dns.resolve });
  const error = await refusal(safeFetch("https://gone.example/a"), "dns");
  assert.match(
    error.message,
    /^Cannot fetch https:\/\/gone\.example\/a: cannot resolve gone\.example/,
  );
  assert.ok(error.cause instanceof Error);
  await refusal(safeFetch("https://empty.example/a"), "dns");
  assert.deepEqual(net.calls, []);
});

Deno.test("safe fetch: a public name is fetched with manual redirects and the caller's init", async () => {
  const net = publicFetch(() => new Response(new Uint8Array([1, 2, 3])));
  const dns = fakeResolver({ "cdn.example": [PUBLIC_V4, PUBLIC_V6] });
  const safeFetch = createSafeFetch({ timeoutMs: 1000, fetch: net.fn, resolve: dns.resolve });
  const res = await safeFetch("https://cdn.example/files/out.png?sig=1", {
    headers: { "user-agent": "darkroom" },
    redirect: "follow",
  });
  assert.deepEqual(new Uint8Array(await res.arrayBuffer()), new Uint8Array([1, 2, 3]));
  assert.equal(net.calls.length, 1);
  const [call] = net.calls;
  assert.equal(call.url, "https://cdn.example/files/out.png?sig=1");
  assert.equal(call.init.redirect, "manual");
  assert.equal(call.init.method, "GET");
  assert.ok(call.init.signal instanceof AbortSignal);
  assert.equal(new Headers(call.init.headers).get("user-agent"), "darkroom");
  assert.deepEqual(dns.asked, ["cdn.example"]);
});

Deno.test("safe fetch: each hop is resolved again, so a name that turns private is refused", async () => {
  const answers = [[PUBLIC_V4], ["10.0.0.7"]];
  const asked: string[] = [];
  const resolve = (hostname: string) => {
    asked.push(hostname);
    return Promise.resolve(answers[asked.length - 1]);
  };
  const net = publicFetch((url) => url.pathname === "/a" ? redirect("/b") : new Response("b"));
  const safeFetch = createSafeFetch({ timeoutMs: 1000, fetch: net.fn, resolve });
  const error = await refusal(safeFetch("https://rebind.example/a"), "private_address");
  assert.match(error.message, /rebind\.example\/b: rebind\.example resolves to 10\.0\.0\.7/);
  assert.deepEqual(net.calls.map((c) => c.url), ["https://rebind.example/a"]);
  assert.deepEqual(asked, ["rebind.example", "rebind.example"]);
});

Deno.test("safe fetch: allowPrivate allows private addresses but still only https", async () => {
  const net = publicFetch();
  const dns = fakeResolver({ "nas.lan": ["192.168.1.20"] });
  const safeFetch = createSafeFetch({
    timeoutMs: 1000,
    allowPrivate: true,
    fetch: net.fn,
    resolve: dns.resolve,
  });
  assert.equal(await (await safeFetch("https://10.0.0.5/x")).text(), "ok");
  assert.equal(await (await safeFetch("https://localhost/x")).text(), "ok");
  assert.equal(await (await safeFetch("https://nas.lan/x")).text(), "ok");
  await refusal(safeFetch("http://10.0.0.5/x"), "scheme");
  await refusal(safeFetch("https://u:p@10.0.0.5/x"), "credentials");
  assert.deepEqual(net.calls.map((c) => c.url), [
    "https://10.0.0.5/x",
    "https://localhost/x",
    "https://nas.lan/x",
  ]);
});

Deno.test("safe fetch: an allowed host is fetched for real over http; other hosts are not", async () => {
  const bytes = new Uint8Array([137, 80, 78, 71, 13, 10, 26, 10]);
  await withServer(
    () => new Response(bytes, { headers: { "content-type": "image/png" } }),
    async (host, seen) => {
      const port = host.split(":")[1];
      const allowed = createSafeFetch({ timeoutMs: 2000, allowHosts: [host] });
      const res = await allowed(`http://${host}/files/out.png`);
      assert.equal(res.status, 200);
      assert.equal(res.headers.get("content-type"), "image/png");
      assert.deepEqual(new Uint8Array(await res.arrayBuffer()), bytes);

      // Without a port the entry matches any port of that host.
      const anyPort = createSafeFetch({ timeoutMs: 2000, allowHosts: ["127.0.0.1"] });
      await (await anyPort(`http://${host}/any`)).body?.cancel();

      // Not allowed: the same server is loopback, and another port of it is not the allowed host.
      const strict = createSafeFetch({ timeoutMs: 2000 });
      await refusal(strict(`http://${host}/x`), "private_address");
      await refusal(strict(`https://${host}/x`), "private_address");
      const otherPort = createSafeFetch({ timeoutMs: 2000, allowHosts: ["127.0.0.1:1"] });
      await refusal(otherPort(`http://${host}/x`), "private_address");
      assert.ok(port);
      assert.deepEqual(seen, ["GET /files/out.png", "GET /any"]);
    },
  );
});

Deno.test("safe fetch: allowHosts entries must be host or host:port", () => {
  for (const entry of ["http://127.0.0.1:8000", "127.0.0.1/x", "user@host", "", "host:port"]) {
    assert.throws(() => createSafeFetch({ timeoutMs: 1, allowHosts: [entry] }), TypeError);
  }
  createSafeFetch({ timeoutMs: 1, allowHosts: ["[::1]:8080", "Fake-Replicate:80", "localhost"] });
});

Deno.test("safe fetch: follows a same-host redirect and re-sends a 303 as GET", async () => {
  await withServer(
    async (req, url) => {
      if (url.pathname === "/old") return redirect("/new");
      if (url.pathname === "/post") return redirect(`/result`, 303);
      if (url.pathname === "/keep") return redirect(`/echo`, 307);
      if (url.pathname === "/echo") return new Response(`${req.method} ${await req.text()}`);
      return new Response(`${req.method} ${url.pathname}`);
    },
    async (host, seen) => {
      const safeFetch = createSafeFetch({ timeoutMs: 2000, allowHosts: [host] });
      const res = await safeFetch(`http://${host}/old`);
      assert.equal(await res.text(), "GET /new");
      assert.equal(res.url, `http://${host}/new`);

      const posted = await safeFetch(`http://${host}/post`, { method: "POST", body: "{}" });
      assert.equal(await posted.text(), "GET /result");

      const kept = await safeFetch(`http://${host}/keep`, { method: "POST", body: "payload" });
      assert.equal(await kept.text(), "POST payload");

      const stream = new ReadableStream({
        start(c) {
          c.enqueue(new TextEncoder().encode("x"));
          c.close();
        },
      });
      await refusal(safeFetch(`http://${host}/keep`, { method: "POST", body: stream }), "redirect");
      assert.deepEqual(seen, [
        "GET /old",
        "GET /new",
        "POST /post",
        "GET /result",
        "POST /keep",
        "POST /echo",
        "POST /keep",
      ]);
    },
  );
});

Deno.test("safe fetch: refuses redirects to another port, the metadata address or another host", async () => {
  await withServer(() => new Response("other"), async (otherHost, otherSeen) => {
    await withServer((_req, url) => {
      const targets: Record<string, string> = {
        "/to-other-port": `http://${otherHost}/steal`,
        "/to-metadata": "http://169.254.169.254/latest/meta-data/iam/",
        "/to-other-host": "https://example.com/x",
        "/to-https": `https://${url.host}/same-host-but-https`,
        "/to-file": "file:///etc/passwd",
        "/to-garbage": "http://[::1",
      };
      return redirect(targets[url.pathname]);
    }, async (host) => {
      const net = publicFetch();
      const only = createSafeFetch({ timeoutMs: 2000, allowHosts: [host] });
      const both = createSafeFetch({ timeoutMs: 2000, allowHosts: [host, otherHost] });
      const error = await refusal(only(`http://${host}/to-other-port`), "redirect");
      assert.equal(
        error.message,
        `Refusing to fetch http://${host}/to-other-port: it redirects to another host ` +
          `(http://${otherHost}/steal)`,
      );
      await refusal(both(`http://${host}/to-other-port`), "redirect");
      await refusal(only(`http://${host}/to-metadata`), "redirect");
      await refusal(only(`http://${host}/to-other-host`), "redirect");
      await refusal(only(`http://${host}/to-https`), "redirect");
      await refusal(only(`http://${host}/to-file`), "redirect");
      await refusal(only(`http://${host}/to-garbage`), "redirect");
      assert.deepEqual(otherSeen, []);
      assert.deepEqual(net.calls, []);
    });
  });
});

Deno.test("safe fetch: follows at most maxRedirects redirects", async () => {
  await withServer((_req, url) => {
    const n = Number(url.pathname.slice("/chain/".length));
    return n > 0 ? redirect(`/chain/${n - 1}`) : new Response("end");
  }, async (host, seen) => {
    const safeFetch = createSafeFetch({ timeoutMs: 2000, allowHosts: [host] });
    assert.equal(await (await safeFetch(`http://${host}/chain/3`)).text(), "end");
    const error = await refusal(safeFetch(`http://${host}/chain/4`), "too_many_redirects");
    assert.equal(error.message, `Refusing to fetch http://${host}/chain/4: more than 3 redirects`);
    assert.equal(seen.length, 4 + 4);

    const none = createSafeFetch({ timeoutMs: 2000, allowHosts: [host], maxRedirects: 0 });
    await refusal(none(`http://${host}/chain/1`), "too_many_redirects");
    assert.equal(await (await none(`http://${host}/chain/0`)).text(), "end");
  });
});

Deno.test("safe fetch: times out a slow answer, and honours the caller's signal", async () => {
  // Slow answers wait until the test releases them, so no timer outlives the test.
  const release = new AbortController();
  const slow = () =>
    new Promise<Response>((resolve) => {
      const id = setTimeout(() => resolve(new Response("late")), 5000);
      release.signal.addEventListener("abort", () => {
        clearTimeout(id);
        resolve(new Response("released"));
      });
    });
  await withServer((_req, url) => {
    if (url.pathname === "/slow") return slow();
    // Headers at once, then a body that never ends.
    const body = new ReadableStream<Uint8Array>({
      start(c) {
        c.enqueue(new Uint8Array(10));
      },
    });
    return new Response(body);
  }, async (host) => {
    const safeFetch = createSafeFetch({ timeoutMs: 150, allowHosts: [host] });
    const started = performance.now();
    const error = await refusal(safeFetch(`http://${host}/slow`), "timeout");
    assert.ok(performance.now() - started < 2000);
    assert.equal(error.message, `Cannot fetch http://${host}/slow: no answer within 150 ms`);

    // The deadline also covers reading the body.
    const res = await safeFetch(`http://${host}/trickle`);
    await assert.rejects(res.arrayBuffer(), (e: Error) => e.name === "TimeoutError");

    // A caller's abort is the caller's error, not a timeout.
    const caller = new AbortController();
    const patient = createSafeFetch({ timeoutMs: 10_000, allowHosts: [host] });
    const pending = patient(`http://${host}/slow`, { signal: caller.signal });
    setTimeout(() => caller.abort(new Error("shutting down")), 50);
    await assert.rejects(pending, { message: "shutting down" });
    release.abort();
  });
});

Deno.test("safe fetch: the deadline also bounds a slow resolver", async () => {
  const net = publicFetch();
  const safeFetch = createSafeFetch({
    timeoutMs: 50,
    fetch: net.fn,
    resolve: (_host, options) =>
      new Promise((_resolve, reject) => {
        options?.signal?.addEventListener("abort", () => reject(new Error("resolver stopped")));
      }),
  });
  await refusal(safeFetch("https://slow-dns.example/"), "timeout");
  assert.deepEqual(net.calls, []);
});

Deno.test("isPrivateAddress: private, reserved and embedded ranges vs public addresses", () => {
  const table: Array<[string, boolean]> = [
    ["127.0.0.1", true],
    ["127.255.255.255", true],
    ["10.0.0.0", true],
    ["10.255.255.255", true],
    ["172.15.255.255", false],
    ["172.16.0.0", true],
    ["172.31.255.255", true],
    ["172.32.0.0", false],
    ["192.168.0.1", true],
    ["192.169.0.1", false],
    ["169.254.169.254", true],
    ["169.254.0.1", true],
    ["100.64.0.1", true],
    ["100.127.255.255", true],
    ["100.128.0.0", false],
    ["0.0.0.0", true],
    ["0.1.2.3", true],
    ["224.0.0.1", true],
    ["239.255.255.255", true],
    ["240.0.0.1", true],
    ["255.255.255.255", true],
    ["192.0.2.1", true],
    ["198.18.0.1", true],
    ["198.51.100.7", true],
    ["203.0.113.9", true],
    ["8.8.8.8", false],
    ["1.1.1.1", false],
    ["93.184.216.34", false],
    ["2130706433", true], // 127.0.0.1 spelled as a number
    ["0x7f000001", true],
    ["017700000001", true],
    ["134744072", false], // 8.8.8.8 spelled as a number
    ["::1", true],
    ["[::1]", true],
    ["::", true],
    ["::ffff:127.0.0.1", true],
    ["::ffff:7f00:1", true],
    ["::ffff:10.1.2.3", true],
    ["::ffff:8.8.8.8", false],
    ["::127.0.0.1", true], // deprecated IPv4-compatible
    ["64:ff9b::10.0.0.1", true],
    ["64:ff9b::8.8.8.8", false],
    ["2002:c0a8:101::1", true], // 6to4 of 192.168.1.1
    ["2002:808:808::1", false], // 6to4 of 8.8.8.8
    ["fc00::1", true],
    ["fd12:3456:789a::1", true],
    ["fe80::1", true],
    ["fe80::1%eth0", true],
    ["fec0::1", true],
    ["ff02::1", true],
    ["2001:db8::1", true],
    ["2001::1", true], // Teredo
    ["3fff::1", true],
    ["2606:4700:4700::1111", false],
    ["2a00:1450:4001:82b::200e", false],
    [PUBLIC_V6, false],
    ["", true],
    ["example.com", true],
    ["not-an-address", true],
    ["1.2.3.4.5", true],
    ["::1]@evil.example", true],
    ["1.1.1.1@127.0.0.1", true],
  ];
  for (const [ip, expected] of table) {
    assert.equal(isPrivateAddress(ip), expected, ip);
  }
});
