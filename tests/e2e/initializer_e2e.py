#!/usr/bin/python3
"""External initializers and terminators, as kcp's virtual workspaces serve
them.

alice's organization has a WorkspaceType `custom` (an account type with an
initializer, `root:orgs:acme:custom`); dave may `initialize` it (RBAC in
alice's workspace). alice makes a workspace of that type: it waits,
Initializing. dave's controller (python3-kubernetes' dynamic client) finds
it through `/services/initializingworkspaces/root:orgs:acme:custom/clusters/*`, sets
the workspace up through its content (acting as alice, who made it), and
finishes by removing its initializer from the LogicalCluster's status: the
workspace is Ready. Then what may not be: a stranger, removing another
entry, the content once it is done; a workspace made again at the same path
waits again. A terminator the same way through
`/services/terminatingworkspaces/root:orgs:acme:term`. Last, a type that
alice changes so that it no longer fits under her organization, then
deletes, leaves the workspace of that type scheduled with its data.

Usage: initializer_e2e.py PMESH
"""
import os
import sys

from kubernetes import dynamic

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pmesh_server import Server, expect_status, wait_until  # noqa: E402

problems = []
WS = "/clusters/root:orgs:acme/apis/tenancy.kcp.io/v1alpha1/workspaces"
INIT = "/services/initializingworkspaces/root:orgs:acme:custom"
TERM = "/services/terminatingworkspaces/root:orgs:acme:term"
LCS = "/apis/core.kcp.io/v1alpha1/logicalclusters"


def expect(what, result, code):
    return expect_status(problems, what, result, code)


def wait_for(what, check, seconds=10):
    return wait_until(problems, what, check, seconds)



