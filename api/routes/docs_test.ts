import assert from "node:assert/strict";
import { Hono } from "hono";
import { launchChromium, recordedPage } from "../../shared/testing/browser.ts";
import { generateRequest, LIMITS } from "../../shared/jobs/schemas.ts";
import { markCompleted } from "../../shared/jobs/repo.ts";
import { createTestDeps, type TestDeps } from "../../shared/testing/app_deps.ts";
import { decodeBody, decodeText } from "../../shared/testing/encoded.ts";
import { createApp } from "../app.ts";
import { openApiDocument } from "../openapi/document.ts";
import { DOCS_CSP, docsRoutes } from "./docs.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };
const PREFIX = "/api/v1";
const VERSION = "0.0.0-test";
const METHODS = ["get", "put", "post", "delete", "options", "head", "patch", "trace"] as const;
const ADMIN_QUEUES = "/admin/queues";
/** Documented here, but mounted outside createApp (Bull Board, or the Deno KV queue's page). */
const MAY_BE_MOUNTED_ELSEWHERE = new Set([ADMIN_QUEUES]);

// deno-lint-ignore no-explicit-any
type Json = any;

const DOC_OPTIONS = { prefix: PREFIX, version: VERSION, adminQueuesPath: ADMIN_QUEUES };
const doc: Json = openApiDocument(DOC_OPTIONS);

/** Follows a local JSON pointer (`#/components/...`). */
function resolvePointer(root: Json, pointer: string): Json {
  assert.ok(pointer.startsWith("#/"), `only local $refs: ${pointer}`);
  let node = root;
  for (const raw of pointer.slice(2).split("/")) {
    const key = raw.replaceAll("~1", "/").replaceAll("~0", "~");
    if (node === null || typeof node !== "object" || !(key in node)) return undefined;
    node = node[key];
  }
  return node;
}

function deref(value: Json): Json {
  return value && typeof value === "object" && typeof value.$ref === "string"
    ? resolvePointer(doc, value.$ref)
    : value;
}

/** Every `$ref` string anywhere under `node`, with where it was found. */
function collectRefs(node: Json, at = "#", out: [string, string][] = []): [string, string][] {
  if (Array.isArray(node)) node.forEach((v, i) => collectRefs(v, `${at}/${i}`, out));
  else if (node && typeof node === "object") {
    for (const [k, v] of Object.entries(node)) {
      if (k === "$ref" && typeof v === "string") out.push([at, v]);
      else collectRefs(v, `${at}/${k}`, out);
    }
  }
  return out;
}

function operations(): { path: string; method: string; op: Json }[] {
  const out = [];
  for (const [path, item] of Object.entries<Json>(doc.paths)) {
    for (const method of METHODS) if (item[method]) out.push({ path, method, op: item[method] });
  }
  return out;
}

function typeOf(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  if (typeof value === "number") return Number.isInteger(value) ? "integer" : "number";
  return typeof value;
}

/**
 * A small JSON Schema (2020-12 subset) checker: enough for the keywords this document uses, so
 * examples and real answers can be held against the schemas. Returns the problems found.
 */
