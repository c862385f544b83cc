"""The OpenFGA API from a hostile tenant's side and across a restart: what
another user learns (a store that is not theirs reads as a missing one, on
every endpoint), what malformed or oversized input gets (OpenFGA's error
codes, nothing changed), and what a restart keeps (stores, models, tuples,
changes; the latest model answers again at once)."""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
from pmesh_server import Server  # noqa: E402

# A schema that keeps whatever a Widget holds (kcp requires one per version).
PRESERVE = {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}

problems = []


def expect(what, got, status, code=None):
    st, body = got[0], got[1]
    ok = st == status and (code is None or (isinstance(body, dict) and body.get("code") == code))
    if not ok:
        problems.append("%s: got %s %s, want %s %s" % (what, st, body, status, code or ""))
    return body


MODEL = {"schema_version": "1.1", "type_definitions": [
    {"type": "user"},
    {"type": "group", "relations": {"member": {"this": {}}},
     "metadata": {"relations": {"member": {"directly_related_user_types": [{"type": "user"}, {"type": "group", "relation": "member"}]}}}},
    {"type": "doc", "relations": {
        "viewer": {"this": {}},
        "blocked": {"this": {}},
        "can_view": {"difference": {"base": {"computedUserset": {"relation": "viewer"}}, "subtract": {"computedUserset": {"relation": "blocked"}}}}},
     "metadata": {"relations": {
         "viewer": {"directly_related_user_types": [{"type": "user"}, {"type": "user", "wildcard": {}}, {"type": "group", "relation": "member"}]},
         "blocked": {"directly_related_user_types": [{"type": "user"}]}}}}]}


def nested(depth):
    r = {"this": {}}
    for _ in range(depth):
        r = {"union": {"child": [r]}}
    return r


def tk(user, relation, obj):
    return {"user": user, "relation": relation, "object": obj}