def main():
    with Server(sys.argv[1]) as s:
        expect("alice's organization", s.request("POST", "/clusters/root:orgs/apis/core.platform-mesh.io/v1alpha1/accounts", {
            "apiVersion": "core.platform-mesh.io/v1alpha1", "kind": "Account", "metadata": {"name": "acme"},
            "spec": {"type": "org", "displayName": "Acme"}}, user="alice"), 201)
        wait_for("acme Ready", lambda: s.request("GET", "/clusters/root:orgs/apis/tenancy.kcp.io/v1alpha1/workspaces/acme")[1]
                 .get("status", {}).get("phase") == "Ready")
        rbac = "/clusters/root:orgs:acme/apis/rbac.authorization.k8s.io/v1/"
        for name, hook, verb in (("custom", "initializer", "initialize"), ("term", "terminator", "terminate")):
            # Account types, so that acme's type allows them as children.
            expect("type " + name, s.request("POST", "/clusters/root:orgs:acme/apis/tenancy.kcp.io/v1alpha1/workspacetypes", {
                "apiVersion": "tenancy.kcp.io/v1alpha1", "kind": "WorkspaceType", "metadata": {"name": name},
                "spec": {hook: True, "extend": {"with": [{"name": "acme-account", "path": "root:orgs"}]}}}, user="alice"), 201)
            expect("role " + name, s.request("POST", rbac + "clusterroles", {
                "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": name + "-" + hook},
                "rules": [{"apiGroups": ["tenancy.kcp.io"], "resources": ["workspacetypes"], "resourceNames": [name], "verbs": [verb]}]}, user="alice"), 201)
            expect("binding " + name, s.request("POST", rbac + "clusterrolebindings", {
                "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": {"name": name + "-" + hook},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": name + "-" + hook},
                "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "dave"}]}, user="alice"), 201)

        def make(name, type_name):
            expect("alice makes " + name, s.request("POST", WS, {
                "apiVersion": "tenancy.kcp.io/v1alpha1", "kind": "Workspace", "metadata": {"name": name},
                "spec": {"type": {"name": type_name, "path": "root:orgs:acme"}}}, user="alice"), 201)
            return wait_for(name + "'s cluster name", lambda: s.request("GET", WS + "/" + name, user="alice")[1].get("spec", {}).get("cluster"))

        team = make("team", "custom")
        phase = s.request("GET", WS + "/team", user="alice")[1].get("status", {}).get("phase")
        if phase != "Initializing":
            problems.append("team's phase: %s" % phase)

        # The initializer's controller, with the dynamic client.
        everywhere = dynamic.DynamicClient(s.kube_client("https://127.0.0.1:%d%s/clusters/*" % (s.port, INIT), "dave"))
        lcs = everywhere.resources.get(api_version="core.kcp.io/v1alpha1", kind="LogicalCluster")
        waiting = lcs.get().to_dict()["items"]
        if [(i["metadata"]["annotations"]["kcp.io/cluster"], i["metadata"]["annotations"]["kcp.io/path"]) for i in waiting] != \
                [(team, "root:orgs:acme:team")]:
            problems.append("the initializer sees %s" % waiting)
        cms = "%s/clusters/%s/api/v1/namespaces/default/configmaps" % (INIT, team)
        made = expect("dave sets team up, as alice", s.request("POST", cms, {
            "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "setup"}, "data": {"by": "initializer"}}, user="dave"), 201)
        if made.get("metadata", {}).get("annotations", {}).get("kcp.io/cluster") != team:
            problems.append("the set-up ConfigMap: %s" % made)
        one = "%s/clusters/%s%s/cluster" % (INIT, team, LCS)
        # carol may not see acme at all: its types are not there for her.
        expect("carol, no initializer", s.request("GET", INIT + "/clusters/*" + LCS, user="carol"), 404)
        expect("carol's content", s.request("POST", cms, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}}, user="carol"), 404)
        expect("removing more than its own entry", s.request("PATCH", one + "/status", {"status": {"initializers": ["root:orgs:acme:other"]}},
                                                             content_type="application/merge-patch+json", user="dave"), 422)
        expect("deleting the cluster", s.request("DELETE", one, user="dave"), 405)
        done = expect("dave finishes", s.request("PATCH", one + "/status", {"status": {"initializers": []}},
                                                  content_type="application/merge-patch+json", user="dave"), 200)
        if done.get("status", {}).get("initializers") != [] or done.get("status", {}).get("phase") != "Ready":
            problems.append("the finished LogicalCluster: %s" % done.get("status"))
        wait_for("team Ready", lambda: s.request("GET", WS + "/team", user="alice")[1].get("status", {}).get("phase") == "Ready")
        expect("alice sees the set-up", s.request("GET", "/clusters/root:orgs:acme:team/api/v1/namespaces/default/configmaps/setup", user="alice"), 200)
        expect("the content once done", s.request("GET", cms, user="dave"), 403)
        if lcs.get().to_dict()["items"]:
            problems.append("a Ready cluster still waits for the initializer")

        # Made again at the path: it waits again (what the initializer did went with the old one).
        expect("alice deletes team", s.request("DELETE", WS + "/team", user="alice"), 200)
        wait_for("team gone", lambda: s.request("GET", WS + "/team", user="alice")[0] == 404)
        again = make("team", "custom")
        if again == team:
            problems.append("team made again has the same cluster name")
        phase = s.request("GET", WS + "/team", user="alice")[1].get("status", {}).get("phase")
        if phase != "Initializing":
            problems.append("team made again: %s" % phase)

        # A terminator holds a deleted workspace until it is removed.
        gone = make("gone", "term")
        wait_for("gone Ready", lambda: s.request("GET", WS + "/gone", user="alice")[1].get("status", {}).get("phase") == "Ready")
        expect("the terminator, nothing to do yet", s.request("GET", TERM + "/clusters/*" + LCS, user="dave"), 200)
        expect("alice deletes gone", s.request("DELETE", WS + "/gone", user="alice"), 200)
        held = expect("the terminator sees it", s.request("GET", TERM + "/clusters/*" + LCS, user="dave"), 200)
        if [i["metadata"]["annotations"]["kcp.io/cluster"] for i in held.get("items", [])] != [gone]:
            problems.append("the terminator sees %s" % held.get("items"))
        expect("terminators have no content", s.request("GET", "%s/clusters/%s/api/v1/namespaces" % (TERM, gone), user="dave"), 403)
        expect("the terminator finishes", s.request("PATCH", "%s/clusters/%s%s/cluster/status" % (TERM, gone, LCS),
                                                     {"status": {"terminators": []}}, content_type="application/merge-patch+json", user="dave"), 200)
        wait_for("gone deleted", lambda: s.request("GET", WS + "/gone", user="alice")[0] == 404)

        # The scheduler decides once, as kcp's does: a type changed so that
        # it no longer fits where its workspaces are, or deleted, leaves them
        # scheduled with what is in them.
        TYPES = "/clusters/root:orgs:acme/apis/tenancy.kcp.io/v1alpha1/workspacetypes"
        expect("type plain", s.request("POST", TYPES, {
            "apiVersion": "tenancy.kcp.io/v1alpha1", "kind": "WorkspaceType", "metadata": {"name": "plain"},
            "spec": {"extend": {"with": [{"name": "acme-account", "path": "root:orgs"}]}}}, user="alice"), 201)
        kept = make("kept", "plain")
        wait_for("kept Ready", lambda: s.request("GET", WS + "/kept", user="alice")[1].get("status", {}).get("phase") == "Ready")
        data = "/clusters/root:orgs:acme:kept/api/v1/namespaces/default/configmaps"
        expect("alice's data in kept", s.request("POST", data, {
            "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "data"}, "data": {"k": "v"}}, user="alice"), 201)
        expect("plain no longer fits under acme", s.request("PATCH", TYPES + "/plain", {"spec": {"limitAllowedParents": {
            "types": [{"name": "universal", "path": "root"}]}}}, content_type="application/merge-patch+json", user="alice"), 200)
        expect("kept's data after the change", s.request("GET", data + "/data", user="alice"), 200)
        expect("plain deleted", s.request("DELETE", TYPES + "/plain", user="alice"), 200)
        expect("kept's data after the deletion", s.request("GET", data + "/data", user="alice"), 200)
        ws = s.request("GET", WS + "/kept", user="alice")[1]
        if ws.get("status", {}).get("phase") != "Ready" or ws.get("spec", {}).get("cluster") != kept:
            problems.append("kept after its type went: %s" % ws.get("status"))

    if problems:
        raise SystemExit("FAIL:\n  " + "\n  ".join(problems))
    print("initializer e2e: ok")


if __name__ == "__main__":
    main()