function validate(schema: Json, value: unknown, at = "$"): string[] {
  if (schema === undefined || schema === true) return [];
  if (schema === false) return [`${at}: no value allowed`];
  const problems: string[] = [];
  if (typeof schema.$ref === "string") {
    const target = resolvePointer(doc, schema.$ref);
    if (target === undefined) return [`${at}: unresolved ${schema.$ref}`];
    const { $ref: _, ...siblings } = schema;
    return [...validate(target, value, at), ...validate(siblings, value, at)];
  }
  if (schema.anyOf && !schema.anyOf.some((s: Json) => validate(s, value, at).length === 0)) {
    problems.push(`${at}: matches none of anyOf`);
  }
  if (schema.oneOf) {
    const matches = schema.oneOf.filter((s: Json) => validate(s, value, at).length === 0).length;
    if (matches !== 1) problems.push(`${at}: matches ${matches} of oneOf`);
  }
  for (const s of schema.allOf ?? []) problems.push(...validate(s, value, at));
  if ("const" in schema && JSON.stringify(schema.const) !== JSON.stringify(value)) {
    problems.push(`${at}: ${JSON.stringify(value)} is not ${JSON.stringify(schema.const)}`);
  }
  if (
    schema.enum && !schema.enum.some((e: unknown) => JSON.stringify(e) === JSON.stringify(value))
  ) {
    problems.push(`${at}: ${JSON.stringify(value)} is not one of ${JSON.stringify(schema.enum)}`);
  }
  const actual = typeOf(value);
  if (schema.type) {
    const allowed: string[] = Array.isArray(schema.type) ? schema.type : [schema.type];
    const ok = allowed.includes(actual) || (actual === "integer" && allowed.includes("number"));
    if (!ok) return [...problems, `${at}: ${actual} is not ${allowed.join("|")}`];
  }
  if (typeof value === "string") {
    if (schema.minLength !== undefined && value.length < schema.minLength) {
      problems.push(`${at}: shorter than ${schema.minLength}`);
    }
    if (schema.maxLength !== undefined && value.length > schema.maxLength) {
      problems.push(`${at}: longer than ${schema.maxLength}`);
    }
    if (schema.pattern && !new RegExp(schema.pattern, "u").test(value)) {
      problems.push(`${at}: ${JSON.stringify(value)} does not match ${schema.pattern}`);
    }
  }
  if (typeof value === "number") {
    if (schema.minimum !== undefined && value < schema.minimum) problems.push(`${at}: < min`);
    if (schema.maximum !== undefined && value > schema.maximum) problems.push(`${at}: > max`);
  }
  if (Array.isArray(value) && schema.items) {
    value.forEach((v, i) => problems.push(...validate(schema.items, v, `${at}[${i}]`)));
  }
  if (actual === "object") {
    const obj = value as Record<string, unknown>;
    for (const key of schema.required ?? []) {
      if (!(key in obj)) problems.push(`${at}: missing ${key}`);
    }
    const props = schema.properties ?? {};
    for (const [key, v] of Object.entries(obj)) {
      if (schema.propertyNames) problems.push(...validate(schema.propertyNames, key, `${at}{}`));
      if (key in props) problems.push(...validate(props[key], v, `${at}.${key}`));
      else if (schema.additionalProperties !== undefined) {
        problems.push(...validate(schema.additionalProperties, v, `${at}.${key}`));
      }
    }
  }
  return problems;
}

/** Hono `/jobs/:id` → `/jobs/{}`; OpenAPI `/jobs/{job_id}` → `/jobs/{}` (names may differ). */
function routeKey(path: string): string {
  return path.replace(/:[A-Za-z0-9_]+(\{[^}]*\})?\??/g, "{}").replace(/\{[^}]+\}/g, "{}");
}

/** The served routes as `METHOD key`, from Hono's route table. */
function servedRoutes(app: Hono): { method: string; path: string; key: string }[] {
  return app.routes
    // `*` entries are middleware (request id, logging) and catch-all fallbacks (JSON 404s);
    // Bull Board's own API and files under /admin/queues/ are its business, not this API's.
    .filter((r) => !r.path.includes("*") && !r.path.startsWith(`${ADMIN_QUEUES}/`))
    .map((r) => ({ method: r.method, path: r.path, key: routeKey(r.path) }));
}

function documentedOps(): Map<string, Set<string>> {
  const byKey = new Map<string, Set<string>>();
  for (const { path, method } of operations()) {
    const key = routeKey(path);
    if (!byKey.has(key)) byKey.set(key, new Set());
    byKey.get(key)!.add(method.toUpperCase());
  }
  return byKey;
}

/** Checks a real answer against the operation's documented status, media type and schema. */
async function assertConforms(method: string, template: string, res: Response): Promise<void> {
  const label = `${method.toUpperCase()} ${template} → ${res.status}`;
  const op = doc.paths[template]?.[method];
  assert.ok(op, `${label}: operation not documented`);
  const documented = deref(op.responses[String(res.status)] ?? op.responses.default);
  assert.ok(documented, `${label}: status not documented`);
  const type = (res.headers.get("content-type") ?? "").split(";")[0].trim();
  if (!documented.content) {
    assert.equal((await res.arrayBuffer()).byteLength, 0, `${label}: undocumented body`);
    return;
  }
  const media = documented.content[type] ?? documented.content["*/*"];
  assert.ok(media, `${label}: ${type} not among ${Object.keys(documented.content)}`);
  if (type !== "application/json") {
    await res.body?.cancel();
    return;
  }
  const body = await res.json();
  assert.deepEqual(validate(media.schema, body), [], `${label}: ${JSON.stringify(body)}`);
}

