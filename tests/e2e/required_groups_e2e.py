#!/usr/bin/python3
"""kcp's required groups: a workspace whose LogicalCluster carries
`authorization.kcp.io/required-groups` is closed to users outside them.

alice (group "developers") owns the organization acme. An administrator
annotates acme's Workspace: with groups she is not in, she is refused in
her own workspace (403, kcp's reason), a stranger still learns nothing
(404), a ServiceAccount of the workspace and an administrator get in; with
her group she is back; `,` joins groups she must all be in, `;` separates
alternatives (as kcp's code reads them). A child account's workspace has
its parent's groups. She cannot lift them herself.

Usage: required_groups_e2e.py PMESH
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pmesh_server import Server, create_org, expect_status, wait_until  # noqa: E402

problems = []
RG = "authorization.kcp.io/required-groups"
WS = "/clusters/root:orgs/apis/tenancy.kcp.io/v1alpha1/workspaces/acme"
CMS = "/clusters/root:orgs:acme/api/v1/namespaces/default/configmaps"


def expect(what, result, code):
    return expect_status(problems, what, result, code)


def wait_for(what, check, seconds=10):
    return wait_until(problems, what, check, seconds)


def require(s, groups):
    expect("the administrator sets %r" % groups, s.request("PATCH", WS, {"metadata": {"annotations": {RG: groups}}},
                                                           content_type="application/merge-patch+json"), 200)
    wait_for("acme's cluster to require %r" % groups, lambda: s.request(
        "GET", "/clusters/root:orgs:acme/apis/core.kcp.io/v1alpha1/logicalclusters/cluster")[1]
        .get("metadata", {}).get("annotations", {}).get(RG) == groups)


def main():
    with Server(sys.argv[1]) as s:
        create_org(s, problems, "acme", "alice")
        wait_for("acme Ready", lambda: s.request("GET", WS)[1].get("status", {}).get("phase") == "Ready")
        expect("alice in her workspace", s.request("GET", CMS, user="alice"), 200)
        expect("a ServiceAccount there", s.request("POST", "/clusters/root:orgs:acme/api/v1/namespaces/default/serviceaccounts", {
            "apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "bot"}}, user="alice"), 201)
        rbac = "/clusters/root:orgs:acme/apis/rbac.authorization.k8s.io/v1/"
        expect("a role to read configmaps", s.request("POST", rbac + "clusterroles", {
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "cm-reader"},
            "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list"]}]}, user="alice"), 201)
        expect("the bot reads configmaps", s.request("POST", rbac + "clusterrolebindings", {
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": {"name": "bot-reads"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cm-reader"},
            "subjects": [{"kind": "ServiceAccount", "name": "bot", "namespace": "default"}]}, user="alice"), 201)
        token = expect("its token", s.request("POST", "/clusters/root:orgs:acme/api/v1/namespaces/default/serviceaccounts/bot/token", {
            "apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {}}, user="alice"), 201).get("status", {}).get("token")

        require(s, "insiders")
        got = expect("alice outside the required groups", s.request("GET", CMS, user="alice"), 403)
        if "user is not a member of required groups: insiders" not in got.get("message", ""):
            problems.append("the refusal says: %s" % got.get("message"))
        expect("a stranger learns nothing more", s.request("GET", CMS, user="carol"), 404)
        expect("the administrator", s.request("GET", CMS), 200)
        if token:
            s.tokens["bot"] = token
            expect("the workspace's ServiceAccount", s.request("GET", CMS, user="bot"), 200)
        # She cannot lift them: her write to her organization's Workspace is refused.
        st = s.request("PATCH", WS, {"metadata": {"annotations": {RG: "developers"}}}, user="alice",
                       content_type="application/merge-patch+json")[0]
        if st not in (403, 404):
            problems.append("alice lifting the required groups: %d" % st)

        require(s, "developers")
        expect("alice in her group", s.request("GET", CMS, user="alice"), 200)
        require(s, "developers,insiders")
        expect("alice must be in both", s.request("GET", CMS, user="alice"), 403)
        require(s, "insiders;developers")
        expect("either alternative", s.request("GET", CMS, user="alice"), 200)

        # A child account's workspace has its parent's.
        require(s, "insiders")
        expect("the administrator makes a child account", s.request(
            "POST", "/clusters/root:orgs:acme/apis/core.platform-mesh.io/v1alpha1/accounts", {
                "apiVersion": "core.platform-mesh.io/v1alpha1", "kind": "Account", "metadata": {"name": "team"},
                "spec": {"type": "account", "displayName": "Team", "creator": "alice"}}), 201)
        wait_for("team's cluster to require insiders", lambda: s.request(
            "GET", "/clusters/root:orgs:acme:team/apis/core.kcp.io/v1alpha1/logicalclusters/cluster")[1]
            .get("metadata", {}).get("annotations", {}).get(RG) == "insiders")
        expect("alice in the child workspace", s.request(
            "GET", "/clusters/root:orgs:acme:team/api/v1/namespaces/default/configmaps", user="alice"), 403)

    if problems:
        raise SystemExit("FAIL:\n  " + "\n  ".join(problems))
    print("required groups e2e: ok")


if __name__ == "__main__":
    main()
