#!/usr/bin/python3
"""Bad input, table-driven: every case in bad_input_cases.yaml is a request
`pmesh serve` must refuse with kube-apiserver's (or kcp's, or OpenFGA's)
status code and reason, and after which the store is exactly as before —
every object of every kind in every workspace, every tuple of every store,
the resource version. At the end `pmesh verify` must pass on the data.

Usage: bad_input.py PMESH CASES.yaml
"""
import base64
import json
import os
import sys

import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pmesh_server import Server, fail  # noqa: E402

# A schema that keeps whatever a Widget holds (kcp requires one per version).
PRESERVE = {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}

ORGS = "/clusters/root:orgs/apis/core.platform-mesh.io/v1alpha1/accounts"


def ok(result, what, *codes):
    status, body, _ = result
    if status not in (codes or (200, 201)):
        raise SystemExit("FAIL: setup: %s: %d %r" % (what, status, body))
    return body


ACME_CLUSTER = None


def setup(s):
    """What the cases refer to: two organizations (acme of alice, globex of
    bob), an account, an export, ConfigMaps, Secrets, a terminating
    namespace, a plain workspace."""
    account = lambda name, t: {"apiVersion": "core.platform-mesh.io/v1alpha1", "kind": "Account",
                               "metadata": {"name": name}, "spec": {"type": t, "displayName": name}}
    ok(s.request("POST", ORGS, account("acme", "org"), user="alice"), "acme")
    ok(s.request("POST", ORGS, account("globex", "org"), user="bob"), "globex")
    ok(s.request("POST", "/clusters/root:orgs:acme/apis/core.platform-mesh.io/v1alpha1/accounts",
                 account("team-a", "account"), user="alice"), "team-a")
    schema = {"apiVersion": "apis.kcp.io/v1alpha1", "kind": "APIResourceSchema", "metadata": {"name": "v1.widgets.acme.io"},
              "spec": {"group": "acme.io", "scope": "Namespaced", "names": {"kind": "Widget", "plural": "widgets"},
                       "versions": [{"name": "v1", "served": True, "storage": True, "schema": PRESERVE}]}}
    ok(s.request("POST", "/clusters/root:orgs:acme/apis/apis.kcp.io/v1alpha1/apiresourceschemas", schema, user="alice"), "schema")
    export = {"apiVersion": "apis.kcp.io/v1alpha1", "kind": "APIExport", "metadata": {"name": "widgets"},
              "spec": {"latestResourceSchemas": ["v1.widgets.acme.io"]}}
    ok(s.request("POST", "/clusters/root:orgs:acme/apis/apis.kcp.io/v1alpha1/apiexports", export, user="alice"), "export")
    cms = "/clusters/root/api/v1/namespaces/default/configmaps"
    ok(s.request("POST", cms, {"metadata": {"name": "cm"}, "data": {"k": "v"}}), "cm")
    ok(s.request("POST", cms, {"metadata": {"name": "imm"}, "data": {"k": "v"}, "immutable": True}), "imm")
    secrets = "/clusters/root/api/v1/namespaces/default/secrets"
    ok(s.request("POST", secrets, {"metadata": {"name": "sec"}, "type": "Opaque", "data": {"k": "dg=="}}), "secret")
    ok(s.request("POST", "/clusters/root/api/v1/namespaces",
                 {"metadata": {"name": "hold", "finalizers": ["example.com/hold"]}}), "namespace hold")
    ok(s.request("DELETE", "/clusters/root/api/v1/namespaces/hold"), "namespace hold terminating")
    ok(s.request("POST", "/clusters/root/apis/tenancy.kcp.io/v1alpha1/workspaces",
                 {"metadata": {"name": "ws"}, "spec": {}}), "workspace")
    ok(s.request("POST", "/clusters/root:orgs:globex/apis/tenancy.kcp.io/v1alpha1/workspaces",
                 {"metadata": {"name": "plain"}}, user="bob"), "bob's workspace")
    # Cases name acme's logical cluster id as ACME_CLUSTER.
    global ACME_CLUSTER
    ACME_CLUSTER = s.request("GET", "/clusters/root:orgs/apis/tenancy.kcp.io/v1alpha1/workspaces/acme")[1]["spec"]["cluster"]


