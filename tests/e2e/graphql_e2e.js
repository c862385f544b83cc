// The GraphQL gateway with graphql-js and graphql-sse, as the portal uses
// it: the schema introspected and rebuilt with buildClientSchema, every
// query validated against it before it is sent, queries and mutations on
// accounts and a bound kind as users with different rights, and
// subscriptions over server-sent events while kubectl makes changes.
// Started by graphql_e2e.py, which runs the server and passes PMESH_URL,
// the users' tokens, KUBECTL and alice's KUBECONFIG.
"use strict";
const assert = require("assert/strict");
const path = require("path");
const { execFileSync } = require("child_process");
const modules = path.join(__dirname, "..", "node_modules");
const { buildClientSchema, getIntrospectionQuery, parse, validate } = require(path.join(modules, "graphql"));
const { createClient } = require(path.join(modules, "graphql-sse"));

const URL = process.env.PMESH_URL;
const TOKENS = { alice: process.env.ALICE_TOKEN, bob: process.env.BOB_TOKEN, carol: process.env.CAROL_TOKEN };
const endpoint = (ws) => `${URL}/api/clusters/${ws}/graphql`;

async function post(ws, user, body) {
  const res = await fetch(endpoint(ws), {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${TOKENS[user]}` },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(20000),
  });
  const text = await res.text();
  let json = null;
  try {
    json = JSON.parse(text);
  } catch (e) {}
  return { status: res.status, json, text, encoding: res.headers.get("content-encoding"), vary: res.headers.get("vary") };
}

const schemas = {};
async function schemaOf(ws, user) {
  const key = `${ws} ${user}`;
  if (!schemas[key]) {
    const r = await post(ws, user, { query: getIntrospectionQuery() });
    assert.equal(r.status, 200, `introspection of ${ws} as ${user}: ${r.text.slice(0, 300)}`);
    assert.equal(r.json.errors, undefined, JSON.stringify(r.json.errors));
    schemas[key] = buildClientSchema(r.json.data);
  }
  return schemas[key];
}

// A query checked by graphql-js against the introspected schema, then run.
async function gql(ws, user, query, variables) {
  const errors = validate(await schemaOf(ws, user), parse(query));
  assert.deepEqual(errors.map((e) => e.message), [], `graphql-js finds the query invalid: ${query}`);
  const r = await post(ws, user, { query, variables });
  assert.equal(r.status, 200, r.text.slice(0, 300));
  return r.json;
}

function kubectl(...args) {
  return execFileSync(process.env.KUBECTL, args, { env: process.env, timeout: 30000, encoding: "utf8" });
}

// Events of a subscription until `until` says stop (or 20 s pass).
function subscribe(user, ws, query, until) {
  const client = createClient({ url: endpoint(ws), headers: { authorization: `Bearer ${TOKENS[user]}` }, retryAttempts: 0 });
  const events = [];
  let ready;
  const started = new Promise((r) => (ready = r));
  const done = new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      stop();
      resolve(events);
    }, 20000);
    const stop = client.subscribe(
      { query },
      {
        next: (value) => {
          events.push(value);
          ready();
          if (until(events)) {
            clearTimeout(timer);
            stop();
            resolve(events);
          }
        },
        error: (e) => {
          clearTimeout(timer);
          reject(e);
        },
        complete: () => {
          clearTimeout(timer);
          resolve(events);
        },
      },
    );
  });
  return { started, done, dispose: () => client.dispose() };
}

async function main() {
  let steps = 0;
  const step = (name) => console.log(`ok ${++steps} - ${name}`);

  // The schema as the gateway generates it, from the workspace's kinds.
  const acme = await schemaOf("root:orgs:acme", "alice");
  const query = acme.getQueryType().getFields();
  assert.ok(query.core_platform_mesh_io, "core_platform_mesh_io");
  assert.ok(query.v1, "the core group's versions sit at the root");
  assert.ok(query.acme_io, "the bound kind's group");
  const accountsV = acme.getType("CorePlatformMeshIoV1alpha1Query").getFields();
  for (const f of ["Accounts", "Account", "AccountYaml"]) assert.ok(accountsV[f], f);
  assert.deepEqual(accountsV.Accounts.args.map((a) => a.name).sort(), ["continue", "labelselector", "limit", "sortBy"]);
  assert.equal(String(accountsV.Accounts.args.find((a) => a.name === "sortBy").defaultValue), "metadata.name");
  assert.equal(String(accountsV.Account.type), "CorePlatformMeshIoV1alpha1Account!");
  const mutation = acme.getMutationType().getFields();
  assert.ok(mutation.applyYaml, "applyYaml");
  assert.deepEqual(Object.keys(acme.getType("AcmeIoV1Mutation").getFields()).sort(), ["createWidget", "deleteWidget", "updateWidget"]);
  const subs = acme.getSubscriptionType().getFields();
  for (const f of ["acme_io_v1_widget", "acme_io_v1_widgets", "core_platform_mesh_io_v1alpha1_accounts", "v1_configmaps"]) assert.ok(subs[f], f);
  assert.equal(acme.getType("AcmeIoV1Widgetspec").getFields().engine.description, "The database engine.");
  assert.equal(String(acme.getType("AcmeIoV1Widgetspec").getFields().labels.type), "StringMapInput");
  // Globex has no Widgets: its schema follows its own kinds.
  const globex = await schemaOf("root:orgs:globex", "bob");
  assert.equal(globex.getQueryType().getFields().acme_io, undefined);
  const cats = await gql("root:orgs:acme", "alice", `{ typeByCategory(name: "kcp") { kind group version scope } }`);
  assert.ok(cats.data.typeByCategory.some((t) => t.kind === "APIBinding" && t.group === "apis.kcp.io" && t.scope === "Cluster"));
  step("schemas introspected and rebuilt by graphql-js, per workspace; typeByCategory");

  // Accounts: created, read back, listed with the gateway's arguments.
  let r = await gql("root:orgs:acme", "alice", `mutation ($o: CorePlatformMeshIoV1alpha1AccountInput!) {
      core_platform_mesh_io { v1alpha1 { createAccount(object: $o) { metadata { name } spec { type displayName } } } } }`,
    { o: { metadata: { name: "team-a" }, spec: { type: "account", displayName: "Team A" } } });
  assert.equal(r.errors, undefined, JSON.stringify(r.errors));
  assert.deepEqual(r.data.core_platform_mesh_io.v1alpha1.createAccount, { metadata: { name: "team-a" }, spec: { type: "account", displayName: "Team A" } });
  await gql("root:orgs:acme", "alice", `mutation { core_platform_mesh_io { v1alpha1 {
      createAccount(object: {metadata: {name: "team-b"}, spec: {type: "account", displayName: "Team B"}}) { metadata { name } } } } }`);
  r = await gql("root:orgs:acme", "alice", `{ core_platform_mesh_io { v1alpha1 {
      page: Accounts(limit: 1) { items { metadata { name } } continue remainingItemCount resourceVersion }
      one: Account(name: "team-a") { spec { displayName } }
      yaml: AccountYaml(name: "team-b") } } }`);
  const v = r.data.core_platform_mesh_io.v1alpha1;
  assert.deepEqual(v.page.items, [{ metadata: { name: "team-a" } }]);
  assert.equal(v.page.remainingItemCount, 1);
  assert.ok(v.page.continue.length > 0 && v.page.resourceVersion.length > 0);
  r = await gql("root:orgs:acme", "alice", `query ($c: String) { core_platform_mesh_io { v1alpha1 { Accounts(limit: 1, continue: $c) { items { metadata { name } } continue } } } }`,
    { c: v.page.continue });
  assert.deepEqual(r.data.core_platform_mesh_io.v1alpha1.Accounts.items, [{ metadata: { name: "team-b" } }]);
  assert.equal(v.one.spec.displayName, "Team A");
  assert.match(v.yaml, /^kind: Account$/m);
  r = await gql("root:orgs:acme", "alice", `{ core_platform_mesh_io { v1alpha1 { Accounts(sortBy: "spec.displayName") { items { spec { displayName } } } } } }`);
  assert.deepEqual(r.data.core_platform_mesh_io.v1alpha1.Accounts.items.map((i) => i.spec.displayName), ["Team A", "Team B"]);
  // The account-operator's schema refuses an account without a display name, as the KRM API does.
  r = await gql("root:orgs:acme", "alice", `mutation { core_platform_mesh_io { v1alpha1 { createAccount(object: {metadata: {name: "nameless"}, spec: {type: "account"}}) { metadata { name } } } } }`);
  assert.equal(r.errors[0].message, 'Account.core.platform-mesh.io "nameless" is invalid: spec.displayName: Required value');
  assert.deepEqual(r.errors[0].path, ["core_platform_mesh_io", "v1alpha1", "createAccount"]);
  step("accounts created, listed page by page, sorted, read as YAML, refused when invalid");

  // The bound kind: its schema's enum and defaults, a merge patch, a delete.
  r = await gql("root:orgs:acme", "alice", `mutation { acme_io { v1 {
      ok: createWidget(namespace: "default", object: {metadata: {name: "db"}, spec: {engine: "postgres", labels: {tier: "gold"}}}) { spec { engine size labels } }
      bad: createWidget(namespace: "default", object: {metadata: {name: "ora"}, spec: {engine: "oracle"}}) { metadata { name } } } } }`);
  assert.deepEqual(r.data.acme_io.v1.ok, { spec: { engine: "postgres", size: 1, labels: { tier: "gold" } } });
  assert.equal(r.data.acme_io.v1.bad, null);
  assert.match(r.errors[0].message, /spec\.engine: Unsupported value: "oracle": supported values: "postgres", "mysql"/);
  r = await gql("root:orgs:acme", "alice", `mutation { acme_io { v1 { updateWidget(name: "db", namespace: "default", object: {spec: {size: 3}}) { spec { engine size } } } } }`);
  assert.deepEqual(r.data.acme_io.v1.updateWidget, { spec: { engine: "postgres", size: 3 } });
  r = await gql("root:orgs:acme", "alice", `mutation { acme_io { v1 { dry: deleteWidget(name: "db", namespace: "default", dryRun: true) } } }`);
  assert.equal(r.data.acme_io.v1.dry, true);
  r = await gql("root:orgs:acme", "alice", `{ acme_io { v1 { Widgets(namespace: "default") { items { metadata { name } } } } } }`);
  assert.deepEqual(r.data.acme_io.v1.Widgets.items, [{ metadata: { name: "db" } }]);
  r = await gql("root:orgs:acme", "alice", `mutation { acme_io { v1 { deleteWidget(name: "db", namespace: "default") } } }`);
  assert.equal(r.data.acme_io.v1.deleteWidget, true);
  step("a bound kind: its enum enforced, defaults applied, merge patch, dry run, delete");

  // applyYaml: creates, then updates what exists.
  const yaml = (v) => `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: applied\n  namespace: default\ndata:\n  v: "${v}"\n`;
  r = await gql("root:orgs:acme", "alice", `mutation ($y: String!) { applyYaml(yaml: $y) }`, { y: yaml(1) });
  assert.equal(JSON.parse(r.data.applyYaml).data.v, "1");
  r = await gql("root:orgs:acme", "alice", `mutation ($y: String!) { applyYaml(yaml: $y) }`, { y: yaml(2) });
  assert.equal(JSON.parse(r.data.applyYaml).data.v, "2");
  assert.equal(kubectl("get", "configmap", "applied", "-o", "jsonpath={.data.v}"), "2");
  r = await gql("root:orgs:acme", "alice", `mutation ($y: String!) { applyYaml(yaml: $y) }`, { y: "kind: ConfigMap\n" });
  assert.equal(r.errors[0].message, "apiVersion is required and must be a string");
  step("applyYaml creates and then updates; kubectl sees the result");

  // Users with other rights: no workspace they may not see, no schema of it, no object in it.
  for (const [user, ws] of [["bob", "root:orgs:acme"], ["carol", "root:orgs:acme"], ["alice", "root:orgs:globex"]]) {
    const denied = await post(ws, user, { query: "{ __typename }" });
    assert.equal(denied.status, 404, `${user} in ${ws}: ${denied.text}`);
    const schema = await post(ws, user, { query: getIntrospectionQuery() });
    assert.equal(schema.status, 404);
  }
  r = await gql("root:orgs", "alice", `{ core_platform_mesh_io { v1alpha1 { Accounts { items { metadata { name } } } } } }`);
  assert.deepEqual(r.data.core_platform_mesh_io.v1alpha1.Accounts.items, [{ metadata: { name: "acme" } }], "alice sees her organization only");
  r = await gql("root:orgs", "bob", `{ core_platform_mesh_io { v1alpha1 { Account(name: "acme") { metadata { name } } } } }`);
  assert.deepEqual(r.data.core_platform_mesh_io, { v1alpha1: null }, "the non-null Account makes its version null");
  assert.equal(r.errors[0].message, 'accounts.core.platform-mesh.io "acme" not found');
  r = await gql("root:orgs", "bob", `mutation { core_platform_mesh_io { v1alpha1 { deleteAccount(name: "acme") } } }`);
  assert.equal(r.errors[0].message, 'accounts.core.platform-mesh.io "acme" not found');
  const unauthenticated = await fetch(endpoint("root:orgs:acme"), { method: "POST", body: JSON.stringify({ query: "{ __typename }" }) });
  assert.equal(unauthenticated.status, 401);
  step("other users: 404 for workspaces they may not see, their fields answered as the KRM API answers them");

  // A large answer comes gzipped, as kube-apiserver sends its own: fetch
  // asks for gzip (as client-go does) and inflates it. A workspace's
  // introspection is one; a small answer goes as it is.
  const big = await post("root:orgs:acme", "alice", { query: getIntrospectionQuery() });
  assert.ok(big.text.length > 128 * 1024, `the introspection's answer is ${big.text.length} bytes`);
  assert.deepEqual([big.status, big.encoding, big.vary], [200, "gzip", "Accept-Encoding"]);
  assert.ok(buildClientSchema(big.json.data).getQueryType(), "the gzipped introspection reads whole");
  const small = await post("root:orgs:acme", "alice", { query: "{ __typename }" });
  assert.deepEqual([small.status, small.encoding, small.json], [200, null, { data: { __typename: "Query" } }]);
  step("a large answer gzipped, a small one as it is");

  // Errors and limits as the gateway answers them.
  let raw = await post("root:orgs:acme", "alice", { query: "{ v1 { ConfigMaps { items { nope } } } }" });
  assert.equal(raw.json.errors[0].message, 'Cannot query field "nope" on type "V1ConfigMap".');
  assert.equal(
    validate(acme, parse("{ v1 { ConfigMaps { items { nope } } } }"))[0].message,
    raw.json.errors[0].message,
    "the server's validation says what graphql-js says",
  );
  raw = await post("root:orgs:acme", "alice", { query: "{ v1 { ConfigMaps(" });
  assert.match(raw.json.errors[0].message, /^Syntax Error: /);
  const deep = "{ " + "__schema { types { fields { type { ofType { ofType { ofType { ofType { ofType { ofType { ofType { ofType { ofType { ofType { ofType { ofType { name } } } } } } } } } } } } } } } }" + " }";
  raw = await post("root:orgs:acme", "alice", { query: deep });
  assert.equal(raw.status, 400);
  assert.match(raw.json.errors[0].message, /^query depth \d+ exceeds maximum allowed depth of 15$/);
  step("validation and syntax errors, the depth limit");

  // Subscriptions while kubectl changes widgets: ADDED, MODIFIED for a selected field only, DELETED.
  const selected = subscribe("alice", "root:orgs:acme",
    `subscription { acme_io_v1_widgets(namespace: "default") { type object { metadata { name } spec { size } } } }`,
    (events) => events.some((e) => e.data.acme_io_v1_widgets.type === "DELETED"));
  const everything = subscribe("alice", "root:orgs:acme",
    `subscription { acme_io_v1_widget(name: "w", namespace: "default", subscribeToAll: true) { type object { metadata { name labels } } } }`,
    (events) => events.some((e) => e.data.acme_io_v1_widget.type === "DELETED"));
  await new Promise((r) => setTimeout(r, 1000));  // both watches open
  const manifest = JSON.stringify({ apiVersion: "acme.io/v1", kind: "Widget", metadata: { name: "w", namespace: "default" }, spec: { engine: "mysql", size: 2 } });
  execFileSync(process.env.KUBECTL, ["create", "-f", "-"], { input: manifest, env: process.env, timeout: 30000 });
  kubectl("label", "widgets.acme.io", "w", "colour=blue");
  kubectl("patch", "widgets.acme.io", "w", "--type=merge", "-p", '{"spec":{"size":5}}');
  kubectl("delete", "widgets.acme.io", "w");
  const got = (await selected.done).map((e) => [e.data.acme_io_v1_widgets.type, e.data.acme_io_v1_widgets.object.spec.size]);
  assert.deepEqual(got, [["ADDED", 2], ["MODIFIED", 5], ["DELETED", 5]], "the label change selects nothing this subscription reads");
  const all = (await everything.done).map((e) => e.data.acme_io_v1_widget.type);
  assert.deepEqual(all, ["ADDED", "MODIFIED", "MODIFIED", "DELETED"]);
  selected.dispose();
  everything.dispose();
  step("subscriptions over server-sent events while kubectl creates, labels, patches and deletes");

  // A subscription as a user who may not see the workspace ends before it starts.
  const client = createClient({ url: endpoint("root:orgs:acme"), headers: { authorization: `Bearer ${TOKENS.bob}` }, retryAttempts: 0 });
  await assert.rejects(
    new Promise((resolve, reject) => client.subscribe({ query: "subscription { v1_configmaps { type } }" }, { next: resolve, error: reject, complete: resolve })),
    "bob's subscription to acme is refused",
  );
  client.dispose();
  step("subscriptions refused where the workspace is unseen");

  // The schema follows the workspace's kinds: the binding goes, and so do its fields.
  kubectl("delete", "apibindings.apis.kcp.io", "widgets");
  delete schemas["root:orgs:acme alice"];
  const unbound = await schemaOf("root:orgs:acme", "alice");
  assert.equal(unbound.getQueryType().getFields().acme_io, undefined);
  assert.equal(unbound.getSubscriptionType().getFields().acme_io_v1_widgets, undefined);
  raw = await post("root:orgs:acme", "alice", { query: '{ acme_io { v1 { Widgets { continue } } } }' });
  assert.equal(raw.json.errors[0].message, 'Cannot query field "acme_io" on type "Query".');
  step("an unbound kind leaves the schema");
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
