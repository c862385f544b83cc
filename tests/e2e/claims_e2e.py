#!/usr/bin/python3
"""apis.kcp.io v1alpha2 and permission claims, from a hostile provider's side.

alice's export (written as v1alpha2) claims ConfigMaps (get, list, watch,
create, update) and Secrets (get). bob's workspace accepts the ConfigMaps
claim for the objects labelled share=yes and the Secrets claim with every
verb; carol's binds without accepting anything. Through the export's
virtual workspace alice reaches bob's shared ConfigMaps and nothing else:
not his other ConfigMaps, not carol's, not his Secrets (kcp intersects the
verbs literally: "*" against "get" allows none), no verb the claim lacks,
no write that would take an object out of the selector; the bindings are
hers to read, not to write. Rejecting the claim takes bob's objects out of
a running watch. v1alpha1 and v1alpha2 show the same objects, converted
as kcp converts them; kubectl prefers v1alpha2 and reads both.

Usage: claims_e2e.py PMESH [KUBECTL]
"""
import json
import os
import subprocess
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pmesh_server import PRESERVE, Server, create_org, expect_status  # noqa: E402

problems = []


def expect(what, result, code):
    return expect_status(problems, what, result, code)


def org(s, name, owner):
    return create_org(s, problems, name, owner)


def cluster_name(s, ws):
    return s.request("GET", "/clusters/root:orgs/apis/tenancy.kcp.io/v1alpha1/workspaces/" + ws.split(":")[-1])[1]["spec"]["cluster"]


def configmap(name, labels=None, data=None):
    md = {"name": name, "namespace": "default"}
    if labels:
        md["labels"] = labels
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": md, "data": data or {"k": "v"}}


