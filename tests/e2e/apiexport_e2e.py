#!/usr/bin/python3
"""A provider's controller attached as to kcp: given only the URL in its
APIExport's endpoint slice, it reaches every consumer workspace bound to
the export through the APIExport virtual workspace.

alice owns the provider organization and exports Databases; bob's and
carol's organizations bind them (the admin binds, as bind permission is
issue 14's claims). A controller written with python3-kubernetes (its
dynamic client, discovery included) lists and watches Databases across the
bound workspaces (`/clusters/*`), writes each one's status through
`/clusters/<name>` and the consumers read it. Then who may not: a stranger,
a consumer, a workspace that does not bind, a resource the export does not
offer, a write to the wildcard; a binding that goes takes its workspace out
of the view. kubectl (when there is one) lists through the same URL.

Usage: apiexport_e2e.py PMESH [KUBECTL]
"""
import os
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

from kubernetes import dynamic

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pmesh_server import PRESERVE, Server, create_org, expect_status  # noqa: E402

problems = []


def expect(what, result, code):
    return expect_status(problems, what, result, code)


def org(s, name, owner):
    return create_org(s, problems, name, owner)



def provider(s, url, seen, stop):
    """The provider's controller: every Database it is told of gets a status."""
    everywhere = dynamic.DynamicClient(s.kube_client(url + "/clusters/*", "alice"))
    dbs = everywhere.resources.get(api_version="db.example.io/v1", kind="Database")
    listed = dbs.get().to_dict()
    rv = listed["metadata"]["resourceVersion"]
    pending = listed["items"]
    clients = {}

    def reconcile(o):
        cluster = o["metadata"]["annotations"]["kcp.io/cluster"]
        if cluster not in clients:
            one = dynamic.DynamicClient(s.kube_client(url + "/clusters/" + cluster, "alice"))
            clients[cluster] = one.resources.get(api_version="db.example.io/v1", kind="Database")
        if (o.get("status") or {}).get("endpoint"):
            return
        body = {"metadata": {"name": o["metadata"]["name"], "namespace": o["metadata"]["namespace"]},
                "status": {"endpoint": "%s.%s.db.example.com" % (o["metadata"]["name"], cluster),
                           "conditions": [{"type": "Ready", "status": "True", "reason": "Provisioned", "message": ""}]}}
        clients[cluster].status.patch(body=body, name=o["metadata"]["name"], namespace=o["metadata"]["namespace"],
                                      content_type="application/merge-patch+json")
        seen.add((cluster, o["metadata"]["name"]))

    for o in pending:
        reconcile(o)
    deadline = time.time() + 30
    while not stop.is_set() and time.time() < deadline:
        # The dynamic client's watch, resumed from the last version seen.
        for e in dbs.watch(resource_version=rv, timeout=2):
            o = e["raw_object"]
            rv = o["metadata"]["resourceVersion"]
            if e["type"] in ("ADDED", "MODIFIED"):
                reconcile(o)
            if stop.is_set():
                break