with Server(sys.argv[1]) as s:
    def fga(method, path, body=None, user="alice"):
        return s.request(method, path, body, user=user)

    store = expect("create a store", fga("POST", "/stores", {"name": "alice-docs"}), 201)["id"]
    base = "/stores/" + store
    model = expect("write a model", fga("POST", base + "/authorization-models", MODEL), 201)["authorization_model_id"]
    expect("write tuples", fga("POST", base + "/write", {"writes": {"tuple_keys": [
        tk("user:anne", "viewer", "doc:1"), tk("group:eng#member", "viewer", "doc:2"), tk("user:carl", "member", "group:eng"),
        tk("user:*", "viewer", "doc:3"), tk("user:bob", "blocked", "doc:3")]}}), 200)

    # Another tenant: every endpoint answers as if the store did not exist.
    missing = fga("GET", "/stores/01ARZ3NDEKTSV4RRFFQ69G5FAV", user="bob")
    expect("a store that does not exist", missing, 404, "store_id_not_found")
    hostile = [
            ("GET", base, None), ("DELETE", base, None), ("POST", base + "/read", {}),
            ("POST", base + "/write", {"writes": {"tuple_keys": [tk("user:bob", "viewer", "doc:1")]}}),
            ("POST", base + "/check", {"tuple_key": tk("user:anne", "viewer", "doc:1")}),
            ("POST", base + "/list-objects", {"type": "doc", "relation": "viewer", "user": "user:anne"}),
            ("POST", base + "/list-users", {"object": {"type": "doc", "id": "1"}, "relation": "viewer", "user_filters": [{"type": "user"}]}),
            ("POST", base + "/expand", {"tuple_key": {"relation": "viewer", "object": "doc:1"}}),
            ("GET", base + "/changes", None), ("GET", base + "/authorization-models", None),
            ("GET", base + "/authorization-models/" + model, None), ("POST", base + "/authorization-models", MODEL),
            ("GET", base + "/assertions/" + model, None)]
    for method, path, body in hostile:
        got = fga(method, path, body, user="bob")
        if got[:2] != missing[:2]:
            problems.append("bob %s %s: %s %s, not what a missing store answers" % (method, path, got[0], got[1]))
    stores = expect("bob lists stores", fga("GET", "/stores", user="bob"), 200)["stores"]
    if any(x["id"] == store for x in stores):
        problems.append("bob's store list shows alice's store")
    # An admin sees it.
    expect("an admin reads it", fga("GET", base, user="admin"), 200)

    # Bad input: OpenFGA's codes, and nothing changed.
    before = expect("read", fga("POST", base + "/read", {}), 200)["tuples"]
    cases = [
        ("a write with one bad tuple", "POST", "/write", {"writes": {"tuple_keys": [tk("user:dave", "viewer", "doc:9"), tk("user:dave", "nope", "doc:9")]}}, 400, "relation_not_found"),
        ("a write the type restrictions refuse", "POST", "/write", {"writes": {"tuple_keys": [tk("group:eng", "viewer", "doc:9")]}}, 400, "invalid_tuple"),
        ("a control character in an id", "POST", "/write", {"writes": {"tuple_keys": [tk("user:a\u001fb", "viewer", "doc:9")]}}, 400, "validation_error"),
        ("a duplicate in one request", "POST", "/write", {"writes": {"tuple_keys": [tk("user:dave", "viewer", "doc:9")] * 2}}, 400, "cannot_allow_duplicate_tuples_in_one_request"),
        ("deleting what is not there", "POST", "/write", {"deletes": {"tuple_keys": [tk("user:zed", "viewer", "doc:1")]}}, 400, "write_failed_due_to_invalid_input"),
        ("an empty write", "POST", "/write", {}, 400, "invalid_write_input"),
        ("101 tuples in one write", "POST", "/write", {"writes": {"tuple_keys": [tk("user:u%d" % i, "viewer", "doc:9") for i in range(101)]}}, 400, "exceeded_entity_limit"),
        ("a body that is not JSON", "POST", "/write", "{nope", 400, "validation_error"),
        ("page_size 0", "POST", "/read", {"page_size": 0}, 400, "validation_error"),
        ("page_size 101", "POST", "/read", {"page_size": 101}, 400, "validation_error"),
        ("a forged continuation token", "POST", "/read", {"continuation_token": "zz"}, 400, "invalid_continuation_token"),
        ("check of an unknown type", "POST", "/check", {"tuple_key": tk("user:anne", "viewer", "folder:1")}, 400, "type_not_found"),
        ("check with a CEL context", "POST", "/check", {"tuple_key": tk("user:anne", "viewer", "doc:1"), "context": {}}, 400, "validation_error"),
        ("an unknown model id", "POST", "/check", {"tuple_key": tk("user:anne", "viewer", "doc:1"), "authorization_model_id": "01ARZ3NDEKTSV4RRFFQ69G5FAV"}, 400, "authorization_model_not_found"),
        ("a model with a cycle", "POST", "/authorization-models", {"schema_version": "1.1", "type_definitions": [
            {"type": "user"}, {"type": "doc", "relations": {"a": {"computedUserset": {"relation": "b"}}, "b": {"computedUserset": {"relation": "a"}}}}]}, 400, "invalid_authorization_model"),
        ("a model with conditions", "POST", "/authorization-models", dict(MODEL, conditions={"c": {"name": "c", "expression": "true"}}), 400, "invalid_authorization_model"),
        ("a model nested without end", "POST", "/authorization-models", {"schema_version": "1.1", "type_definitions": [
            {"type": "doc", "relations": {"a": nested(80)}}]}, 400, "validation_error"),
        ("a model over 256 KiB", "POST", "/authorization-models", dict(MODEL, padding="x" * (300 * 1024)), 400, "validation_error"),
        ("an unknown endpoint", "POST", "/nope", {}, 404, "undefined_endpoint"),
    ]
    for what, method, suffix, body, status, code in cases:
        expect(what, fga(method, base + suffix, body), status, code)
    after = expect("read again", fga("POST", base + "/read", {}), 200)["tuples"]
    if after != before:
        problems.append("refused writes changed the store's tuples")
    if len(expect("models", fga("GET", base + "/authorization-models"), 200)["authorization_models"]) != 1:
        problems.append("a refused model was stored")

    def allowed(user, relation, obj):
        return expect("check", fga("POST", base + "/check", {"tuple_key": tk(user, relation, obj)}), 200)["allowed"]

    want = {("user:anne", "viewer", "doc:1"): True, ("user:carl", "viewer", "doc:2"): True, ("user:zoe", "can_view", "doc:3"): True,
            ("user:bob", "can_view", "doc:3"): False, ("user:anne", "viewer", "doc:2"): False}
    for k, v in want.items():
        if allowed(*k) != v:
            problems.append("check %s: want %s" % (k, v))

    # OpenFGA's resolution limit (25): group:n0 holds group:n1's members, and
    # so on to group:n25, which holds deep. From group:n1 that is 24
    # dispatches; from group:n0, 25: too complex, on every endpoint that
    # walks it; a cycle is denied, not too complex.
    chain = [tk("group:n%d#member" % (i + 1), "member", "group:n%d" % i) for i in range(25)]
    chain += [tk("user:deep", "member", "group:n25"), tk("group:c1#member", "member", "group:c2"), tk("group:c2#member", "member", "group:c1")]
    expect("write a chain of groups", fga("POST", base + "/write", {"writes": {"tuple_keys": chain}}), 200)
    if not allowed("user:deep", "member", "group:n1"):
        problems.append("24 dispatches deep: want allowed")
    if allowed("user:deep", "member", "group:c1"):
        problems.append("a cycle of groups: want denied")
    too = "authorization_model_resolution_too_complex"
    expect("check 25 dispatches deep", fga("POST", base + "/check", {"tuple_key": tk("user:deep", "member", "group:n0")}), 400, too)
    expect("check of a stranger 25 deep", fga("POST", base + "/check", {"tuple_key": tk("user:nobody", "member", "group:n0")}), 400, too)
    expect("list-users 25 deep", fga("POST", base + "/list-users", {"object": {"type": "group", "id": "n0"}, "relation": "member",
                                                                   "user_filters": [{"type": "user"}]}), 400, too)
    expect("list-objects 25 deep", fga("POST", base + "/list-objects", {"type": "group", "relation": "member", "user": "user:deep"}), 400, too)
    batch = expect("batch-check across the limit", fga("POST", base + "/batch-check", {"checks": [
        {"tuple_key": tk("user:deep", "member", "group:n0"), "correlation_id": "deep"},
        {"tuple_key": tk("user:deep", "member", "group:n1"), "correlation_id": "ok"}]}), 200)["result"]
    if batch.get("deep", {}).get("error", {}).get("input_error") != too or batch.get("ok", {}).get("allowed") is not True:
        problems.append("batch-check across the limit: %s" % batch)

    # A restart keeps everything, and the latest model answers again.
    changes = expect("changes", fga("GET", base + "/changes"), 200)["changes"]
    s.stop()
    s.start()
    for k, v in want.items():
        if allowed(*k) != v:
            problems.append("after a restart, check %s: want %s" % (k, v))
    if expect("changes after a restart", fga("GET", base + "/changes"), 200)["changes"] != changes:
        problems.append("the changelog differs after a restart")
    expect("the store after a restart", fga("GET", base), 200)
    expect("bob after a restart", fga("GET", base, user="bob"), 404, "store_id_not_found")
    s.stop()
    r = s.verify()
    if r.returncode != 0:
        problems.append("pmesh verify after the run: " + r.stdout + r.stderr)