function withDeps(name: string, fn: (deps: TestDeps, app: Hono) => Promise<void> | void) {
  Deno.test({
    name,
    ...opts,
    fn: async () => {
      const deps = await createTestDeps();
      try {
        // The docs routes next to the API, as the lead mounts them.
        const app = new Hono();
        app.route("/", docsRoutes({ ...DOC_OPTIONS, prefix: deps.config.API_V1_PREFIX }));
        app.route("/", createApp(deps));
        await fn(deps, app);
      } finally {
        await deps.cleanup();
      }
    },
  });
}

Deno.test("openapi: a well-formed OpenAPI 3.1 document", () => {
  assert.match(doc.openapi, /^3\.1\.\d+$/);
  assert.equal(typeof doc.info.title, "string");
  assert.equal(doc.info.version, VERSION);
  assert.ok(Object.keys(doc.paths).length >= 15);
  for (const path of Object.keys(doc.paths)) assert.match(path, /^\//, path);

  const ids = new Set<string>();
  for (const { path, method, op } of operations()) {
    const label = `${method.toUpperCase()} ${path}`;
    assert.ok(op.operationId && !ids.has(op.operationId), `${label}: unique operationId`);
    ids.add(op.operationId);
    assert.ok(op.summary, `${label}: summary`);
    assert.ok(op.tags?.every((t: string) => doc.tags.some((d: Json) => d.name === t)), label);
    const statuses = Object.keys(op.responses ?? {});
    assert.ok(statuses.length > 0, `${label}: has responses`);
    for (const status of statuses) {
      assert.match(status, /^[1-5]\d\d$|^default$/, `${label} ${status}`);
      const response = deref(op.responses[status]);
      assert.equal(typeof response?.description, "string", `${label} ${status}: description`);
      // Every JSON answer carries an example that matches its schema.
      const media = response.content?.["application/json"];
      if (media) {
        const examples = media.example !== undefined
          ? [media.example]
          : Object.values<Json>(media.examples ?? {}).map((e) => e.value);
        assert.ok(examples.length > 0, `${label} ${status}: example`);
        for (const example of examples) {
          assert.deepEqual(validate(media.schema, example), [], `${label} ${status} example`);
        }
      }
    }
    // Every `{param}` in the path is declared as a required path parameter.
    const params = (op.parameters ?? []).map(deref);
    for (const [, name] of path.matchAll(/\{([^}]+)\}/g)) {
      const p = params.find((p: Json) => p.in === "path" && p.name === name);
      assert.ok(p?.required === true, `${label}: path parameter ${name}`);
    }
  }

  const refs = collectRefs(doc);
  assert.ok(refs.length > 20);
  for (const [at, target] of refs) {
    assert.notEqual(resolvePointer(doc, target), undefined, `${at}: $ref ${target} resolves`);
  }
  // The zod schemas are the source: limits in the document are the validator's limits.
  const body = doc.components.schemas.GenerateRequest;
  assert.equal(body.properties.prompt.maxLength, LIMITS.promptChars);
  assert.deepEqual(body.required, ["prompt", "model"]);
  assert.deepEqual(body.properties.priority.enum, ["high", "normal", "low"]);
  const params = doc.components.schemas.GenerationParameters.properties;
  assert.equal(params.width.maximum, LIMITS.maxSide);
  assert.equal(params.num_outputs.maximum, LIMITS.maxOutputs);
  const list = doc.paths[`${PREFIX}/jobs`].get.parameters;
  assert.deepEqual(list.map((p: Json) => p.name), [
    "skip",
    "limit",
    "status",
    "provider",
    // The library's search and filters (issue 21).
    "q",
    "model",
    "starred",
    "collection",
    "after",
    "before",
    "sort",
    "cursor",
  ]);
  assert.equal(list.find((p: Json) => p.name === "limit").schema.maximum, 100);
  // Request examples pass the real validator.
  const examples = doc.paths[`${PREFIX}/generate`].post.requestBody.content["application/json"]
    .examples;
  for (const [name, { value }] of Object.entries<Json>(examples)) {
    assert.ok(generateRequest.safeParse(value).success, `request example ${name}`);
    assert.deepEqual(validate(body, value), [], `request example ${name}`);
  }
});

