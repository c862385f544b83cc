// The official OpenFGA JavaScript SDK against pmesh, with a model written in
// the DSL and turned into JSON by @openfga/syntax-transformer, as an
// application would use OpenFGA. Started by openfga_sdk_e2e.py, which runs
// the server and passes FGA_API_URL, ALICE_TOKEN and BOB_TOKEN (and
// NODE_EXTRA_CA_CERTS for the server's certificate).
"use strict";
const assert = require("assert/strict");
const path = require("path");
const modules = path.join(__dirname, "..", "node_modules");
const { OpenFgaClient, CredentialsMethod } = require(path.join(modules, "@openfga/sdk"));
const { transformer } = require(path.join(modules, "@openfga/syntax-transformer"));

const DSL = `model
  schema 1.1

type user

type group
  relations
    define member: [user, group#member]

type folder
  relations
    define parent: [folder]
    define owner: [user]
    define viewer: [user, user:*, group#member] or owner or viewer from parent

type doc
  relations
    define parent: [folder]
    define owner: [user]
    define blocked: [user]
    define editor: [user] or owner
    define viewer: (editor or viewer from parent) but not blocked
`;

function client(token, extra = {}) {
  return new OpenFgaClient({
    apiUrl: process.env.FGA_API_URL,
    credentials: { method: CredentialsMethod.ApiToken, config: { token } },
    ...extra,
  });
}

async function rejects(promise, code, what) {
  try {
    await promise;
  } catch (e) {
    const got = e.apiErrorCode || (e.responseData && e.responseData.code) || e.statusCode;
    assert.equal(got, code, `${what}: ${e.message}`);
    return e;
  }
  assert.fail(`${what}: succeeded, want ${code}`);
}