# An organization's store: the platform's, with Platform Mesh's core model,
# extended as the security-operator extends it when an API is bound there.
ACC = "apis/core.platform-mesh.io/v1alpha1/accounts"
with Server(sys.argv[1]) as s:
    def kube(method, path, body=None, user="alice"):
        return s.request(method, path, body, user=user)

    expect("alice creates acme", kube("POST", "/clusters/root:orgs/" + ACC,
                                      {"apiVersion": "core.platform-mesh.io/v1alpha1", "kind": "Account", "metadata": {"name": "acme"}, "spec": {"type": "org", "displayName": "An organization"}}), 201)
    info = expect("acme's AccountInfo", kube("GET", "/clusters/root:orgs:acme/apis/core.platform-mesh.io/v1alpha1/accountinfos/account", user="admin"), 200)
    store = info["spec"]["fga"]["store"]["id"]
    acme = "core_platform-mesh_io_account:%s/acme" % info["spec"]["organization"]["originClusterId"]
    if expect("acme's Store", kube("GET", "/clusters/root:orgs/apis/core.platform-mesh.io/v1alpha1/stores/acme", user="admin"), 200).get("status", {}).get("storeId") != store:
        problems.append("the Store resource does not carry the store's id")
    before = expect("acme's model", kube("GET", "/stores/%s/authorization-models" % store), 200)["authorization_models"]
    if len(before) != 1 or "core_platform-mesh_io_account" not in [t["type"] for t in before[0]["type_definitions"]]:
        problems.append("acme's store does not hold the core model")
    expect("a model write to an organization's store", kube("POST", "/stores/%s/authorization-models" % store, MODEL), 403, "forbidden")
    # alice grants bob acme's member role, as the IAM service does.
    role = "role:core_platform-mesh_io_account/%s/member" % acme.split(":", 1)[1]
    grant = {"writes": {"tuple_keys": [tk("user:bob", "assignee", role), tk(role + "#assignee", "member", acme)]}}
    expect("bob grants himself a role", kube("POST", "/stores/%s/write" % store, grant, user="bob"), 404, "store_id_not_found")
    expect("alice grants bob the member role", kube("POST", "/stores/%s/write" % store, grant), 200)
    # Even an owner writes nothing but role assignments there: no parents, no binding rights.
    for what, t in (("a parent", tk("core_platform-mesh_io_account:zz/other", "parent", acme)),
                    ("a binding right", tk("apis_kcp_io_apiexport:zz/widgets", "bind", acme)),
                    ("a role on another relation", tk(role + "#assignee", "owner", acme))):
        expect("alice writes " + what, kube("POST", "/stores/%s/write" % store, {"writes": {"tuple_keys": [t]}}), 403, "forbidden")
    # A bound API: the model grows its types; owners create, members list, others see nothing.
    base_ws = "/clusters/root:orgs:acme/apis/apis.kcp.io/v1alpha1/"
    expect("a schema", kube("POST", base_ws + "apiresourceschemas", {
        "apiVersion": "apis.kcp.io/v1alpha1", "kind": "APIResourceSchema", "metadata": {"name": "v1.widgets.acme.io"},
        "spec": {"group": "acme.io", "scope": "Namespaced", "names": {"kind": "Widget", "plural": "widgets", "singular": "widget"},
                 "versions": [{"name": "v1", "served": True, "storage": True, "schema": PRESERVE}]}}), 201)
    expect("an export", kube("POST", base_ws + "apiexports", {"apiVersion": "apis.kcp.io/v1alpha1", "kind": "APIExport",
                                                            "metadata": {"name": "widgets"}, "spec": {"latestResourceSchemas": ["v1.widgets.acme.io"]}}), 201)
    expect("a binding", kube("POST", base_ws + "apibindings", {"apiVersion": "apis.kcp.io/v1alpha1", "kind": "APIBinding",
                                                             "metadata": {"name": "widgets"}, "spec": {"reference": {"export": {"name": "widgets"}}}}), 201)
    after = expect("acme's model after the binding", kube("GET", "/stores/%s/authorization-models" % store), 200)["authorization_models"]
    types = [t["type"] for t in after[0]["type_definitions"]]
    if "acme_io_widget" not in types or after[0]["id"] == before[0]["id"]:
        problems.append("binding widgets did not extend acme's model: %s" % types)
    widgets = "/clusters/root:orgs:acme/apis/acme.io/v1/namespaces/default/widgets"
    widget = {"apiVersion": "acme.io/v1", "kind": "Widget", "metadata": {"name": "w1"}}
    expect("alice (an owner) creates a widget", kube("POST", widgets, widget), 201)
    expect("bob (a member) lists widgets", kube("GET", widgets, user="bob"), 200)
    expect("bob (a member) may not create one", kube("POST", widgets, dict(widget, metadata={"name": "w2"}), user="bob"), 403)
    expect("carol sees no acme", kube("GET", widgets, user="carol"), 404)
    # APIExportPolicy: once a policy names the export, it is bound only where
    # the consumer's store says `bind` (the security-operator's tuples).
    expect("alice creates team-a", kube("POST", "/clusters/root:orgs:acme/" + ACC,
                                        {"apiVersion": "core.platform-mesh.io/v1alpha1", "kind": "Account", "metadata": {"name": "team-a"}, "spec": {"type": "account", "displayName": "An account"}}), 201)
    policy = {"apiVersion": "security.platform-mesh.io/v1alpha1", "kind": "APIExportPolicy", "metadata": {"name": "widgets", "namespace": "default"},
              "spec": {"apiExportRef": {"name": "widgets", "clusterName": info["spec"]["account"]["generatedClusterId"]},
                       "allowPathExpressions": ["root:orgs:acme:team-a"]}}
    expect("an admin writes an APIExportPolicy", kube("POST", "/clusters/root/apis/security.platform-mesh.io/v1alpha1/namespaces/default/apiexportpolicies", policy, user="admin"), 201)
    binding = lambda n: {"apiVersion": "apis.kcp.io/v1alpha1", "kind": "APIBinding", "metadata": {"name": n},
                         "spec": {"reference": {"export": {"path": "root:orgs:acme", "name": "widgets"}}}}
    refused = expect("a binding where the policy does not allow it", kube("POST", base_ws + "apibindings", binding("again")), 403)
    if "no permission to bind to export root:orgs:acme:widgets" not in json.dumps(refused):
        problems.append("the refused binding does not say why: %s" % refused)
    expect("a binding in team-a, which the policy names", kube("POST", "/clusters/root:orgs:acme:team-a/apis/apis.kcp.io/v1alpha1/apibindings", binding("w")), 201)
    policy["spec"]["allowPathExpressions"] = ["root:orgs:acme:*"]
    cur = kube("GET", "/clusters/root/apis/security.platform-mesh.io/v1alpha1/namespaces/default/apiexportpolicies/widgets", user="admin")[1]
    policy["metadata"]["resourceVersion"] = cur["metadata"]["resourceVersion"]
    # The changelog holds what the platform wrote (team-a's tuples) and the grants.
    logged = expect("acme's changes", kube("GET", "/stores/%s/changes" % store), 200)["changes"]
    if not any(c["tuple_key"]["object"] == acme and c["tuple_key"]["relation"] == "owner" for c in logged) or \
            not any(c["tuple_key"]["user"] == "user:bob" for c in logged):
        problems.append("acme's changelog misses the platform's or the API's writes: %s" % [c["tuple_key"] for c in logged][:6])
    # Each of the API's writes and deletes once: the API logs them, and the
    # platform's log of what its rules derived must not log them again.
    dave = {"tuple_keys": [tk("user:dave", "assignee", role)]}
    expect("alice grants dave the member role", kube("POST", "/stores/%s/write" % store, {"writes": dave}), 200)
    expect("alice takes it back", kube("POST", "/stores/%s/write" % store, {"deletes": dave}), 200)
    logged = expect("acme's changes again", kube("GET", "/stores/%s/changes" % store), 200)["changes"]
    for t, op in [(t, "TUPLE_OPERATION_WRITE") for t in grant["writes"]["tuple_keys"] + dave["tuple_keys"]] + \
            [(t, "TUPLE_OPERATION_DELETE") for t in dave["tuple_keys"]]:
        n = sum(1 for c in logged if all(c["tuple_key"].get(f) == t[f] for f in t) and c["operation"] == op)
        if n != 1:
            problems.append("%s of %s is in acme's changelog %d times, not once" % (op, t, n))
    # What a member reads of the store: the accounts whose users the model lets
    # them see, not team-a's (members are not inherited).
    seen = expect("bob reads acme's store", kube("POST", "/stores/%s/read" % store, {}, user="bob"), 200)["tuples"]
    objects = set(t["key"]["object"] for t in seen)
    if acme not in objects or any("/team-a" in o for o in objects):
        problems.append("bob reads %s" % sorted(objects))
    team_a = next(t["key"]["object"] for t in expect("alice reads", kube("POST", "/stores/%s/read" % store, {}), 200)["tuples"]
                  if t["key"]["object"].endswith("/team-a") and t["key"]["relation"] == "owner")
    expect("bob checks team-a", kube("POST", "/stores/%s/check" % store, {"tuple_key": tk("user:alice", "owner", team_a)}, user="bob"), 403, "forbidden")
    expect("bob checks acme", kube("POST", "/stores/%s/check" % store, {"tuple_key": tk("user:alice", "owner", acme)}, user="bob"), 200)
    expect("the policy opens acme and below", kube("PUT", "/clusters/root/apis/security.platform-mesh.io/v1alpha1/namespaces/default/apiexportpolicies/widgets", policy, user="admin"), 200)
    expect("now in acme", kube("POST", base_ws + "apibindings", binding("again")), 201)
    # A widget is an object of the model too (parent: its namespace, whose
    # parent is acme): acme's owners own it; others still see nothing.
    w1 = "acme_io_widget:%s/default/w1" % info["spec"]["account"]["generatedClusterId"]
    if not expect("w1's owner", kube("POST", "/stores/%s/check" % store, {"tuple_key": tk("user:alice", "owner", w1)}), 200)["allowed"]:
        problems.append("acme's owner does not own the widget w1 in the model")
    expect("carol gets w1 before any grant", kube("GET", widgets + "/w1", user="carol"), 404)
    ns = "core_namespace:%s/default" % info["spec"]["account"]["generatedClusterId"]
    if not expect("check", kube("POST", "/stores/%s/check" % store, {"tuple_key": tk("user:bob", "list_acme_io_widgets", ns)}), 200)["allowed"]:
        problems.append("the model does not let a member list widgets in acme's default namespace")
    # Two more organizations, whose stores share Platform Mesh's core model
    # (one rule set for both; acme has its own since its binding): no store
    # answers with another's tuples.
    def org(name, user):
        expect(user + " creates " + name, kube("POST", "/clusters/root:orgs/" + ACC,
                                              {"apiVersion": "core.platform-mesh.io/v1alpha1", "kind": "Account", "metadata": {"name": name}, "spec": {"type": "org", "displayName": "An organization"}}, user=user), 201)
        i = expect(name + "'s AccountInfo", kube("GET", "/clusters/root:orgs:%s/apis/core.platform-mesh.io/v1alpha1/accountinfos/account" % name, user="admin"), 200)
        return i["spec"]["fga"]["store"]["id"], "core_platform-mesh_io_account:%s/%s" % (i["spec"]["organization"]["originClusterId"], name)
    gstore, globex = org("globex", "carol")
    istore, initech = org("initech", "alice")
    if expect("globex's model", kube("GET", "/stores/%s/authorization-models" % gstore, user="admin"), 200)["authorization_models"][0]["id"] != \
            expect("initech's model", kube("GET", "/stores/%s/authorization-models" % istore, user="admin"), 200)["authorization_models"][0]["id"]:
        problems.append("two organizations that bind nothing have different models")

    def owns(st, user, obj):
        return expect("check in " + st, kube("POST", "/stores/%s/check" % st, {"tuple_key": tk(user, "owner", obj)}, user="admin"), 200)["allowed"]

    def apart(when):
        for st, user, obj, want in ((gstore, "user:carol", globex, True), (gstore, "user:alice", globex, False),
                                    (istore, "user:alice", initech, True), (istore, "user:carol", initech, False),
                                    (gstore, "user:alice", initech, False), (istore, "user:carol", globex, False),
                                    (gstore, "user:alice", acme, False), (store, "user:carol", acme, False),
                                    (store, "user:alice", acme, True), (store, "user:alice", w1, True)):
            if owns(st, user, obj) != want:
                problems.append("%s: %s owner %s in %s: want %s" % (when, user, obj, st, want))
        expect(when + ": alice reads globex's store", kube("POST", "/stores/%s/read" % gstore, {}), 404, "store_id_not_found")
        expect(when + ": carol reads initech's store", kube("POST", "/stores/%s/read" % istore, {}, user="carol"), 404, "store_id_not_found")
        expect(when + ": bob lists acme's widgets", kube("GET", widgets, user="bob"), 200)
        expect(when + ": carol lists acme's widgets", kube("GET", widgets, user="carol"), 404)
    apart("two organizations")
    s.stop()
    s.start()
    apart("after a restart")
    s.stop()
    r = s.verify()
    if r.returncode != 0:
        problems.append("pmesh verify after the organizations: " + r.stdout + r.stderr)

if problems:
    print("FAIL:\n  " + "\n  ".join(problems))
    sys.exit(1)
print("OpenFGA API: %d hostile requests, %d bad inputs, restart kept stores, models, tuples and changes; an organization's store grants roles and grows a bound API's types" % (len(hostile), len(cases)))