Deno.test("openapi: the prefix is applied and Bull Board is listed only when mounted", () => {
  const other = openApiDocument({ prefix: "/v2", version: "1" }) as Json;
  assert.ok(other.paths["/v2/generate"]);
  assert.ok(!other.paths[`${PREFIX}/generate`]);
  assert.equal(other.paths[ADMIN_QUEUES], undefined);
  const admin = openApiDocument({
    prefix: "/v2",
    version: "1",
    adminQueuesPath: ADMIN_QUEUES,
  }) as Json;
  assert.ok(admin.paths[ADMIN_QUEUES].get);
});

withDeps("openapi: every route the app serves is documented, and only those", (_, app) => {
  const documented = documentedOps();
  const served = servedRoutes(app);
  assert.ok(served.length >= 15, `routes: ${served.map((r) => r.path)}`);
  const missing: string[] = [];
  for (const { method, path, key } of served) {
    const methods = documented.get(key);
    const ok = methods !== undefined && (
      method === "ALL" ||
      methods.has(method) ||
      // Hono answers HEAD with the GET handler.
      (method === "HEAD" && methods.has("GET"))
    );
    if (!ok) missing.push(`${method} ${path}`);
  }
  assert.deepEqual(missing, [], "served but not documented");
  const servedKeys = new Set(served.map((r) => r.key));
  const phantom = [...documented.keys()].filter((key) =>
    !servedKeys.has(key) && !MAY_BE_MOUNTED_ELSEWHERE.has(key)
  );
  assert.deepEqual(phantom, [], "documented but not served");
});