def main():
    pmesh = sys.argv[1]
    kubectl = sys.argv[2] if len(sys.argv) > 2 else None
    with Server(pmesh) as s:
        prov, cons1, cons2 = org(s, "prov", "alice"), org(s, "cons1", "bob"), org(s, "cons2", "carol")
        v2 = "/clusters/%s/apis/apis.kcp.io/v1alpha2/" % prov
        expect("alice's schema", s.request("POST", "/clusters/%s/apis/apis.kcp.io/v1alpha1/apiresourceschemas" % prov, {
            "apiVersion": "apis.kcp.io/v1alpha1", "kind": "APIResourceSchema", "metadata": {"name": "v1.databases.db.example.io"},
            "spec": {"group": "db.example.io", "scope": "Namespaced", "names": {"kind": "Database", "plural": "databases"},
                     "versions": [{"name": "v1", "served": True, "storage": True, "schema": PRESERVE}]}}, user="alice"), 201)
        expect("alice's export, as v1alpha2", s.request("POST", v2 + "apiexports", {
            "apiVersion": "apis.kcp.io/v1alpha2", "kind": "APIExport", "metadata": {"name": "databases"},
            "spec": {"resources": [{"group": "db.example.io", "name": "databases", "schema": "v1.databases.db.example.io",
                                    "storage": {"crd": {}}}],
                     "permissionClaims": [{"group": "", "resource": "configmaps", "verbs": ["get", "list", "watch", "create", "update"]},
                                          {"group": "", "resource": "secrets", "verbs": ["get"]}]}}, user="alice"), 201)
        # The same export as v1alpha1: its schemas as latestResourceSchemas, the
        # verbs v1alpha1 cannot hold kept in kcp's annotation.
        old = expect("the export as v1alpha1", s.request("GET", "/clusters/%s/apis/apis.kcp.io/v1alpha1/apiexports/databases" % prov, user="alice"), 200)
        if old.get("spec", {}).get("latestResourceSchemas") != ["v1.databases.db.example.io"] or \
                json.loads(old["metadata"]["annotations"].get("apis.v1alpha2.kcp.io/permission-claims", "[]")) != \
                [{"resource": "configmaps", "verbs": ["get", "list", "watch", "create", "update"]},
                 {"resource": "secrets", "verbs": ["get"]}]:
            problems.append("the export as v1alpha1: %s" % old)
        expect("a v1alpha1 export whose schema name kcp cannot split", s.request(
            "POST", "/clusters/%s/apis/apis.kcp.io/v1alpha1/apiexports" % prov, {
                "apiVersion": "apis.kcp.io/v1alpha1", "kind": "APIExport", "metadata": {"name": "bad"},
                "spec": {"latestResourceSchemas": ["databases"]}}, user="alice"), 400)

        shared = {"matchLabels": {"share": "yes"}}
        expect("bob's binding accepts the claims", s.request("POST", "/clusters/%s/apis/apis.kcp.io/v1alpha2/apibindings" % cons1, {
            "apiVersion": "apis.kcp.io/v1alpha2", "kind": "APIBinding", "metadata": {"name": "databases"},
            "spec": {"reference": {"export": {"path": prov, "name": "databases"}},
                     "permissionClaims": [
                         {"group": "", "resource": "configmaps", "verbs": ["get", "list", "watch", "create", "update"],
                          "selector": shared, "state": "Accepted"},
                         {"group": "", "resource": "secrets", "verbs": ["*"], "selector": {"matchAll": True}, "state": "Accepted"}]}}), 201)
        expect("carol's binding accepts nothing", s.request("POST", "/clusters/%s/apis/apis.kcp.io/v1alpha1/apibindings" % cons2, {
            "apiVersion": "apis.kcp.io/v1alpha1", "kind": "APIBinding", "metadata": {"name": "databases"},
            "spec": {"reference": {"export": {"path": prov, "name": "databases"}}}}), 201)
        # Another export of alice's, bound in bob's workspace too: its binding
        # is not one of the databases export's (the view's bindings list below).
        expect("alice's second export", s.request("POST", v2 + "apiexports", {
            "apiVersion": "apis.kcp.io/v1alpha2", "kind": "APIExport", "metadata": {"name": "tables"}, "spec": {}}, user="alice"), 201)
        expect("bob binds it", s.request("POST", "/clusters/%s/apis/apis.kcp.io/v1alpha2/apibindings" % cons1, {
            "apiVersion": "apis.kcp.io/v1alpha2", "kind": "APIBinding", "metadata": {"name": "tables"},
            "spec": {"reference": {"export": {"path": prov, "name": "tables"}}}}), 201)
        for ws, owner in ((cons1, "bob"), (cons2, "carol")):
            cms = "/clusters/%s/api/v1/namespaces/default/configmaps" % ws
            expect(owner + " shares one", s.request("POST", cms, configmap("shared", {"share": "yes"}), user=owner), 201)
            expect(owner + " keeps one", s.request("POST", cms, configmap("private"), user=owner), 201)
            expect(owner + "'s secret", s.request("POST", "/clusters/%s/api/v1/namespaces/default/secrets" % ws, {
                "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": "default"}, "data": {}}, user=owner), 201)
        b = expect("bob's binding", s.request("GET", "/clusters/%s/apis/apis.kcp.io/v1alpha2/apibindings/databases" % cons1, user="bob"), 200)
        st = b.get("status", {})
        applied = sorted(c["resource"] for c in st.get("appliedPermissionClaims", []))
        if applied != ["configmaps", "secrets"] or len(st.get("exportPermissionClaims", [])) != 2:
            problems.append("bob's binding's claims: %s" % st)
        conds = {c["type"]: c["status"] for c in st.get("conditions", [])}
        if conds.get("PermissionClaimsValid") != "True" or conds.get("PermissionClaimsApplied") != "True":
            problems.append("bob's binding's claim conditions: %s" % st.get("conditions"))
        # As v1alpha1: the selector and verbs ride in kcp's annotation.
        b1 = expect("bob's binding as v1alpha1", s.request("GET", "/clusters/%s/apis/apis.kcp.io/v1alpha1/apibindings/databases" % cons1, user="bob"), 200)
        saved = json.loads(b1.get("metadata", {}).get("annotations", {}).get("apis.v1alpha2.kcp.io/acceptable-permission-claims", "[]"))
        if [c.get("selector") for c in saved if c.get("resource") == "configmaps"] != [shared]:
            problems.append("bob's binding as v1alpha1: %s" % b1)

        url = expect("the slice", s.request("GET", "/clusters/%s/apis/apis.kcp.io/v1alpha1/apiexportendpointslices/databases" % prov,
                                            user="alice"), 200)["status"]["endpoints"][0]["url"]
        vw = urllib.parse.urlparse(url).path
        c1, c2 = cluster_name(s, cons1), cluster_name(s, cons2)

        disc = expect("discovery of the core group", s.request("GET", vw + "/clusters/*/api/v1", user="alice"), 200)
        if sorted(r["name"] for r in disc.get("resources", [])) != ["configmaps", "secrets"]:
            problems.append("the claimed resources in discovery: %s" % disc)
        everything = vw + "/clusters/*/api/v1/configmaps"
        listed = expect("alice lists the claimed configmaps", s.request("GET", everything, user="alice"), 200)
        if [(i["metadata"]["annotations"]["kcp.io/cluster"], i["metadata"]["name"]) for i in listed.get("items", [])] != [(c1, "shared")]:
            problems.append("the claimed configmaps across workspaces: %s" % listed.get("items"))
        one = vw + "/clusters/%s/api/v1/namespaces/default/configmaps" % c1
        got = expect("alice gets bob's shared configmap", s.request("GET", one + "/shared", user="alice"), 200)
        expect("alice gets bob's private configmap", s.request("GET", one + "/private", user="alice"), 404)
        expect("alice updates bob's private configmap", s.request("PUT", one + "/private", configmap("private", data={"x": "y"}), user="alice"), 404)
        got["data"] = {"k": "changed"}
        expect("alice updates bob's shared configmap", s.request("PUT", one + "/shared", got, user="alice"), 200)
        got = s.request("GET", one + "/shared", user="alice")[1]
        got["metadata"]["labels"] = {"share": "no"}
        expect("alice takes it out of the selector", s.request("PUT", one + "/shared", got, user="alice"), 403)
        expect("alice creates a shared configmap", s.request("POST", one, configmap("from-alice", {"share": "yes"}), user="alice"), 201)
        expect("alice creates one outside the selector", s.request("POST", one, configmap("sneaky"), user="alice"), 403)
        expect("bob sees alice's", s.request("GET", "/clusters/%s/api/v1/namespaces/default/configmaps/from-alice" % cons1, user="bob"), 200)
        expect("nobody made the sneaky one", s.request("GET", "/clusters/%s/api/v1/namespaces/default/configmaps/sneaky" % cons1, user="bob"), 404)
        expect("alice deletes (the claim has no delete)", s.request("DELETE", one + "/shared", user="alice"), 403)
        expect("alice patches (the claim has no patch)", s.request("PATCH", one + "/shared", {"data": {"p": "q"}}, user="alice",
                                                                   content_type="application/merge-patch+json"), 403)
        expect("alice gets bob's secret (\"*\" against \"get\" is nothing)",
               s.request("GET", vw + "/clusters/%s/api/v1/namespaces/default/secrets/s" % c1, user="alice"), 403)
        expect("alice gets carol's shared configmap (no claim accepted)",
               s.request("GET", vw + "/clusters/%s/api/v1/namespaces/default/configmaps/shared" % c2, user="alice"), 403)
        expect("bob, a consumer, through the provider's view", s.request("GET", everything, user="bob"), 404)
        # The bindings to the export: readable, not writable.
        bl = expect("alice lists the bindings", s.request("GET", vw + "/clusters/*/apis/apis.kcp.io/v1alpha2/apibindings", user="alice"), 200)
        if sorted((i["metadata"]["annotations"]["kcp.io/cluster"], i["metadata"]["name"]) for i in bl.get("items", [])) != \
                sorted([(c1, "databases"), (c2, "databases")]):
            problems.append("the bindings through the view: %s" % bl.get("items"))
        mine = s.request("GET", vw + "/clusters/%s/apis/apis.kcp.io/v1alpha2/apibindings/databases" % c2, user="alice")[1]
        if isinstance(mine, dict) and mine.get("spec"):
            mine["spec"]["permissionClaims"] = [{"group": "", "resource": "configmaps", "verbs": ["get"], "selector": {"matchAll": True},
                                                 "state": "Accepted"}]
        expect("alice accepts her own claim in carol's binding", s.request(
            "PUT", vw + "/clusters/%s/apis/apis.kcp.io/v1alpha2/apibindings/databases" % c2, mine, user="alice"), 403)

        # A claim of another export's resource, by that export's identity:
        # dave's widgets, which bob binds; carol binds a widgets of her own
        # (another identity), which the claim does not reach.
        tools, w_schema = org(s, "tools", "dave"), "v1.widgets.widgets.example.io"
        for ws, owner in ((tools, "dave"), (cons2, "carol")):
            expect(owner + "'s widgets schema", s.request("POST", "/clusters/%s/apis/apis.kcp.io/v1alpha1/apiresourceschemas" % ws, {
                "apiVersion": "apis.kcp.io/v1alpha1", "kind": "APIResourceSchema", "metadata": {"name": w_schema},
                "spec": {"group": "widgets.example.io", "scope": "Namespaced", "names": {"kind": "Widget", "plural": "widgets"},
                         "versions": [{"name": "v1", "served": True, "storage": True, "schema": PRESERVE}]}}, user=owner), 201)
            expect(owner + "'s widgets export", s.request("POST", "/clusters/%s/apis/apis.kcp.io/v1alpha2/apiexports" % ws, {
                "apiVersion": "apis.kcp.io/v1alpha2", "kind": "APIExport", "metadata": {"name": "widgets"},
                "spec": {"resources": [{"group": "widgets.example.io", "name": "widgets", "schema": w_schema, "storage": {"crd": {}}}]}},
                user=owner), 201)
        for ws, path in ((cons1, tools), (cons2, cons2)):
            expect("widgets bound in " + ws, s.request("POST", "/clusters/%s/apis/apis.kcp.io/v1alpha2/apibindings" % ws, {
                "apiVersion": "apis.kcp.io/v1alpha2", "kind": "APIBinding", "metadata": {"name": "widgets"},
                "spec": {"reference": {"export": {"path": path, "name": "widgets"}}}}), 201)
            expect("a widget in " + ws, s.request("POST", "/clusters/%s/apis/widgets.example.io/v1/namespaces/default/widgets" % ws, {
                "apiVersion": "widgets.example.io/v1", "kind": "Widget", "metadata": {"name": "w1", "namespace": "default"}}), 201)
        identity = s.request("GET", "/clusters/%s/apis/apis.kcp.io/v1alpha2/apiexports/widgets" % tools, user="dave")[1]["status"]["identityHash"]
        export = s.request("GET", v2 + "apiexports/databases", user="alice")[1]
        export["spec"]["permissionClaims"].append({"group": "widgets.example.io", "resource": "widgets", "identityHash": identity, "verbs": ["get", "list"]})
        expect("alice claims dave's widgets", s.request("PUT", v2 + "apiexports/databases", export, user="alice"), 200)
        for ws in (cons1, cons2):
            b = s.request("GET", "/clusters/%s/apis/apis.kcp.io/v1alpha2/apibindings/databases" % ws)[1]
            b["spec"]["permissionClaims"] = b["spec"].get("permissionClaims", []) + [
                {"group": "widgets.example.io", "resource": "widgets", "identityHash": identity, "verbs": ["get", "list"],
                 "selector": {"matchAll": True}, "state": "Accepted"}]
            expect("the widgets claim accepted in " + ws, s.request("PUT", "/clusters/%s/apis/apis.kcp.io/v1alpha2/apibindings/databases" % ws, b), 200)
        disc = expect("discovery of the claimed widgets", s.request("GET", vw + "/clusters/*/apis/widgets.example.io/v1", user="alice"), 200)
        if [r["name"] for r in disc.get("resources", [])] != ["widgets"]:
            problems.append("the claimed widgets in discovery: %s" % disc)
        widgets = expect("alice lists the claimed widgets", s.request("GET", vw + "/clusters/*/apis/widgets.example.io/v1/widgets", user="alice"), 200)
        if [i["metadata"]["annotations"]["kcp.io/cluster"] for i in widgets.get("items", [])] != [c1]:
            problems.append("the claimed widgets across workspaces (dave's identity only): %s" % widgets.get("items"))
        expect("alice gets bob's widget", s.request("GET", vw + "/clusters/%s/apis/widgets.example.io/v1/namespaces/default/widgets/w1" % c1, user="alice"), 200)
        expect("alice gets carol's widget of another identity",
               s.request("GET", vw + "/clusters/%s/apis/widgets.example.io/v1/namespaces/default/widgets/w1" % c2, user="alice"), 403)

        # Bob rejects the configmaps claim: a running watch sees his objects go.
        w = s.watch(everything + "?watch=true&resourceVersion=" + listed["metadata"]["resourceVersion"], user="alice", timeout=5)
        b = s.request("GET", "/clusters/%s/apis/apis.kcp.io/v1alpha2/apibindings/databases" % cons1, user="bob")[1]
        b["spec"]["permissionClaims"][0]["state"] = "Rejected"
        expect("bob rejects the claim", s.request("PUT", "/clusters/%s/apis/apis.kcp.io/v1alpha2/apibindings/databases" % cons1, b), 200)
        gone, deadline = set(), time.time() + 10
        while time.time() < deadline and len(gone) < 2:
            try:
                e = w.next()
            except TimeoutError:
                break
            if e is None:
                break
            if e["type"] == "DELETED":
                gone.add(e["object"]["metadata"]["name"])
        if gone != {"shared", "from-alice"}:
            problems.append("rejecting the claim deleted %s from the view" % gone)
        after = expect("the list after the rejection", s.request("GET", everything, user="alice"), 200)
        if after.get("items"):
            problems.append("after the rejection: %s" % after.get("items"))
        expect("bob's shared configmap after the rejection", s.request("GET", one + "/shared", user="alice"), 403)

        if kubectl:
            env = dict(os.environ, KUBECONFIG=os.path.join(s.data, "admin.kubeconfig"))
            base = "https://127.0.0.1:%d" % s.port
            out = subprocess.run([kubectl, "--server", base + "/clusters/" + prov, "get", "apiexports", "-o", "json"],
                                 capture_output=True, text=True, timeout=60, env=env)
            items = json.loads(out.stdout).get("items", []) if out.returncode == 0 else []
            if [(i["metadata"]["name"], i["apiVersion"]) for i in items] != [("databases", "apis.kcp.io/v1alpha2"), ("tables", "apis.kcp.io/v1alpha2")]:
                problems.append("kubectl get apiexports (preferred v1alpha2): %s %s" % (out.stdout[:300], out.stderr))
            out = subprocess.run([kubectl, "--server", base + "/clusters/" + cons1, "get", "apibindings.v1alpha1.apis.kcp.io",
                                  "databases", "-o", "jsonpath={.spec.reference.export.name}"],
                                 capture_output=True, text=True, timeout=60, env=env)
            if out.returncode != 0 or out.stdout != "databases":
                problems.append("kubectl get apibindings.v1alpha1: %s %s" % (out.stdout, out.stderr))

    if problems:
        raise SystemExit("FAIL:\n  " + "\n  ".join(problems))
    print("claims e2e: ok")


if __name__ == "__main__":
    main()
