#!/usr/bin/python3
"""Tenant isolation, as a matrix: three users from a token file (alice owns
acme and its account team-a, bob owns globex, carol owns nothing) × every verb
× their own organization, another one, a child account, root, root:orgs, the
wildcard `/clusters/*/`, the OpenFGA endpoints, binding another
organization's export, rewriting a creator, and impersonation; then a
ServiceAccount of acme with RBAC rights there, everywhere, escalating and
revoked. Every cell is checked for its
status code; every hidden workspace or store must answer exactly as one that
does not exist; after the matrix, nothing a denied request tried is there.

Usage: isolation_matrix.py PMESH
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pmesh_server import Server, fail, member_role  # noqa: E402

# A schema that keeps whatever a Widget holds (kcp requires one per version).
PRESERVE = {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}

ACCOUNTS = "apis/core.platform-mesh.io/v1alpha1/accounts"
USERS = ["alice", "bob", "carol"]
OWN = {"alice": "acme", "bob": "globex", "carol": None}


def account(name, t):
    return {"apiVersion": "core.platform-mesh.io/v1alpha1", "kind": "Account", "metadata": {"name": name},
            "spec": {"type": t, "displayName": name.title()}}


def configmap(name):
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"k": "v"}}


def setup(s):
    for who, org in (("alice", "acme"), ("bob", "globex")):
        st, body, _ = s.request("POST", "/clusters/root:orgs/" + ACCOUNTS, account(org, "org"), user=who)
        assert st == 201, (who, st, body)
    st, body, _ = s.request("POST", "/clusters/root:orgs:acme/" + ACCOUNTS, account("team-a", "account"), user="alice")
    assert st == 201, (st, body)
    for ws in ("root", "root:orgs", "root:orgs:acme", "root:orgs:globex", "root:orgs:acme:team-a"):
        st, body, _ = s.request("POST", "/clusters/%s/api/v1/namespaces/default/configmaps" % ws, configmap("cm"))
        assert st == 201, (ws, st, body)
    schema = {"apiVersion": "apis.kcp.io/v1alpha1", "kind": "APIResourceSchema", "metadata": {"name": "v1.widgets.acme.io"},
              "spec": {"group": "acme.io", "scope": "Namespaced", "names": {"kind": "Widget", "plural": "widgets"},
                       "versions": [{"name": "v1", "served": True, "storage": True, "schema": PRESERVE}]}}
    assert s.request("POST", "/clusters/root:orgs:acme/apis/apis.kcp.io/v1alpha1/apiresourceschemas", schema, user="alice")[0] == 201
    export = {"apiVersion": "apis.kcp.io/v1alpha1", "kind": "APIExport", "metadata": {"name": "widgets"},
              "spec": {"latestResourceSchemas": ["v1.widgets.acme.io"]}}
    assert s.request("POST", "/clusters/root:orgs:acme/apis/apis.kcp.io/v1alpha1/apiexports", export, user="alice")[0] == 201


def reach(user, ws):
    """What `user` may do in workspace `ws`: 'owner', 'none' (hidden), or 'root' (visible, nothing allowed)."""
    if ws in ("root", "root:orgs"):
        return "root"
    org = ws.split(":")[2]
    return "owner" if OWN[user] == org else "none"


def expected(user, ws, verb):
    r = reach(user, ws)
    # The model has no deletecollection relation (as the Platform Mesh
    # authorization webhook asks it): only RBAC grants it.
    if r == "owner" and verb == "deletecollection":
        return 403
    if r == "owner":
        return {"create": 201, "delete": 200}.get(verb, 200)
    if r == "none":
        return 404
    return 403


def requests_for(ws, verb, n):
    """The request of `verb` on ConfigMaps in `ws` (a fresh name per cell for creates)."""
    base = "/clusters/%s/api/v1/namespaces/default/configmaps" % ws
    return {
        "get": ("GET", base + "/cm", None, None),
        "list": ("GET", base, None, None),
        "watch": ("GET", base + "?watch=true&timeoutSeconds=1", None, None),
        "create": ("POST", base, configmap("m%d" % n), "application/json"),
        "update": ("PUT", base + "/cm", None, "application/json"),  # body filled from a get as admin
        "patch": ("PATCH", base + "/cm", {"data": {"touched": "yes"}}, "application/merge-patch+json"),
        "delete": ("DELETE", base + "/gone%d" % n, None, None),
        "deletecollection": ("DELETE", base + "?labelSelector=cell%%3D%d" % n, None, None),
    }[verb]


def target_for(ws, verb, n):
    """Something for a delete to delete, made by an admin (None for the other verbs)."""
    if verb not in ("delete", "deletecollection"):
        return None
    cm = configmap("gone%d" % n)
    cm["metadata"]["labels"] = {"cell": str(n)}
    return "/clusters/%s/api/v1/namespaces/default/configmaps" % ws, cm


def target_left(s, ws, verb, n, st):
    """Whether what the delete aimed at is gone exactly when it was allowed."""
    if verb not in ("delete", "deletecollection"):
        return True
    there = s.request("GET", "/clusters/%s/api/v1/namespaces/default/configmaps/gone%d" % (ws, n))[0] == 200
    return there != (st == 200)


def status_of(s, user, method, path, body, ctype):
    st, got, _ = s.request(method, path, body=body, user=user, content_type=ctype or "application/json")
    return st, got


def main():
    pmesh = sys.argv[1]
    cells = 0
    problems = []
    with Server(pmesh) as s:
        setup(s)
        workspaces = ["root", "root:orgs", "root:orgs:acme", "root:orgs:globex", "root:orgs:acme:team-a"]
        verbs = ["get", "list", "watch", "create", "update", "patch", "delete", "deletecollection"]
        n = 0
        for user in USERS:
            for ws in workspaces:
                for verb in verbs:
                    n += 1
                    method, path, body, ctype = requests_for(ws, verb, n)
                    if verb == "update":
                        cur = s.request("GET", path)[1]
                        body = dict(cur, data={"updated": user})
                    target = target_for(ws, verb, n)
                    if target:
                        assert s.request("POST", *target)[0] == 201
                    want = expected(user, ws, verb)
                    st, got = status_of(s, user, method, path, body, ctype)
                    cells += 1
                    if st != want:
                        problems.append("%s %s in %s: %d, want %d: %s" % (user, verb, ws, st, want, json.dumps(got)[:200]))
                    if not target_left(s, ws, verb, n, st):
                        problems.append("%s %s in %s: %d, and the object's presence does not agree" % (user, verb, ws, st))
                    if want == 404:
                        # A hidden workspace answers exactly as a missing one.
                        missing = ws.rsplit(":", 1)[0] + ":nowhere"
                        m_method, m_path, m_body, m_ctype = requests_for(missing, verb, n)
                        mst, mgot = status_of(s, user, m_method, m_path.replace(missing, missing), body, m_ctype)
                        if (mst, json.dumps(mgot).replace(missing, ws)) != (st, json.dumps(got)):
                            problems.append("%s %s in %s answers %d %s, a missing workspace %d %s" %
                                            (user, verb, ws, st, json.dumps(got)[:150], mst, json.dumps(mgot)[:150]))
        # Organizations themselves, in root:orgs: anyone lists (seeing their own) and creates; the rest is the owner's.
        for user in USERS:
            st, got = status_of(s, user, "GET", "/clusters/root:orgs/" + ACCOUNTS, None, None)
            names = sorted(i["metadata"]["name"] for i in got.get("items", []))
            cells += 1
            if st != 200 or names != ([OWN[user]] if OWN[user] else []):
                problems.append("%s lists organizations: %d %s" % (user, st, names))
            for org in ("acme", "globex"):
                mine = OWN[user] == org
                for verb, method, body, ctype in (("get", "GET", None, None),
                                                  ("patch", "PATCH", {"spec": {"displayName": user}}, "application/merge-patch+json"),
                                                  ("delete", "DELETE", {"dryRun": ["All"]}, None)):
                    st, got = status_of(s, user, method, "/clusters/root:orgs/%s/%s" % (ACCOUNTS, org), body, ctype)
                    want = 200 if mine else 404
                    cells += 1
                    if st != want:
                        problems.append("%s %s organization %s: %d, want %d" % (user, verb, org, st, want))
                    if not mine:
                        mst, mgot = status_of(s, user, method, "/clusters/root:orgs/%s/nowhere" % ACCOUNTS, body, ctype)
                        if json.dumps(mgot).replace("nowhere", org) != json.dumps(got):
                            problems.append("%s %s of hidden org %s differs from a missing one" % (user, verb, org))
        # The wildcard workspace is for administrators.
        for user in USERS:
            for path in ("/clusters/*/api/v1/configmaps", "/clusters/*/" + ACCOUNTS, "/clusters/*/" + ACCOUNTS + "?watch=true"):
                st, _ = status_of(s, user, "GET", path, None, None)
                cells += 1
                if st != 403:
                    problems.append("%s GET %s: %d, want 403" % (user, path, st))
        # OpenFGA: an organization's store (by its name) answers those its
        # model lets get_iam_users, and reads to others exactly as a missing store.
        for user in USERS:
            for store in ("acme", "globex", "nowhere"):
                visible = OWN[user] == store
                for op, body in (("read", {}), ("check", {"tuple_key": {"user": "user:x", "relation": "get", "object": "core_namespace:y/z"}}),
                                 ("list-objects", {"type": "core_platform-mesh_io_account", "relation": "get", "user": "user:" + user}),
                                 ("write", {"writes": {"tuple_keys": [{"user": "user:" + user, "relation": "member", "object": "core_platform-mesh_io_account:y/z"}]}})):
                    st, got = status_of(s, user, "POST", "/stores/%s/%s" % (store, op), body, None)
                    cells += 1
                    # A write on an account the user may not manage the roles of is refused.
                    want = (403 if op == "write" else 200) if visible else 404
                    if st != want:
                        problems.append("%s OpenFGA %s on %s: %d, want %d: %s" % (user, op, store, st, want, json.dumps(got)[:150]))
                    if not visible and got != {"code": "store_id_not_found", "message": "Store ID not found"}:
                        problems.append("%s OpenFGA %s on %s tells more than a missing store: %s" % (user, op, store, got))
                st, got = status_of(s, user, "GET", "/stores/" + store, None, None)
                cells += 1
                if st != (200 if visible else 404):
                    problems.append("%s GET /stores/%s: %d" % (user, store, st))
        # Binding another organization's export: bob and carol may not; alice, its owner, may.
        for user, ws, want in (("bob", "root:orgs:globex", 403), ("carol", "root:orgs:globex", 404), ("alice", "root:orgs:acme", 201)):
            binding = {"apiVersion": "apis.kcp.io/v1alpha1", "kind": "APIBinding", "metadata": {"name": "w-" + user},
                       "spec": {"reference": {"export": {"path": "root:orgs:acme", "name": "widgets"}}}}
            st, got = status_of(s, user, "POST", "/clusters/%s/apis/apis.kcp.io/v1alpha1/apibindings" % ws, binding, None)
            cells += 1
            if st != want:
                problems.append("%s binds acme's export in %s: %d, want %d: %s" % (user, ws, st, want, json.dumps(got)[:200]))
        # Rewriting a creator to take an organization over: alice may (she is
        # its creator, so nothing changes); bob cannot see acme; once alice
        # makes him a member he sees it, and is still refused.
        acme = next(t["key"]["object"] for t in s.request("POST", "/stores/acme/read", {})[1]["tuples"]
                    if t["key"]["relation"] == "owner" and t["key"]["object"].endswith("/acme"))
        takeovers = (("merge patch", {"spec": {"creator": "%s"}}, "application/merge-patch+json", ""),
                     ("apply", "apiVersion: core.platform-mesh.io/v1alpha1\nkind: Account\nmetadata: {name: acme}\nspec: {creator: %s}\n",
                      "application/apply-patch+yaml", "?fieldManager=x"))
        def takeover(user, want):
            nonlocal cells
            for how, body, ctype, suffix in takeovers:
                b = json.loads(json.dumps(body) % user) if isinstance(body, dict) else body % user
                st, got = status_of(s, user, "PATCH", "/clusters/root:orgs/%s/acme%s" % (ACCOUNTS, suffix), b, ctype)
                cells += 1
                if st != want:
                    problems.append("%s sets acme's creator to themself by %s: %d, want %d: %s" % (user, how, st, want, json.dumps(got)[:200]))
        takeover("alice", 200)
        takeover("bob", 404)
        takeover("carol", 404)
        grant = {"writes": {"tuple_keys": member_role(acme, "user:bob")}}
        assert s.request("POST", "/stores/acme/write", grant, user="alice")[0] == 200
        takeover("bob", 403)
        assert s.request("POST", "/stores/acme/write", {"deletes": grant["writes"]}, user="alice")[0] == 200
        st, got = status_of(s, "bob", "POST", "/clusters/root:orgs:globex/" + ACCOUNTS,
                            dict(account("sub", "account"), spec={"type": "account", "displayName": "An account", "creator": "alice"}), None)
        cells += 1
        if st != 201 or got["spec"]["creator"] != "bob":
            problems.append("bob's child account names someone else as creator: %d %s" % (st, json.dumps(got)[:200]))
        # Impersonation (kubectl --as): a tenant may not act as anyone; an
        # administrator acting as a tenant sees and may do what they may.
        for user in USERS:
            for other in ["admin"] + USERS:
                st, got, _ = s.request("GET", "/clusters/root:orgs/" + ACCOUNTS, user=user, headers={"Impersonate-User": other})
                cells += 1
                if st != 403:
                    problems.append("%s acting as %s: %d, want 403" % (user, other, st))
            st, got, _ = s.request("GET", "/clusters/root:orgs/" + ACCOUNTS, headers={"Impersonate-User": user})
            names = sorted(i["metadata"]["name"] for i in got.get("items", []))
            cells += 1
            if st != 200 or names != ([OWN[user]] if OWN[user] else []):
                problems.append("admin acting as %s lists organizations: %d %s" % (user, st, names))
            st, got, _ = s.request("POST", "/clusters/root:orgs:acme/api/v1/namespaces/default/configmaps", configmap("as-" + user),
                                   headers={"Impersonate-User": user})
            cells += 1
            if st != (201 if user == "alice" else 404):
                problems.append("admin acting as %s creates in acme: %d" % (user, st))
        # A ServiceAccount of acme with RBAC rights on ConfigMaps there (and
        # on Roles, not Secrets): every verb in acme, and nothing anywhere
        # else, its own organization's child account included (a token is
        # somebody in its workspace only, as kcp has it).
        rbac = "/clusters/root:orgs:acme/apis/rbac.authorization.k8s.io/v1"
        assert s.request("POST", "/clusters/root:orgs:acme/api/v1/namespaces/default/serviceaccounts",
                         {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "bot"}}, user="alice")[0] == 201
        assert s.request("POST", rbac + "/clusterroles", {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "bot"},
                         "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["*"]},
                                   {"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["roles"], "verbs": ["create"]}]}, user="alice")[0] == 201
        assert s.request("POST", rbac + "/clusterrolebindings", {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": {"name": "bot"},
                         "roleRef": {"kind": "ClusterRole", "name": "bot"}, "subjects": [{"kind": "ServiceAccount", "name": "bot", "namespace": "default"}]}, user="alice")[0] == 201
        st, tr, _ = s.request("POST", "/clusters/root:orgs:acme/api/v1/namespaces/default/serviceaccounts/bot/token",
                              {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {}}, user="alice")
        assert st == 201, (st, tr)
        s.tokens["bot"] = tr["status"]["token"]
        for ws in workspaces:
            for verb in verbs:
                n += 1
                method, path, body, ctype = requests_for(ws, verb, n)
                if verb == "update":
                    body = dict(s.request("GET", path)[1], data={"updated": "bot"})
                target = target_for(ws, verb, n)
                if target:
                    assert s.request("POST", *target)[0] == 201
                want = ({"create": 201}.get(verb, 200)) if ws == "root:orgs:acme" else 404
                st, got = status_of(s, "bot", method, path, body, ctype)
                cells += 1
                if st != want:
                    problems.append("acme's ServiceAccount %s in %s: %d, want %d: %s" % (verb, ws, st, want, json.dumps(got)[:200]))
                if not target_left(s, ws, verb, n, st):
                    problems.append("acme's ServiceAccount %s in %s: %d, and the object's presence does not agree" % (verb, ws, st))
        for path in ("/clusters/*/api/v1/configmaps", "/clusters/root:orgs/" + ACCOUNTS, "/stores/acme/read", "/stores/globex/read"):
            st, got = status_of(s, "bot", "POST" if "/stores/" in path else "GET", path, {} if "/stores/" in path else None, None)
            cells += 1
            if st != 404:
                problems.append("acme's ServiceAccount at %s: %d, want 404" % (path, st))
        # A Role granting more than the ServiceAccount holds: kube's escalation check.
        st, got = status_of(s, "bot", "POST", rbac + "/namespaces/default/roles", {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": "steal"},
                            "rules": [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]}]}, None)
        cells += 1
        if st != 403 or "not currently held" not in json.dumps(got):
            problems.append("acme's ServiceAccount grants itself secrets: %d %s" % (st, json.dumps(got)[:200]))
        # Revoked with its ServiceAccount: every request is unauthenticated.
        assert s.request("DELETE", "/clusters/root:orgs:acme/api/v1/namespaces/default/serviceaccounts/bot", user="alice")[0] == 200
        for ws in ("root:orgs:acme", "root:orgs:globex"):
            st, got = status_of(s, "bot", "GET", "/clusters/%s/api/v1/namespaces/default/configmaps" % ws, None, None)
            cells += 1
            if st != 401:
                problems.append("a revoked ServiceAccount token in %s: %d, want 401" % (ws, st))
        # Nothing a denied request tried is there.
        admin = s.request("GET", "/clusters/root:orgs/%s/acme" % ACCOUNTS)[1]
        if admin["spec"]["creator"] != "alice":
            problems.append("acme's creator changed to %s" % admin["spec"]["creator"])
        for ws in ("root:orgs:globex",):
            st, got, _ = s.request("GET", "/clusters/%s/apis/apis.kcp.io/v1alpha1/apibindings" % ws)
            if [i["metadata"]["name"] for i in got["items"]]:
                problems.append("a denied binding is in %s" % ws)
        if problems:
            fail("%d of %d isolation cells:\n  %s" % (len(problems), cells, "\n  ".join(problems)), s)
        print("isolation matrix: %d cells, each as the relations decide; hidden workspaces and stores read as missing ones" % cells)


if __name__ == "__main__":
    main()