def resources(s):
    """Every (group/version, plural) the root workspace and acme serve."""
    out = set()
    for cluster in ("root", "root:orgs:acme"):
        _, core, _ = s.request("GET", "/clusters/%s/api/v1" % cluster)
        out |= {("v1", r["name"]) for r in core["resources"] if "/" not in r["name"]}
        _, groups, _ = s.request("GET", "/clusters/%s/apis" % cluster)
        for g in groups["groups"]:
            gv = g["preferredVersion"]["groupVersion"]
            _, rl, _ = s.request("GET", "/clusters/%s/apis/%s" % (cluster, gv))
            out |= {(gv, r["name"]) for r in rl["resources"] if "/" not in r["name"]}
    return sorted(out)


def fingerprint(s, kinds):
    """The whole store, as the API shows it to an admin."""
    parts = []
    for gv, plural in kinds:
        base = "/clusters/*/api/v1/" if gv == "v1" else "/clusters/*/apis/%s/" % gv
        status, body, _ = s.request("GET", base + plural)
        if status != 200:
            raise SystemExit("FAIL: fingerprint: list %s %s: %d %r" % (gv, plural, status, body))
        parts.append((gv, plural, body["metadata"]["resourceVersion"],
                      sorted(json.dumps(i, sort_keys=True) for i in body["items"])))
    for store in ("acme", "globex"):
        _, tuples, _ = s.request("POST", "/stores/%s/read" % store, {})
        parts.append(("store", store, sorted(json.dumps(t, sort_keys=True) for t in tuples["tuples"])))
    return parts


def body_of(case):
    if "body_raw" in case:
        return case["body_raw"].encode()
    if "body_hex" in case:
        return bytes.fromhex(case["body_hex"].replace(" ", ""))
    if "body_b64" in case:
        return base64.b64decode(case["body_b64"])
    if "body_repeat" in case:
        r = case["body_repeat"]
        return (r.get("prefix", "") + r["text"] * r["times"] + r.get("suffix", "")).encode()
    if "body" in case:
        b = case["body"]
        return (b if isinstance(b, str) else json.dumps(b)).replace("ACME_CLUSTER", ACME_CLUSTER).encode()
    return None


def check(s, case):
    headers = {k: ("x" * 70000 if v == "BIGHEADER" else v) for k, v in case.get("headers", {}).items()}
    body = body_of(case)
    if body is not None and "Content-Type" not in headers:
        headers["Content-Type"] = case.get("content_type", "application/json")
    user = case.get("user", "admin")
    status, got, _ = s.request(case["method"], case["path"], body=body, user=None if user == "none" else user,
                               headers=headers)
    want = case["expect"]
    problems = []
    if status != want["code"]:
        problems.append("status %d, want %d" % (status, want["code"]))
    if "fga_code" in want:
        if not isinstance(got, dict) or got.get("code") != want["fga_code"]:
            problems.append("OpenFGA code %r, want %r" % (got.get("code") if isinstance(got, dict) else got, want["fga_code"]))
    else:
        if not isinstance(got, dict) or got.get("kind") != "Status" or got.get("code") != want["code"]:
            problems.append("not a Status with code %d" % want["code"])
        elif got.get("reason", "") != want.get("reason", ""):
            problems.append("reason %r, want %r" % (got.get("reason", ""), want.get("reason", "")))
        if "message" in want and (not isinstance(got, dict) or want["message"] not in got.get("message", "")):
            problems.append("message %r does not contain %r" % (got.get("message") if isinstance(got, dict) else got, want["message"]))
    return problems, got


def main():
    pmesh, cases_file = sys.argv[1], sys.argv[2]
    cases = yaml.safe_load(open(cases_file))
    names = [c["name"] for c in cases]
    dupes = {n for n in names if names.count(n) > 1}
    if dupes:
        raise SystemExit("FAIL: duplicate case names: %s" % sorted(dupes))
    with Server(pmesh) as s:
        setup(s)
        kinds = resources(s)
        before = fingerprint(s, kinds)
        failures = []
        for case in cases:
            problems, got = check(s, case)
            after = fingerprint(s, kinds)
            if after != before:
                problems.append("the store changed")
                before = after
            if problems:
                failures.append("%s: %s\n    got: %s" % (case["name"], "; ".join(problems),
                                                        json.dumps(got)[:400] if isinstance(got, dict) else repr(got)[:200]))
        if failures:
            fail("%d of %d bad-input cases:\n  %s" % (len(failures), len(cases), "\n  ".join(failures)), s)
        s.stop()
        v = s.verify()
        if v.returncode != 0:
            fail("pmesh verify after the bad input:\n" + v.stdout + v.stderr)
        print("bad input: %d cases, each refused as kube-apiserver refuses it, the store unchanged; %s" %
              (len(cases), v.stdout.strip()))


if __name__ == "__main__":
    main()