async function main() {
  let steps = 0;
  const step = (name) => {
    steps++;
    console.log(`ok ${steps} - ${name}`);
  };
  const alice = client(process.env.ALICE_TOKEN);
  const store = await alice.createStore({ name: "sdk docs" });
  assert.match(store.id, /^[0-9A-HJKMNP-TV-Z]{26}$/);
  alice.storeId = store.id;
  assert.equal((await alice.getStore()).name, "sdk docs");
  assert.ok((await alice.listStores()).stores.some((s) => s.id === store.id));
  step("a store is created, read and listed");

  // Another tenant cannot tell the store exists.
  const bob = client(process.env.BOB_TOKEN, { storeId: store.id });
  await rejects(bob.getStore(), "store_id_not_found", "bob reads alice's store");
  await rejects(bob.read(), "store_id_not_found", "bob reads alice's tuples");
  assert.ok(!(await bob.listStores()).stores.some((s) => s.id === store.id));
  step("another user's store reads as a missing one");

  await rejects(alice.check({ user: "user:anne", relation: "viewer", object: "doc:1" }), "latest_authorization_model_not_found", "check before a model");
  const model = transformer.transformDSLToJSONObject(DSL);
  const { authorization_model_id: modelId } = await alice.writeAuthorizationModel(model);
  const latest = await alice.readLatestAuthorizationModel();
  assert.equal(latest.authorization_model.id, modelId);
  assert.deepEqual(latest.authorization_model.type_definitions.map((t) => t.type), ["user", "group", "folder", "doc"]);
  step("a model written in the DSL is stored and read back");

  await alice.write({
    writes: [
      { user: "user:anne", relation: "owner", object: "doc:1" },
      { user: "folder:root", relation: "parent", object: "doc:1" },
      { user: "group:eng#member", relation: "viewer", object: "folder:root" },
      { user: "user:carl", relation: "member", object: "group:eng" },
      { user: "user:*", relation: "viewer", object: "folder:public" },
      { user: "folder:public", relation: "parent", object: "doc:2" },
      { user: "user:bob", relation: "blocked", object: "doc:2" },
    ],
  });
  await rejects(alice.write({ writes: [{ user: "user:anne", relation: "owner", object: "doc:1" }] }), "write_failed_due_to_invalid_input", "a duplicate write");
  await rejects(alice.write({ writes: [{ user: "user:*", relation: "owner", object: "doc:1" }] }), "invalid_tuple", "a wildcard the model does not admit");
  step("tuples are written, and what the model refuses is refused");

  const all = await alice.read();
  assert.equal(all.tuples.length, 7);
  const first = await alice.read({}, { pageSize: 3 });
  assert.equal(first.tuples.length, 3);
  assert.ok(first.continuation_token);
  const rest = await alice.read({}, { pageSize: 10, continuationToken: first.continuation_token });
  assert.equal(rest.tuples.length, 4);
  const owners = await alice.read({ relation: "owner", object: "doc:1" });
  assert.deepEqual(owners.tuples.map((t) => t.key.user), ["user:anne"]);
  step("read filters and pages");

  const check = async (user, relation, object, contextualTuples) =>
    (await alice.check({ user, relation, object, contextualTuples })).allowed;
  assert.equal(await check("user:anne", "viewer", "doc:1"), true);   // owner -> editor -> viewer
  assert.equal(await check("user:carl", "viewer", "doc:1"), true);   // group member through the parent folder
  assert.equal(await check("user:dana", "viewer", "doc:1"), false);
  assert.equal(await check("user:zoe", "viewer", "doc:2"), true);    // the public folder's wildcard
  assert.equal(await check("user:bob", "viewer", "doc:2"), false);   // ... but not the blocked
  assert.equal(await check("user:dana", "viewer", "doc:1", [{ user: "user:dana", relation: "editor", object: "doc:1" }]), true);
  assert.equal(await check("user:dana", "viewer", "doc:1"), false);  // contextual tuples are not kept
  await rejects(alice.check({ user: "user:anne", relation: "nope", object: "doc:1" }), "relation_not_found", "an unknown relation");
  step("check: computed, tuple-to-userset, usersets, wildcards, exclusion, contextual tuples");

  const batch = await alice.batchCheck({
    checks: [
      { user: "user:anne", relation: "viewer", object: "doc:1", correlationId: "a" },
      { user: "user:bob", relation: "viewer", object: "doc:2", correlationId: "b" },
    ],
  });
  const byId = Object.fromEntries(batch.result.map((r) => [r.correlationId, r.allowed]));
  assert.deepEqual(byId, { a: true, b: false });
  step("batch-check");

  const tree = await alice.expand({ relation: "viewer", object: "folder:root" });
  assert.equal(tree.tree.root.name, "folder:root#viewer");
  assert.ok(JSON.stringify(tree.tree).includes("group:eng#member"));
  step("expand");

  assert.deepEqual((await alice.listObjects({ user: "user:carl", relation: "viewer", type: "doc" })).objects.sort(), ["doc:1", "doc:2"]);
  assert.deepEqual((await alice.listObjects({ user: "user:zoe", relation: "viewer", type: "doc" })).objects, ["doc:2"]);
  const streamed = [];
  for await (const r of alice.streamedListObjects({ user: "user:carl", relation: "viewer", type: "folder" })) streamed.push(r.object);
  assert.deepEqual(streamed.sort(), ["folder:public", "folder:root"]);
  const users = await alice.listUsers({ object: { type: "doc", id: "1" }, relation: "viewer", user_filters: [{ type: "user" }] });
  assert.deepEqual(users.users.map((u) => u.object.id).sort(), ["anne", "carl"]);
  const pub = await alice.listUsers({ object: { type: "folder", id: "public" }, relation: "viewer", user_filters: [{ type: "user" }] });
  assert.deepEqual(pub.users, [{ wildcard: { type: "user" } }]);
  step("list-objects, streamed-list-objects, list-users");

  await alice.write({ deletes: [{ user: "user:carl", relation: "member", object: "group:eng" }] });
  assert.equal(await check("user:carl", "viewer", "doc:1"), false);
  const changes = await alice.readChanges();
  assert.equal(changes.changes.length, 8);
  assert.equal(changes.changes[7].operation, "TUPLE_OPERATION_DELETE");
  const docChanges = await alice.readChanges({ type: "doc" });
  assert.equal(docChanges.changes.length, 4);
  step("deletes take effect; changes list writes and deletes in order");

  await alice.writeAssertions([{ user: "user:anne", relation: "viewer", object: "doc:1", expectation: true }], { authorizationModelId: modelId });
  const assertions = await alice.readAssertions({ authorizationModelId: modelId });
  assert.equal(assertions.assertions.length, 1);
  assert.equal(assertions.assertions[0].expectation, true);
  step("assertions");

  // A newer model changes the answers; the older one still answers when named.
  const v2 = transformer.transformDSLToJSONObject(DSL.replace("define viewer: (editor or viewer from parent) but not blocked", "define viewer: editor"));
  const { authorization_model_id: model2 } = await alice.writeAuthorizationModel(v2);
  assert.equal((await alice.readAuthorizationModels()).authorization_models.length, 2);
  assert.equal(await check("user:zoe", "viewer", "doc:2"), false);
  assert.equal((await alice.check({ user: "user:zoe", relation: "viewer", object: "doc:2" }, { authorizationModelId: modelId })).allowed, true);
  assert.notEqual(model2, modelId);
  step("a new model is the latest; an older one answers when asked by id");

  await alice.deleteStore();
  await rejects(alice.getStore(), "store_id_not_found", "a deleted store");
  step("a deleted store is gone");
  console.log(`1..${steps}`);
}

main().catch((e) => {
  console.error("not ok:", e && e.stack ? e.stack : e);
  process.exit(1);
});