def main():
    pmesh = sys.argv[1]
    kubectl = sys.argv[2] if len(sys.argv) > 2 else None
    with Server(pmesh) as s:
        prov = org(s, "prov", "alice")
        cons1 = org(s, "cons1", "bob")
        cons2 = org(s, "cons2", "carol")
        org(s, "idle", "dave")
        apis = "/clusters/%s/apis/apis.kcp.io/v1alpha1/" % prov
        expect("alice's schema", s.request("POST", apis + "apiresourceschemas", {
            "apiVersion": "apis.kcp.io/v1alpha1", "kind": "APIResourceSchema", "metadata": {"name": "v1.databases.db.example.io"},
            "spec": {"group": "db.example.io", "scope": "Namespaced",
                     "names": {"kind": "Database", "plural": "databases", "singular": "database", "listKind": "DatabaseList"},
                     "versions": [{"name": "v1", "served": True, "storage": True, "schema": PRESERVE,
                                   "subresources": {"status": {}}}]}}, user="alice"), 201)
        expect("alice's export", s.request("POST", apis + "apiexports", {
            "apiVersion": "apis.kcp.io/v1alpha1", "kind": "APIExport", "metadata": {"name": "databases"},
            "spec": {"latestResourceSchemas": ["v1.databases.db.example.io"]}}, user="alice"), 201)
        # The export's endpoint slice: where its virtual workspace is.
        slice_ = expect("the export's endpoint slice", s.request("GET", apis + "apiexportendpointslices/databases", user="alice"), 200)
        endpoints = slice_.get("status", {}).get("endpoints", [])
        prov_name = s.request("GET", "/clusters/root:orgs/apis/tenancy.kcp.io/v1alpha1/workspaces/prov")[1]["spec"]["cluster"]
        if len(endpoints) != 1 or not endpoints[0]["url"].endswith("/services/apiexport/%s/databases" % prov_name):
            raise SystemExit("FAIL: the endpoint slice: %s" % slice_)
        url = endpoints[0]["url"]
        port = urllib.parse.urlparse(url).port
        if port != s.port:
            raise SystemExit("FAIL: the endpoint slice names another server: %s" % url)
        vw = urllib.parse.urlparse(url).path

        # Before anyone binds, discovery already shows the export's resources, and the lists are empty.
        disc = expect("discovery, nothing bound", s.request("GET", vw + "/clusters/*/apis/db.example.io/v1", user="alice"), 200)
        if [r["name"] for r in disc.get("resources", [])] != ["databases", "databases/status"]:
            problems.append("the virtual workspace's discovery: %s" % disc)
        empty = expect("a list, nothing bound", s.request("GET", vw + "/clusters/*/apis/db.example.io/v1/databases", user="alice"), 200)
        if empty.get("items") != []:
            problems.append("a list before any binding: %s" % empty)

        binding = {"apiVersion": "apis.kcp.io/v1alpha1", "kind": "APIBinding", "metadata": {"name": "databases"},
                   "spec": {"reference": {"export": {"path": prov, "name": "databases"}}}}
        for ws in (cons1, cons2):
            expect("binding in " + ws, s.request("POST", "/clusters/%s/apis/apis.kcp.io/v1alpha1/apibindings" % ws, binding), 201)
        names = {}
        for ws, owner in ((cons1, "bob"), (cons2, "carol")):
            path = "/clusters/%s/apis/db.example.io/v1/namespaces/default/databases" % ws
            expect(owner + " orders a database", s.request("POST", path, {
                "apiVersion": "db.example.io/v1", "kind": "Database", "metadata": {"name": "orders"}, "spec": {"size": "small"}}, user=owner), 201)
            names[ws] = s.request("GET", "/clusters/root:orgs/apis/tenancy.kcp.io/v1alpha1/workspaces/" + ws.split(":")[-1])[1]["spec"]["cluster"]

        # A deletecollection through the export's content is a delete of the
        # content: a member of the provider's account (who may update it)
        # may not, its owner may. (The selector picks nothing either way.)
        prov_account = next(t["key"]["object"] for t in s.request("POST", "/stores/prov/read", {}, user="alice")[1]["tuples"]
                            if t["key"]["relation"] == "owner" and t["key"]["object"].endswith("/prov"))
        role = "role:core_platform-mesh_io_account/" + prov_account.split(":", 1)[1] + "/member"
        member = {"tuple_keys": [{"user": "user:dave", "relation": "assignee", "object": role},
                                 {"user": role + "#assignee", "relation": "member", "object": prov_account}]}
        expect("dave made a member of prov", s.request("POST", "/stores/prov/write", {"writes": member}, user="alice"), 200)
        collection = vw + "/clusters/%s/apis/db.example.io/v1/namespaces/default/databases?labelSelector=none%%3Dthese" % names[cons1]
        expect("a member's deletecollection through the content", s.request("DELETE", collection, user="dave"), 403)
        expect("the owner's deletecollection through the content", s.request("DELETE", collection, user="alice"), 200)
        expect("dave no longer a member", s.request("POST", "/stores/prov/write", {"deletes": member}, user="alice"), 200)

        # The provider's controller, given the URL only.
        seen, stop = set(), threading.Event()
        errors = []

        def run():
            try:
                provider(s, url, seen, stop)
            except Exception as e:  # reported below
                import traceback
                errors.append(traceback.format_exc())
        t = threading.Thread(target=run)
        t.start()
        deadline = time.time() + 20
        done = False
        while time.time() < deadline and not done and not errors:
            time.sleep(0.2)
            done = all(s.request("GET", "/clusters/%s/apis/db.example.io/v1/namespaces/default/databases/orders" % ws, user=owner)[1]
                       .get("status", {}).get("endpoint") for ws, owner in ((cons1, "bob"), (cons2, "carol")))
        # A database ordered while the controller watches.
        expect("bob orders another", s.request("POST", "/clusters/%s/apis/db.example.io/v1/namespaces/default/databases" % cons1, {
            "apiVersion": "db.example.io/v1", "kind": "Database", "metadata": {"name": "later"}, "spec": {"size": "large"}}, user="bob"), 201)
        deadline = time.time() + 20
        later = {}
        while time.time() < deadline and not errors and not later.get("status", {}).get("endpoint"):
            time.sleep(0.2)
            later = s.request("GET", "/clusters/%s/apis/db.example.io/v1/namespaces/default/databases/later" % cons1, user="bob")[1]
        stop.set()
        t.join(timeout=40)
        if errors:
            raise SystemExit("FAIL: the provider's controller: %s" % errors)
        if not done or not later.get("status", {}).get("endpoint"):
            raise SystemExit("FAIL: the consumers never saw the provider's status (seen %s)" % sorted(seen))
        if seen != {(names[cons1], "orders"), (names[cons2], "orders"), (names[cons1], "later")}:
            problems.append("the controller saw %s" % sorted(seen))
        got = s.request("GET", "/clusters/%s/apis/db.example.io/v1/namespaces/default/databases/orders" % cons1, user="bob")[1]
        if got["status"]["endpoint"] != "orders.%s.db.example.com" % names[cons1] or got["metadata"]["annotations"]["kcp.io/cluster"] != names[cons1]:
            problems.append("bob's database: %s" % got)

        # Who may not, and what is not there.
        everything = vw + "/clusters/*/apis/db.example.io/v1/databases"
        listed = expect("alice lists through the virtual workspace", s.request("GET", everything, user="alice"), 200)
        if sorted((i["metadata"]["annotations"]["kcp.io/cluster"], i["metadata"]["name"]) for i in listed.get("items", [])) != \
                sorted([(names[cons1], "later"), (names[cons1], "orders"), (names[cons2], "orders")]):
            problems.append("the wildcard list: %s" % listed.get("items"))
        expect("dave, a stranger to the provider", s.request("GET", everything, user="dave"), 404)
        expect("bob, a consumer, not the provider", s.request("GET", everything, user="bob"), 404)
        expect("an export that does not exist", s.request("GET", vw.replace("/databases", "/nothing") + "/clusters/*/apis/db.example.io/v1/databases", user="alice"), 404)
        idle = s.request("GET", "/clusters/root:orgs/apis/tenancy.kcp.io/v1alpha1/workspaces/idle")[1]["spec"]["cluster"]
        expect("a workspace that does not bind", s.request("GET", vw + "/clusters/%s/apis/db.example.io/v1/databases" % idle, user="alice"), 404)
        expect("a resource the export does not offer", s.request("GET", vw + "/clusters/%s/api/v1/configmaps" % names[cons1], user="alice"), 404)
        expect("a write to the wildcard", s.request("POST", vw + "/clusters/*/apis/db.example.io/v1/namespaces/default/databases", {
            "apiVersion": "db.example.io/v1", "kind": "Database", "metadata": {"name": "x"}}, user="alice"), 405)
        expect("a create in a bound workspace", s.request("POST", vw + "/clusters/%s/apis/db.example.io/v1/namespaces/default/databases" % names[cons2], {
            "apiVersion": "db.example.io/v1", "kind": "Database", "metadata": {"name": "made-by-provider"}}, user="alice"), 201)
        expect("carol sees it", s.request("GET", "/clusters/%s/apis/db.example.io/v1/namespaces/default/databases/made-by-provider" % cons2, user="carol"), 200)

        # Another provider whose export later offers the same resource does not
        # reach what alice's binding serves in cons1 (its own binding there
        # stays Bound for what it bound first, with a NamingConflicts).
        idle_apis = "/clusters/root:orgs:idle/apis/apis.kcp.io/v1alpha1/"
        for name, group, plural, kind in (("v1.widgets.w.example.io", "w.example.io", "widgets", "Widget"),
                                          ("v1.databases.db.example.io", "db.example.io", "databases", "Database")):
            expect("dave's schema " + name, s.request("POST", idle_apis + "apiresourceschemas", {
                "apiVersion": "apis.kcp.io/v1alpha1", "kind": "APIResourceSchema", "metadata": {"name": name},
                "spec": {"group": group, "scope": "Namespaced", "names": {"kind": kind, "plural": plural, "singular": kind.lower()},
                         "versions": [{"name": "v1", "served": True, "storage": True, "schema": PRESERVE}]}}, user="dave"), 201)
        expect("dave's export of widgets", s.request("POST", idle_apis + "apiexports", {
            "apiVersion": "apis.kcp.io/v1alpha1", "kind": "APIExport", "metadata": {"name": "widgets"},
            "spec": {"latestResourceSchemas": ["v1.widgets.w.example.io"]}}, user="dave"), 201)
        expect("cons1 binds dave's widgets", s.request("POST", "/clusters/%s/apis/apis.kcp.io/v1alpha1/apibindings" % cons1, {
            "apiVersion": "apis.kcp.io/v1alpha1", "kind": "APIBinding", "metadata": {"name": "widgets"},
            "spec": {"reference": {"export": {"path": "root:orgs:idle", "name": "widgets"}}}}), 201)
        exp = s.request("GET", idle_apis + "apiexports/widgets", user="dave")[1]
        exp["spec"]["latestResourceSchemas"].append("v1.databases.db.example.io")
        expect("dave adds databases to his export", s.request("PUT", idle_apis + "apiexports/widgets", exp, user="dave"), 200)
        dave_url = s.request("GET", idle_apis + "apiexportendpointslices/widgets", user="dave")[1]["status"]["endpoints"][0]["url"]
        dave_vw = urllib.parse.urlparse(dave_url).path
        expect("dave's widgets in cons1", s.request("GET", dave_vw + "/clusters/%s/apis/w.example.io/v1/widgets" % names[cons1], user="dave"), 200)
        expect("alice's databases in cons1 through dave's export",
               s.request("GET", dave_vw + "/clusters/%s/apis/db.example.io/v1/namespaces/default/databases/orders" % names[cons1], user="dave"), 404)
        theirs = expect("every database through dave's export", s.request("GET", dave_vw + "/clusters/*/apis/db.example.io/v1/databases", user="dave"), 200)
        if theirs.get("items"):
            problems.append("dave's export lists alice's databases: %s" % theirs["items"])

        # A watch from a version resumes there; an unbinding takes the workspace out.
        rv = listed["metadata"]["resourceVersion"]
        w = s.watch(everything + "?watch=true&resourceVersion=" + rv, user="alice")
        first = w.next()
        if not first or first["type"] != "ADDED" or first["object"]["metadata"]["name"] != "made-by-provider":
            problems.append("a resumed watch began with %s" % first)
        expect("carol unbinds", s.request("DELETE", "/clusters/%s/apis/apis.kcp.io/v1alpha1/apibindings/databases" % cons2, user="admin"), 200)
        gone = set()
        deadline = time.time() + 10
        while time.time() < deadline and len(gone) < 2:
            e = w.next()
            if e and e["type"] == "DELETED":
                gone.add(e["object"]["metadata"]["name"])
        if gone != {"orders", "made-by-provider"}:
            problems.append("unbinding cons2 deleted %s from the view" % gone)
        after = expect("the list after the unbinding", s.request("GET", everything, user="alice"), 200)
        if sorted(i["metadata"]["name"] for i in after.get("items", [])) != ["later", "orders"]:
            problems.append("after the unbinding: %s" % after.get("items"))
        expect("the unbound workspace", s.request("GET", vw + "/clusters/%s/apis/db.example.io/v1/databases" % names[cons2], user="alice"), 404)

        if kubectl:
            work = tempfile.mkdtemp()
            kc = os.path.join(work, "kubeconfig")
            with open(kc, "w") as f:
                f.write("apiVersion: v1\nkind: Config\nclusters:\n- name: vw\n  cluster:\n    server: %s/clusters/*\n"
                        "    certificate-authority: %s\nusers:\n- name: alice\n  user:\n    token: %s\ncontexts:\n"
                        "- name: vw\n  context: {cluster: vw, user: alice}\ncurrent-context: vw\n"
                        % (url, os.path.join(s.data, "serving.pem"), s.tokens["alice"]))
            out = subprocess.run([kubectl, "--kubeconfig", kc, "get", "databases", "-A", "-o",
                                  "custom-columns=NAME:.metadata.name,CLUSTER:.metadata.annotations.kcp\\.io/cluster", "--no-headers"],
                                 capture_output=True, text=True, timeout=60)
            rows = sorted(tuple(line.split()) for line in out.stdout.strip().splitlines())
            if out.returncode != 0 or rows != sorted([("later", names[cons1]), ("orders", names[cons1])]):
                problems.append("kubectl through the virtual workspace: %s %s" % (out.stdout, out.stderr))

    if problems:
        raise SystemExit("FAIL:\n  " + "\n  ".join(problems))
    print("apiexport e2e: ok")


if __name__ == "__main__":
    main()
