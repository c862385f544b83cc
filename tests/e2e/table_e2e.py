#!/usr/bin/python3
"""Server-side printing and OpenAPI v3 over the wire, as kube-apiserver
answers them: the
Table of a list, a get and a watch (column definitions in the first event
only), includeObject, the 406 of a Table the server cannot make, a bound
kind whose APIResourceSchema declares additionalPrinterColumns, and a
non-admin's Table holding only what the same list shows them; the bound
kind's schema published as its APIResourceSchema says it.

Usage: table_e2e.py PMESH
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pmesh_server import Problems, Server, publish_and_bind, widget_schema  # noqa: E402

TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io"
KUBECTL = TABLE + ",application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json"
ACCOUNTS = "apis/core.platform-mesh.io/v1alpha1/accounts"


def account(name, t, display=None):
    spec = {"type": t, "displayName": display or name.title()}
    return {"apiVersion": "core.platform-mesh.io/v1alpha1", "kind": "Account", "metadata": {"name": name}, "spec": spec}


def header(hdrs, name):
    return next((v for k, v in hdrs if k.lower() == name.lower()), None)


def names(cols):
    return [c["name"] for c in cols or []]


def main():
    p = Problems()
    with Server(sys.argv[1]) as s:
        for who, org in (("alice", "acme"), ("bob", "globex")):
            st, body, _ = s.request("POST", "/clusters/root:orgs/" + ACCOUNTS, account(org, "org", org.title() + " Inc"), user=who)
            assert st == 201, (who, st, body)

        # A list as a Table: kcp's columns for the kind, rows with metadata.
        st, t, hdrs = s.request("GET", "/clusters/root:orgs/" + ACCOUNTS, headers={"Accept": KUBECTL})
        p.want("list status", st, 200)
        p.want("content type", header(hdrs, "Content-Type"), TABLE)
        p.want("kind", (t.get("kind"), t.get("apiVersion")), ("Table", "meta.k8s.io/v1"))
        p.want("columns", names(t.get("columnDefinitions")), ["Name", "Display Name", "Type", "Ready"])
        p.want("name column format", t["columnDefinitions"][0].get("format"), "name")
        p.want("rows", [r["cells"] for r in t.get("rows", [])], [["acme", "Acme Inc", "org", "True"], ["globex", "Globex Inc", "org", "True"]])
        obj = t["rows"][0]["object"]
        p.want("row object", (obj.get("kind"), obj.get("apiVersion"), obj["metadata"].get("name")),
               ("PartialObjectMetadata", "meta.k8s.io/v1", "acme"))
        p.want("row object has no spec", "spec" in obj, False)
        p.want("list metadata", "resourceVersion" in t.get("metadata", {}), True)

        # v1beta1, and includeObject.
        st, t, _ = s.request("GET", "/clusters/root:orgs/" + ACCOUNTS + "?includeObject=Object",
                             headers={"Accept": "application/json;as=Table;v=v1beta1;g=meta.k8s.io"})
        p.want("v1beta1", t.get("apiVersion"), "meta.k8s.io/v1beta1")
        p.want("includeObject=Object", t["rows"][0]["object"].get("spec", {}).get("displayName"), "Acme Inc")
        st, t, _ = s.request("GET", "/clusters/root:orgs/" + ACCOUNTS + "?includeObject=None", headers={"Accept": TABLE})
        p.want("includeObject=None", t["rows"][0].get("object", "missing"), None)
        st, t, _ = s.request("GET", "/clusters/root:orgs/" + ACCOUNTS + "?includeObject=Everything", headers={"Accept": TABLE})
        p.want("bad includeObject", (st, t.get("reason"), t.get("message")),
               (400, "BadRequest", 'unrecognized includeObject value: "Everything"'))
        # Only a Table the server cannot make: 406; with a fallback, the list.
        st, t, _ = s.request("GET", "/clusters/root:orgs/" + ACCOUNTS, headers={"Accept": "application/json;as=Table;v=v2;g=meta.k8s.io"})
        p.want("406", (st, t.get("reason")), (406, "NotAcceptable"))
        st, t, _ = s.request("GET", "/clusters/root:orgs/" + ACCOUNTS,
                             headers={"Accept": "application/json;as=Table;v=v2;g=meta.k8s.io,application/json"})
        p.want("fallback", (st, t.get("kind")), (200, "AccountList"))
        # Pages of a Table carry the continue token.
        st, t, _ = s.request("GET", "/clusters/root:orgs/" + ACCOUNTS + "?limit=1", headers={"Accept": TABLE})
        p.want("page rows", len(t.get("rows", [])), 1)
        p.want("page continue", bool(t.get("metadata", {}).get("continue")), True)

        # A get as a Table.
        st, t, _ = s.request("GET", "/clusters/root/apis/tenancy.kcp.io/v1alpha1/workspaces/orgs", headers={"Accept": KUBECTL})
        p.want("get columns", names(t.get("columnDefinitions")), ["Name", "Type", "Region", "Phase", "URL", "Age"])
        cells = t["rows"][0]["cells"] if t.get("rows") else []
        p.want("get cells", cells[:4], ["orgs", "orgs", None, "Ready"])
        p.want("get rv", t.get("metadata", {}).get("resourceVersion", "") != "", True)

        # A non-admin's list of organizations holds their own only, as the list does.
        st, t, _ = s.request("GET", "/clusters/root:orgs/" + ACCOUNTS, user="alice", headers={"Accept": TABLE})
        p.want("alice's organizations", [r["cells"][0] for r in t.get("rows", [])], ["acme"])
        st, t, _ = s.request("GET", "/clusters/root:orgs:globex/api/v1/namespaces/default/configmaps", user="alice",
                             headers={"Accept": TABLE})
        p.want("a hidden workspace as a Table", (st, t.get("kind")), (404, "Status"))

        # A watch of Tables: definitions in the first event, rows in each.
        cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "w1"}, "data": {"a": "1", "b": "2"}}
        base = "/clusters/root:orgs:acme/api/v1/namespaces/default/configmaps"
        assert s.request("POST", base, cm)[0] == 201
        conn = s.connection(10)
        conn.request("GET", base + "?watch=true&timeoutSeconds=5", headers=s.headers_for("admin", {"Accept": KUBECTL}))
        resp = conn.getresponse()
        # kube names the stream's serializer, not the conversion (a TODO in its watch handler).
        p.want("watch content type", resp.getheader("Content-Type"), "application/json")

        first = json.loads(resp.readline())
        cm["metadata"]["name"] = "w2"
        cm["data"] = {"a": "1"}
        assert s.request("POST", base, cm)[0] == 201
        second = json.loads(resp.readline())
        conn.close()
        p.want("first event", (first["type"], first["object"].get("kind"), names(first["object"].get("columnDefinitions"))),
               ("ADDED", "Table", ["Name", "Data", "Age"]))
        p.want("first row", first["object"]["rows"][0]["cells"][:2], ["w1", 2])
        p.want("second event", (second["type"], second["object"].get("columnDefinitions")), ("ADDED", None))
        p.want("second row", second["object"]["rows"][0]["cells"][:2], ["w2", 1])

        # A bound kind prints the columns its APIResourceSchema declares.
        ars = widget_schema({
            "schema": {"openAPIV3Schema": {
                "type": "object", "description": "A widget.",
                "properties": {"spec": {"type": "object", "properties": {
                    "size": {"type": "integer", "description": "How big."},
                    "colour": {"type": "string", "enum": ["red", "blue"]}}}}}},
            "additionalPrinterColumns": [
                {"name": "Size", "type": "integer", "jsonPath": ".spec.size"},
                {"name": "Colour", "type": "string", "jsonPath": ".spec.colour", "priority": 1, "description": "What colour."},
                {"name": "Broken", "type": "string", "jsonPath": "..nope"}]})
        p.want("schema, export, binding", publish_and_bind(s, "root:orgs:acme", ars), [201, 201, 201])
        w = {"apiVersion": "acme.io/v1", "kind": "Widget", "metadata": {"name": "big"}, "spec": {"size": 3, "colour": "red"}}
        wpath = "/clusters/root:orgs:acme/apis/acme.io/v1/namespaces/default/widgets"
        st, body, _ = s.request("POST", wpath, w)
        p.want("widget", st, 201)
        st, t, _ = s.request("GET", wpath, headers={"Accept": TABLE})
        cols = t.get("columnDefinitions") or []
        # The column whose path kube would refuse is left out.
        p.want("bound columns", [(c["name"], c["type"], c["priority"]) for c in cols],
               [("Name", "string", 0), ("Size", "integer", 0), ("Colour", "string", 1)])
        # A column's description, or what apiextensions-apiserver says of one without.
        p.want("bound column descriptions", [c["description"] for c in cols[1:]],
               ["Custom resource definition column (in JSONPath format): .spec.size", "What colour."])
        p.want("bound row", [r["cells"] for r in t.get("rows", [])], [["big", 3, "red"]])
        st, doc, _ = s.request("GET", "/clusters/root:orgs:acme/openapi/v3/apis/acme.io/v1")
        widget = doc.get("components", {}).get("schemas", {}).get("io.acme.v1.Widget", {}) if st == 200 else {}
        p.want("bound schema", (widget.get("description"), widget.get("properties", {}).get("spec", {}).get("properties", {}).get("size")),
               ("A widget.", {"type": "integer", "description": "How big."}))
        p.want("bound schema's metadata", widget.get("properties", {}).get("metadata", {}).get("allOf"),
               [{"$ref": "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"}])
        p.want("bound schema's kind", widget.get("x-kubernetes-group-version-kind"), [{"group": "acme.io", "version": "v1", "kind": "Widget"}])
        # Another organization's workspace does not publish it.
        st, doc, _ = s.request("GET", "/clusters/root:orgs:globex/openapi/v3/apis/acme.io/v1")
        p.want("not bound elsewhere", st, 404)
    p.report("table e2e: ok")


if __name__ == "__main__":
    main()
