#!/usr/bin/python3
"""Kinds' schemas on writes, as kube-apiserver applies a custom resource's:
422 Invalid with kube's causes (required, too long, types, enums, patterns),
unknown fields pruned with a warning, or refused under fieldValidation=Strict,
defaults applied; a bound kind validated by its APIResourceSchema's schema,
and every version it serves served (stored in one, shown in the one named,
each validated by its own schema);
an APIResourceSchema with CEL rules refused rather than half enforced; and a
tenant's pattern that backtracks exponentially elsewhere matched in linear
time here; and a write whose rules would derive an object its kind's schema
forbids refused with a 422 naming the rule (tests/rules/schemas.rules).

Usage: schema_e2e.py PMESH
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pmesh_server import Problems, Server, publish_and_bind, widget_schema  # noqa: E402

ORGS = "/clusters/root:orgs/apis/core.platform-mesh.io/v1alpha1/accounts"


def account(name, **spec):
    return {"apiVersion": "core.platform-mesh.io/v1alpha1", "kind": "Account", "metadata": {"name": name}, "spec": spec}


def causes(body):
    return sorted((c.get("field"), c.get("reason")) for c in (body.get("details") or {}).get("causes", []))


def warnings(hdrs):
    return [v for k, v in hdrs if k.lower() == "warning"]


def main():
    p = Problems()
    with Server(sys.argv[1]) as s:
        st, b, _ = s.request("POST", ORGS, account("nameless", type="org"))
        p.want("required", (st, b.get("reason"), b.get("message")),
               (422, "Invalid", 'Account.core.platform-mesh.io "nameless" is invalid: spec.displayName: Required value'))
        st, b, _ = s.request("POST", ORGS, account("long", type="org", displayName="x" * 300))
        p.want("too long", (st, b.get("message")),
               (422, 'Account.core.platform-mesh.io "long" is invalid: spec.displayName: Too long: must have at most 255 bytes'))
        st, b, _ = s.request("POST", ORGS, account("typed", type="org", displayName=7, creator=["a"]))
        p.want("types", (st, causes(b)), (422, [("spec.creator", "FieldValueTypeInvalid"), ("spec.displayName", "FieldValueTypeInvalid")]))
        p.want("type message", 'spec.displayName in body must be of type string: "integer"' in b.get("message", ""), True)
        # 255 characters of four bytes each: the limit counts characters, as kube's does.
        st, b, _ = s.request("POST", ORGS, account("wide", type="org", displayName="\U0001F600" * 255))
        p.want("maxLength counts characters", st, 201)

        # Unknown fields: dropped and warned about (Warn, the default), refused (Strict), dropped silently (Ignore).
        st, b, hdrs = s.request("POST", ORGS, account("warned", type="org", displayName="W", colour="red"))
        p.want("warn: created", (st, "colour" in b.get("spec", {})), (201, False))
        p.want("warn: header", warnings(hdrs), ['299 - "unknown field \\"spec.colour\\""'])
        st, b, _ = s.request("POST", ORGS + "?fieldValidation=Strict", account("strict", type="org", displayName="S", colour="red", size=1))
        p.want("strict", (st, b.get("reason"), b.get("message")),
               (400, "BadRequest", 'Account in version "v1alpha1" cannot be handled as a Account: strict decoding error: '
                                   'unknown field "spec.colour", unknown field "spec.size"'))
        st, b, hdrs = s.request("POST", ORGS + "?fieldValidation=Ignore", account("ignored", type="org", displayName="I", colour="red"))
        p.want("ignore", (st, warnings(hdrs)), (201, []))
        # An update that unsets what is required is refused too; a null is no value.
        st, b, _ = s.request("PATCH", ORGS + "/warned", {"spec": {"displayName": None}}, content_type="application/merge-patch+json")
        p.want("patch to nothing", (st, causes(b)), (422, [("spec.displayName", "FieldValueRequired")]))
        st, cur, _ = s.request("GET", ORGS + "/warned")
        cur["spec"]["displayName"] = "y" * 256
        st, b, _ = s.request("PUT", ORGS + "/warned", cur)
        p.want("update too long", (st, causes(b)), (422, [("spec.displayName", "FieldValueTooLong")]))
        st, b, _ = s.request("GET", ORGS + "/warned")
        p.want("nothing changed", b.get("spec", {}).get("displayName"), "W")

        # A bound kind: its APIResourceSchema's schema validates, prunes and defaults.
        st, _, _ = s.request("POST", ORGS, account("acme", type="org", displayName="Acme"))
        assert st == 201
        schema = {"type": "object", "properties": {"spec": {"type": "object", "required": ["colour"], "properties": {
            "colour": {"type": "string", "enum": ["red", "blue"]},
            "size": {"type": "integer", "default": 3, "minimum": 1},
            "code": {"type": "string", "pattern": "^(a+)+$"}}}}}
        ars = widget_schema({"schema": {"openAPIV3Schema": schema}})
        p.want("schema, export, binding", publish_and_bind(s, "root:orgs:acme", ars), [201, 201, 201])
        widgets = "/clusters/root:orgs:acme/apis/acme.io/v1/namespaces/default/widgets"
        w = {"apiVersion": "acme.io/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": {"colour": "green", "size": 0}}
        st, b, _ = s.request("POST", widgets, w)
        p.want("bound: invalid", (st, causes(b)), (422, [("spec.colour", "FieldValueNotSupported"), ("spec.size", "FieldValueInvalid")]))
        p.want("bound: enum message", 'spec.colour: Unsupported value: "green": supported values: "red", "blue"' in b.get("message", ""), True)
        w["spec"] = {"colour": "red", "extra": 1}
        st, b, hdrs = s.request("POST", widgets, w)
        p.want("bound: defaulted and pruned", (st, b.get("spec")), (201, {"colour": "red", "size": 3}))
        # Exponential for a backtracking matcher; RE2 answers at once.
        w["metadata"]["name"] = "slow"
        w["spec"] = {"colour": "blue", "code": "a" * 50000 + "!"}
        st, b, _ = s.request("POST", widgets, w, timeout=20)
        p.want("hostile pattern", (st, causes(b)), (422, [("spec.code", "FieldValueInvalid")]))

        # Every version an APIResourceSchema serves is served: stored in the
        # storage version, shown in the one the request names, each version
        # validated by its own schema; a version not served is not found.
        st, _, _ = s.request("POST", ORGS, account("globex", type="org", displayName="Globex"))
        assert st == 201
        keep = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
        gadgets = {"apiVersion": "apis.kcp.io/v1alpha1", "kind": "APIResourceSchema", "metadata": {"name": "v1.gadgets.globex.io"},
                   "spec": {"group": "globex.io", "scope": "Namespaced", "names": {"kind": "Gadget", "plural": "gadgets"},
                            "versions": [
                                {"name": "v1", "served": True, "storage": True, "schema": {"openAPIV3Schema": keep}},
                                {"name": "v2", "served": True, "storage": False, "schema": {"openAPIV3Schema": {
                                    "type": "object", "properties": {"spec": {"type": "object", "required": ["size"],
                                                                              "properties": {"size": {"type": "integer"},
                                                                                             "contact": {"type": "string", "format": "email"},
                                                                                             "subnet": {"type": "string", "format": "cidr"}}}}}}},
                                {"name": "v3", "served": False, "storage": False, "schema": {"openAPIV3Schema": keep}}]}}
        p.want("versions: published and bound", publish_and_bind(s, "root:orgs:globex", gadgets), [201, 201, 201])
        base = "/clusters/root:orgs:globex/apis/globex.io/"
        st, g, _ = s.request("GET", base)
        p.want("versions: discovery", sorted(v["version"] for v in g.get("versions", [])), ["v1", "v2"])
        p.want("versions: not served", s.request("GET", base + "v3/namespaces/default/gadgets")[0], 404)
        st, b, _ = s.request("POST", base + "v2/namespaces/default/gadgets",
                             {"apiVersion": "globex.io/v2", "kind": "Gadget", "metadata": {"name": "g"}, "spec": {}})
        p.want("versions: v2's schema", (st, causes(b)), (422, [("spec.size", "FieldValueRequired")]))
        st, b, _ = s.request("POST", base + "v2/namespaces/default/gadgets",
                             {"apiVersion": "globex.io/v2", "kind": "Gadget", "metadata": {"name": "f"},
                              "spec": {"size": 1, "contact": "nobody", "subnet": "10.0.0.0/33"}})
        p.want("formats", (st, causes(b)), (422, [("spec.contact", "FieldValueTypeInvalid"), ("spec.subnet", "FieldValueTypeInvalid")]))
        p.want("format message", 'spec.contact in body must be of type email: "nobody"' in b.get("message", ""), True)
        st, b, _ = s.request("POST", base + "v2/namespaces/default/gadgets",
                             {"apiVersion": "globex.io/v2", "kind": "Gadget", "metadata": {"name": "g"}, "spec": {"size": 2, "note": "x"}})
        p.want("versions: created through v2", (st, b.get("apiVersion"), b.get("spec")), (201, "globex.io/v2", {"size": 2}))
        st, b, _ = s.request("GET", base + "v1/namespaces/default/gadgets/g")
        p.want("versions: read through v1", (st, b.get("apiVersion"), b.get("spec")), (200, "globex.io/v1", {"size": 2}))
        st, b, _ = s.request("PATCH", base + "v2/namespaces/default/gadgets/g", {"spec": {"size": 5}},
                             content_type="application/merge-patch+json")
        p.want("versions: patched through v2", (st, b.get("apiVersion"), b.get("spec")), (200, "globex.io/v2", {"size": 5}))
        st, b, _ = s.request("GET", base + "v2/gadgets")
        p.want("versions: listed through v2", (st, b.get("apiVersion"), [i["apiVersion"] for i in b.get("items", [])]),
               (200, "globex.io/v2", ["globex.io/v2"]))
        st, b, _ = s.request("GET", base + "v1/namespaces/default/gadgets")
        p.want("versions: listed through v1", [i["apiVersion"] for i in b.get("items", [])], ["globex.io/v1"])
        w = s.watch(base + "v2/namespaces/default/gadgets?watch=true&timeoutSeconds=5")
        first = w.next()
        w.close()
        p.want("versions: watched through v2", (first or {}).get("object", {}).get("apiVersion"), "globex.io/v2")
        st, b, _ = s.request("PUT", base + "v1/namespaces/default/gadgets/g",
                             {"apiVersion": "globex.io/v1", "kind": "Gadget", "metadata": {"name": "g", "resourceVersion": b["items"][0]["metadata"]["resourceVersion"]},
                              "spec": {"note": "v1 requires nothing"}})
        p.want("versions: v1's schema", (st, b.get("spec")), (200, {"note": "v1 requires nothing"}))

        # CEL rules pmesh cannot evaluate: the schema is refused, not half enforced.
        cel = dict(schema)
        cel["properties"] = {"spec": dict(schema["properties"]["spec"], **{"x-kubernetes-validations": [{"rule": "self.size > 1"}]})}
        ars["metadata"]["name"] = "v2.widgets.acme.io"
        ars["spec"]["versions"][0]["schema"]["openAPIV3Schema"] = cel
        st, b, _ = s.request("POST", "/clusters/root:orgs:acme/apis/apis.kcp.io/v1alpha1/apiresourceschemas", ars)
        p.want("cel refused", (st, causes(b)), (422, [("spec.versions[0].schema.openAPIV3Schema", "FieldValueForbidden")]))
        p.want("cel message", "pmesh does not evaluate x-kubernetes-validations (CEL) at spec" in b.get("message", ""), True)
    rules = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "rules")
    with Server(sys.argv[1], plain=True, policies=rules) as s:
        orders = "/clusters/root/apis/test.pmesh.io/v1/orders"
        order = {"apiVersion": "test.pmesh.io/v1", "kind": "Order", "metadata": {"name": "o"}, "spec": {"size": 2, "colour": "green"}}
        st, b, _ = s.request("POST", orders, order)
        p.want("derived invalid", (st, b.get("reason")), (422, "Invalid"))
        p.want("derived invalid message", b.get("message"),
               'Gadget root/o as rule gadget-for-order derives it is invalid: spec.colour: Unsupported value: "green": '
               'supported values: "red", "blue"')
        p.want("nothing stored", s.request("GET", orders + "/o")[0], 404)
        order["spec"]["colour"] = "red"
        p.want("a valid order", s.request("POST", orders, order)[0], 201)
    p.report("schema e2e: ok")


if __name__ == "__main__":
    main()