withDeps("openapi: the library's answers match the documented statuses and schemas", async (
  _deps,
  app,
) => {
  const send = (method: string, path: string, body?: unknown) =>
    app.request(`${PREFIX}${path}`, {
      method,
      headers: body === undefined ? {} : { "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  const made = await send("POST", "/generate", { prompt: "a fox", model: "local/abstract" });
  const { job_id } = await made.json();
  await send("POST", "/generate", { prompt: "a hare", model: "local/abstract" });
  const page = await send("GET", "/jobs?q=fox&limit=1&sort=oldest");
  await assertConforms("get", `${PREFIX}/jobs`, page);
  const first = await send("GET", "/jobs?limit=1");
  assert.ok(first.headers.get("x-next-cursor"));
  await assertConforms("get", `${PREFIX}/jobs`, first);
  await assertConforms("get", `${PREFIX}/jobs`, await send("GET", "/jobs?cursor=nope"));
  await assertConforms(
    "post",
    `${PREFIX}/jobs/{job_id}/star`,
    await send("POST", `/jobs/${job_id}/star`),
  );
  await assertConforms(
    "delete",
    `${PREFIX}/jobs/{job_id}/star`,
    await send("DELETE", `/jobs/${job_id}/star`),
  );
  await assertConforms("post", `${PREFIX}/jobs/{job_id}/star`, await send("POST", "/jobs/x/star"));
  const created = await send("POST", "/collections", { name: "Foxes" });
  const { id } = await created.clone().json();
  await assertConforms("post", `${PREFIX}/collections`, created);
  await assertConforms(
    "post",
    `${PREFIX}/collections`,
    await send("POST", "/collections", { name: "foxes" }),
  );
  await assertConforms(
    "post",
    `${PREFIX}/collections`,
    await send("POST", "/collections", { name: "" }),
  );
  await assertConforms("post", `${PREFIX}/collections`, await send("POST", "/collections", "x"));
  await assertConforms("get", `${PREFIX}/collections`, await send("GET", "/collections"));
  await assertConforms(
    "get",
    `${PREFIX}/collections/{collection_id}`,
    await send("GET", `/collections/${id}`),
  );
  await assertConforms(
    "get",
    `${PREFIX}/collections/{collection_id}`,
    await send("GET", "/collections/x"),
  );
  await assertConforms(
    "patch",
    `${PREFIX}/collections/{collection_id}`,
    await send("PATCH", `/collections/${id}`, { name: "Hares" }),
  );
  await assertConforms(
    "post",
    `${PREFIX}/collections/{collection_id}/jobs`,
    await send("POST", `/collections/${id}/jobs`, { ids: [job_id, "nope"] }),
  );
  await assertConforms(
    "delete",
    `${PREFIX}/collections/{collection_id}/jobs/{job_id}`,
    await send("DELETE", `/collections/${id}/jobs/${job_id}`),
  );
  await assertConforms(
    "post",
    `${PREFIX}/jobs/bulk`,
    await send("POST", "/jobs/bulk", { ids: [job_id, crypto.randomUUID()], action: "star" }),
  );
  await assertConforms(
    "post",
    `${PREFIX}/jobs/bulk`,
    await send("POST", "/jobs/bulk", { ids: [job_id], action: "add_to" }),
  );
  await assertConforms(
    "delete",
    `${PREFIX}/collections/{collection_id}`,
    await send("DELETE", `/collections/${id}`),
  );
  await assertConforms(
    "delete",
    `${PREFIX}/collections/{collection_id}`,
    await send("DELETE", `/collections/${id}`),
  );
});

withDeps("openapi: real answers match the documented statuses and schemas", async (deps, app) => {
  const post = (path: string, body: string, headers: Record<string, string> = {}) =>
    app.request(path, {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body,
    });
  const good = JSON.stringify({ prompt: "a fox", model: "local/abstract", priority: "low" });

  let res = await post(`${PREFIX}/generate`, good, { "idempotency-key": "k-1" });
  const { job_id } = await res.clone().json();
  await assertConforms("post", `${PREFIX}/generate`, res);
  await assertConforms("post", `${PREFIX}/generate`, await post(`${PREFIX}/generate`, "{"));
  await assertConforms(
    "post",
    `${PREFIX}/generate`,
    await post(`${PREFIX}/generate`, JSON.stringify({ prompt: "" })),
  );
  await assertConforms(
    "post",
    `${PREFIX}/generate`,
    await post(`${PREFIX}/generate`, JSON.stringify({ prompt: "x", model: "a/b" })),
  );
  await assertConforms(
    "post",
    `${PREFIX}/generate`,
    await post(`${PREFIX}/generate`, "x".repeat(LIMITS.bodyBytes + 1)),
  );
  await assertConforms(
    "post",
    `${PREFIX}/generate`,
    await app.request(`${PREFIX}/generate`, { method: "POST", body: good }),
  );
  await assertConforms(
    "post",
    `${PREFIX}/generate`,
    await post(`${PREFIX}/generate`, JSON.stringify({ prompt: "other", model: "local/abstract" }), {
      "idempotency-key": "k-1",
    }),
  );

  await assertConforms(
    "get",
    `${PREFIX}/status/{job_id}`,
    await app.request(
      `${PREFIX}/status/${job_id}`,
    ),
  );
  await assertConforms(
    "get",
    `${PREFIX}/jobs/{job_id}`,
    await app.request(
      `${PREFIX}/jobs/${job_id}`,
    ),
  );
  await assertConforms(
    "get",
    `${PREFIX}/jobs/{job_id}`,
    await app.request(
      `${PREFIX}/jobs/not-a-uuid`,
    ),
  );
  res = await app.request(`${PREFIX}/jobs?limit=5&status=pending`);
  assert.equal(res.headers.get("x-total-count"), "1");
  await assertConforms("get", `${PREFIX}/jobs`, res);
  await assertConforms("get", `${PREFIX}/jobs`, await app.request(`${PREFIX}/jobs?limit=500`));
  await assertConforms(
    "post",
    `${PREFIX}/jobs/{job_id}/retry`,
    await app.request(
      `${PREFIX}/jobs/${job_id}/retry`,
      { method: "POST" },
    ),
  );
  await assertConforms(
    "post",
    `${PREFIX}/jobs/{job_id}/cancel`,
    await app.request(
      `${PREFIX}/jobs/${job_id}/cancel`,
      { method: "POST" },
    ),
  );
  await assertConforms(
    "post",
    `${PREFIX}/jobs/{job_id}/cancel`,
    await app.request(
      `${PREFIX}/jobs/${job_id}/cancel`,
      { method: "POST" },
    ),
  );
  await assertConforms(
    "post",
    `${PREFIX}/jobs/{job_id}/retry`,
    await app.request(
      `${PREFIX}/jobs/${job_id}/retry`,
      { method: "POST" },
    ),
  );
  await assertConforms("get", `${PREFIX}/models`, await app.request(`${PREFIX}/models`));
  await assertConforms("get", `${PREFIX}/usage`, await app.request(`${PREFIX}/usage`));
  await assertConforms(
    "get",
    `${PREFIX}/usage`,
    await app.request(`${PREFIX}/usage?group_by=model&from=2026-01-01&to=2026-02-01`),
  );
  await assertConforms("get", `${PREFIX}/usage`, await app.request(`${PREFIX}/usage?from=x`));
  // A deduplicated submit answers the finished job (200).
  const seeded = JSON.stringify({
    prompt: "twin",
    model: "local/abstract",
    parameters: { seed: 1 },
    dedupe: true,
  });
  const twin = await (await post(`${PREFIX}/generate`, seeded)).json();
  await markCompleted(deps.db, twin.job_id, []);
  res = await post(`${PREFIX}/generate`, seeded);
  assert.equal(res.status, 200);
  await assertConforms("post", `${PREFIX}/generate`, res);
  await assertConforms(
    "post",
    `${PREFIX}/generate`,
    await post(
      `${PREFIX}/generate`,
      JSON.stringify({ prompt: "x", model: "local/abstract", dedupe: true }),
    ),
  );
  await assertConforms("get", `${PREFIX}/health`, await app.request(`${PREFIX}/health`));
  await assertConforms("get", `${PREFIX}/stats`, await app.request(`${PREFIX}/stats`));
  await assertConforms("get", `${PREFIX}/ready`, await app.request(`${PREFIX}/ready`));
  await assertConforms("get", "/metrics", await app.request("/metrics"));
  await assertConforms(
    "delete",
    `${PREFIX}/jobs/{job_id}`,
    await app.request(
      `${PREFIX}/jobs/${job_id}`,
      { method: "DELETE" },
    ),
  );
  await assertConforms(
    "delete",
    `${PREFIX}/jobs/{job_id}`,
    await app.request(
      `${PREFIX}/jobs/${job_id}`,
      { method: "DELETE" },
    ),
  );

  // Images: a real file, its range, its revalidation, a miss and an unsatisfiable range.
  const png = await Deno.readFile(
    new URL("../../node_modules/swagger-ui-dist/favicon-16x16.png", import.meta.url),
  );
  await Deno.mkdir(`${deps.storageRoot}/generated`, { recursive: true });
  await Deno.writeFile(`${deps.storageRoot}/generated/${job_id}-0.png`, png);
  const image = `/images/${job_id}-0.png`;
  res = await app.request(image);
  const etag = res.headers.get("etag")!;
  await assertConforms("get", "/images/{file}", res);
  await assertConforms(
    "get",
    "/images/{file}",
    await app.request(image, {
      headers: { range: "bytes=0-3" },
    }),
  );
  await assertConforms(
    "get",
    "/images/{file}",
    await app.request(image, {
      headers: { "if-none-match": etag },
    }),
  );
  await assertConforms(
    "get",
    "/images/{file}",
    await app.request(image, {
      headers: { range: `bytes=${png.length}-` },
    }),
  );
  await assertConforms("get", "/images/{file}", await app.request("/images/missing.png"));
  await assertConforms("head", "/images/{file}", await app.request(image, { method: "HEAD" }));

  await assertConforms("get", "/assets/{file}", await app.request("/assets/missing.js"));
  await assertConforms("get", "/", await app.request("/"));
  await assertConforms(
    "get",
    `${PREFIX}/openapi.json`,
    await app.request(
      `${PREFIX}/openapi.json`,
    ),
  );
  await assertConforms("get", `${PREFIX}/docs`, await app.request(`${PREFIX}/docs`));
  await assertConforms(
    "get",
    `${PREFIX}/docs/init.js`,
    await app.request(
      `${PREFIX}/docs/init.js`,
    ),
  );
  await assertConforms(
    "get",
    `${PREFIX}/docs/assets/{file}`,
    await app.request(
      `${PREFIX}/docs/assets/swagger-ui.css`,
    ),
  );
  await assertConforms(
    "get",
    `${PREFIX}/docs/assets/{file}`,
    await app.request(
      `${PREFIX}/docs/assets/nope.js`,
    ),
  );

  // The SSE stream: headers only.
  const controller = new AbortController();
  res = await app.request(`${PREFIX}/events`, { signal: controller.signal });
  assert.equal(res.status, 200);
  assert.ok(doc.paths[`${PREFIX}/events`].get.responses[200].content["text/event-stream"]);
  assert.match(res.headers.get("content-type") ?? "", /^text\/event-stream/);
  controller.abort();
  await res.body?.cancel().catch(() => {});
});

Deno.test("docs: the page, its script and its assets, with a strict policy", async () => {
  const app = docsRoutes(DOC_OPTIONS);

  const spec = await app.request(`${PREFIX}/openapi.json`);
  assert.equal(spec.status, 200);
  assert.match(spec.headers.get("content-type") ?? "", /^application\/json/);
  assert.deepEqual(await spec.json(), doc);

  const page = await app.request(`${PREFIX}/docs`);
  assert.equal(page.status, 200);
  assert.match(page.headers.get("content-type") ?? "", /^text\/html/);
  const csp = page.headers.get("content-security-policy") ?? "";
  assert.equal(csp, DOCS_CSP);
  const directives = new Map(
    csp.split(";").map((d) => d.trim().split(/\s+/)).map(([k, ...v]) => [k, v.join(" ")]),
  );
  assert.equal(directives.get("default-src"), "'none'");
  assert.equal(directives.get("script-src"), "'self'");
  assert.equal(directives.get("connect-src"), "'self'");
  assert.equal(directives.get("style-src"), "'self' 'unsafe-inline'");
  for (const value of directives.values()) assert.doesNotMatch(value, /https?:|\*|unsafe-eval/);

  const html = await page.text();
  const scripts = [...html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/gi)];
  assert.equal(scripts.length, 2);
  for (const [, attrs, body] of scripts) {
    assert.match(attrs, /\bsrc="\//, "every script is a file of this origin");
    assert.equal(body.trim(), "", "no inline script");
  }
  assert.doesNotMatch(html, /\son[a-z]+=/i, "no inline event handlers");
  assert.doesNotMatch(html, /(https?:)?\/\/[a-z0-9]/i, "nothing from another origin");

  // Every URL the page references answers, with the right type.
  const urls = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]);
  assert.ok(urls.includes(`${PREFIX}/docs/init.js`));
  const expected: [RegExp, string][] = [
    [/\.css\?/, "text/css"],
    [/\.js(\?|$)/, "text/javascript"],
    [/\.png\?/, "image/png"],
  ];
  for (const url of urls) {
    const res = await app.request(url.replaceAll("&amp;", "&"));
    assert.equal(res.status, 200, url);
    const type = expected.find(([re]) => re.test(url))![1];
    assert.match(res.headers.get("content-type") ?? "", new RegExp(`^${type}`), url);
    if (url.includes("/assets/")) {
      assert.equal(res.headers.get("cache-control"), "public, max-age=31536000, immutable");
      assert.match(url, /\?v=\d+\.\d+\.\d+$/, "asset URLs carry the version");
    }
    const body = await res.text();
    assert.ok(body.length > 0, url);
    if (url.endsWith("init.js")) {
      assert.ok(body.includes(JSON.stringify(`${PREFIX}/openapi.json`)));
      assert.ok(body.includes('"validatorUrl":null'));
    }
  }
  const bundle = await app.request(`${PREFIX}/docs/assets/swagger-ui-bundle.js`);
  assert.ok(Number((await bundle.arrayBuffer()).byteLength) > 500_000);

  for (const bad of ["nope.js", "package.json", "..%2Fpackage.json", "swagger-ui.js.map"]) {
    const res = await app.request(`${PREFIX}/docs/assets/${bad}`);
    assert.equal(res.status, 404, bad);
    assert.equal((await res.json()).error.code, "not_found");
  }
});

Deno.test("docs: the OpenAPI document and Swagger UI's files are compressed when accepted", async () => {
  const app = docsRoutes(DOC_OPTIONS);
  const plain = await app.request(`${PREFIX}/openapi.json`);
  assert.equal(plain.headers.get("content-encoding"), null);
  assert.equal(plain.headers.get("vary"), "Accept-Encoding");
  const text = await plain.text();
  for (const encoding of ["br", "gzip"]) {
    const res = await app.request(`${PREFIX}/openapi.json`, {
      headers: { "Accept-Encoding": `${encoding}, identity;q=0.5` },
    });
    assert.equal(res.headers.get("content-encoding"), encoding);
    assert.match(res.headers.get("content-type") ?? "", /^application\/json/);
    const { bytes, sent } = await decodeBody(res);
    assert.equal(new TextDecoder().decode(bytes), text);
    assert.ok(sent * 4 < bytes.length, `${encoding}: ${sent} of ${bytes.length} bytes`);
  }

  const bundle = `${PREFIX}/docs/assets/swagger-ui-bundle.js`;
  const full = new Uint8Array(await (await app.request(bundle)).arrayBuffer());
  const br = await app.request(bundle, { headers: { "Accept-Encoding": "gzip, br" } });
  assert.equal(br.headers.get("content-encoding"), "br");
  assert.equal(br.headers.get("vary"), "Accept-Encoding");
  assert.equal(br.headers.get("cache-control"), "public, max-age=31536000, immutable");
  const decoded = await decodeBody(br);
  assert.deepEqual(decoded.bytes, full);
  assert.ok(decoded.sent * 3 < full.length, `the bundle: ${decoded.sent} of ${full.length} bytes`);
  const css = await app.request(`${PREFIX}/docs/assets/swagger-ui.css`, {
    headers: { "Accept-Encoding": "gzip" },
  });
  assert.equal(css.headers.get("content-encoding"), "gzip");
  assert.match(await decodeText(css), /swagger-ui/);
  const icon = await app.request(`${PREFIX}/docs/assets/favicon-32x32.png`, {
    headers: { "Accept-Encoding": "br" },
  });
  assert.equal(icon.headers.get("content-encoding"), null, "images as they are");
  await icon.body?.cancel();
});

withDeps("docs: Swagger UI renders in Chromium offline and Try it out works", async (_, app) => {
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, app.fetch);
  const base = `http://127.0.0.1:${server.addr.port}`;
  const profile = await Deno.makeTempDir({ prefix: "darkroom-docs-chromium-" });
  const context = await launchChromium({ profile: profile });
  try {
    const { page, record } = await recordedPage(context);
    const { requests, problems } = record;

    const response = await page.goto(`${base}${PREFIX}/docs`, { waitUntil: "load" });
    assert.equal(response?.status(), 200);
    await page.waitForFunction(() => document.querySelectorAll(".opblock").length >= 10, null, {
      timeout: 30_000,
    });
    const count = await page.locator(".opblock").count();
    assert.equal(count, operations().length, "one block per documented operation");
    assert.equal(await page.locator(".info .title").first().textContent().then((t) => !!t), true);

    // Try it out: GET /models through the page, under its connect-src 'self'.
    const block = page.locator("#operations-Models-listModels");
    await block.locator(".opblock-summary").click();
    await block.locator("button.try-out__btn").click();
    await block.locator("button.execute").click();
    const status = block.locator(".live-responses-table tr.response .response-col_status").first();
    await status.waitFor({ timeout: 30_000 });
    assert.equal((await status.textContent())?.trim(), "200");

    assert.ok(requests.some((u) => u.endsWith(`${PREFIX}/openapi.json`)));
    assert.ok(requests.some((u) => u.endsWith(`${PREFIX}/models`)));
    const foreign = requests.filter((u) => {
      const url = new URL(u);
      return url.protocol !== "data:" && url.protocol !== "blob:" && url.hostname !== "127.0.0.1";
    });
    assert.deepEqual(foreign, [], "requests that left 127.0.0.1");
    assert.deepEqual(problems, [], "errors in the page");
  } finally {
    await context.close();
    await server.shutdown();
    await Deno.remove(profile, { recursive: true }).catch(() => {});
  }
});
