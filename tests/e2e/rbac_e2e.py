#!/usr/bin/python3
"""Kubernetes RBAC in pmesh's workspaces, with kubectl and from a hostile
tenant's side: Roles and bindings grant in their namespace or workspace and
nowhere else, beside the authorization model; nobody grants what they do
not hold (kube's escalation check); aggregation; impersonation that RBAC
allows stays in its workspace and never makes an administrator; a
ServiceAccount with RBAC rights only; kube's validation.

Usage: rbac_e2e.py PMESH KUBECTL...
"""
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(__file__))
from pmesh_server import Server  # noqa: E402

problems = []
ACC = "apis/core.platform-mesh.io/v1alpha1/accounts"
RBAC = "/apis/rbac.authorization.k8s.io/v1"


def expect(what, got, status, text=None):
    code, body, _ = got
    if code != status or (text and text not in json.dumps(body)):
        problems.append("%s: want %d%s, got %d %s" % (what, status, " with " + repr(text) if text else "", code,
                                                       json.dumps(body)[:400] if isinstance(body, dict) else body[:200]))
    return body if isinstance(body, dict) else {}


with Server(sys.argv[1]) as s:
    kubectls = sys.argv[2:]
    req = s.request
    for org, owner in (("acme", "alice"), ("globex", "carol")):
        expect(owner + " creates " + org, req("POST", "/clusters/root:orgs/" + ACC, {"apiVersion": "core.platform-mesh.io/v1alpha1", "kind": "Account",
                                                                                  "metadata": {"name": org}, "spec": {"type": "org", "displayName": "An organization"}}, user=owner), 201)
    ACME = "/clusters/root:orgs:acme"
    expect("alice creates team-a", req("POST", ACME + "/" + ACC, {"apiVersion": "core.platform-mesh.io/v1alpha1", "kind": "Account",
                                                                 "metadata": {"name": "team-a"}, "spec": {"type": "account", "displayName": "An account"}}, user="alice"), 201)
    expect("alice creates namespace other", req("POST", ACME + "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "other"}}, user="alice"), 201)
    cms = ACME + "/api/v1/namespaces/default/configmaps"
    expect("alice creates a configmap", req("POST", cms, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c1"}}, user="alice"), 201)

    work = tempfile.mkdtemp()

    def kubectl(k, user, *args, cluster=ACME):
        kc = os.path.join(work, "%s.kubeconfig" % user)
        with open(kc, "w") as f:
            json.dump({"apiVersion": "v1", "kind": "Config", "current-context": "c",
                       "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:%d%s" % (s.port, cluster),
                                                              "certificate-authority": os.path.join(s.data, "serving.pem")}}],
                       "users": [{"name": "u", "user": {"token": s.tokens[user]}}],
                       "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}]}, f)
        return subprocess.run([k, "--kubeconfig", kc, *args], capture_output=True, text=True, timeout=60)

    # kubectl (each version: JSON or protobuf) makes a Role and a binding for dave, a stranger to acme.
    for i, k in enumerate(kubectls):
        for args in (["create", "role", "cm-reader-%d" % i, "--verb=get,list", "--resource=configmaps"],
                     ["create", "rolebinding", "dave-reads-%d" % i, "--role=cm-reader-%d" % i, "--user=dave"]):
            r = kubectl(k, "alice", *args)
            if r.returncode != 0:
                problems.append("%s %s: %s" % (k, " ".join(args), r.stderr))
    k = kubectls[-1]
    expect("dave lists acme's configmaps", req("GET", cms, user="dave"), 200)
    expect("dave gets one", req("GET", cms + "/c1", user="dave"), 200)
    expect("dave deletes one", req("DELETE", cms + "/c1", user="dave"), 403, "cannot delete resource")
    expect("dave in another namespace (acme exists for him now)", req("GET", ACME + "/api/v1/namespaces/other/configmaps", user="dave"), 403)
    expect("dave across namespaces", req("GET", ACME + "/api/v1/configmaps", user="dave"), 403)
    expect("dave in team-a (a binding grants in its workspace only)", req("GET", "/clusters/root:orgs:acme:team-a/api/v1/namespaces/default/configmaps", user="dave"), 404)
    expect("dave in globex", req("GET", "/clusters/root:orgs:globex/api/v1/namespaces/default/configmaps", user="dave"), 404)
    r = kubectl(k, "dave", "auth", "can-i", "list", "configmaps")
    if r.stdout.strip() != "yes":
        problems.append("dave's can-i list configmaps: %s %s" % (r.stdout, r.stderr))
    r = kubectl(k, "dave", "auth", "can-i", "delete", "configmaps")
    if not r.stdout.startswith("no"):
        problems.append("dave's can-i delete configmaps: %s" % r.stdout)
    for kk in (kubectls[0], k):
        r = kubectl(kk, "dave", "auth", "can-i", "--list")
        rows = [l.split() for l in r.stdout.splitlines()]
        if r.returncode != 0 or ["configmaps", "[]", "[]", "[get", "list]"] not in rows or "may be incomplete" not in r.stderr:
            problems.append("%s auth can-i --list as dave: %s %s" % (kk, r.stdout, r.stderr))

    # Escalation: dave may write Roles and bindings in default, and grant only what he holds.
    expect("alice: rbac-editor", req("POST", ACME + RBAC + "/namespaces/default/roles", {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": "rbac-editor"},
        "rules": [{"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["roles", "rolebindings"], "verbs": ["create", "get", "list", "update", "delete"]}]}, user="alice"), 201)
    expect("alice binds dave to it", req("POST", ACME + RBAC + "/namespaces/default/rolebindings", {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": {"name": "dave-edits"},
        "roleRef": {"kind": "Role", "name": "rbac-editor"}, "subjects": [{"kind": "User", "name": "dave"}]}, user="alice"), 201)
    r = kubectl(k, "dave", "create", "role", "deleter", "--verb=delete", "--resource=configmaps")
    if r.returncode == 0 or 'is attempting to grant RBAC permissions not currently held:\n{APIGroups:[""], Resources:["configmaps"], Verbs:["delete"]}' not in r.stderr:
        problems.append("dave made a role granting delete: %s" % r.stderr)
    expect("dave: a role of everything", req("POST", ACME + RBAC + "/namespaces/default/roles", {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": "all"},
        "rules": [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}]}, user="dave"), 403, "not currently held")
    # A PUT of a Role that does not exist creates it (kube's AllowCreateOnUpdate), checked the same way.
    expect("dave: a role of everything, by PUT", req("PUT", ACME + RBAC + "/namespaces/default/roles/all", {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": "all"},
        "rules": [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}]}, user="dave"), 403, "not currently held")
    expect("dave: a role of what he holds, by PUT", req("PUT", ACME + RBAC + "/namespaces/default/roles/getter", {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": "getter"},
        "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"]}]}, user="dave"), 201)
    r = kubectl(k, "dave", "create", "role", "reader2", "--verb=get", "--resource=configmaps")
    if r.returncode != 0:
        problems.append("dave could not make a role of what he holds: %s" % r.stderr)
    # Binding: only roles whose rules he holds.
    expect("dave binds bob to the reader", req("POST", ACME + RBAC + "/namespaces/default/rolebindings", {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
        "metadata": {"name": "bob-reads"}, "roleRef": {"kind": "Role", "name": "reader2"}, "subjects": [{"kind": "User", "name": "bob"}]}, user="dave"), 201)
    expect("a binding to a role that does not exist", req("POST", ACME + RBAC + "/namespaces/default/rolebindings", {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
        "metadata": {"name": "ghost"}, "roleRef": {"kind": "ClusterRole", "name": "cluster-admin"}, "subjects": [{"kind": "User", "name": "dave"}]}, user="dave"), 404)
    expect("dave: a ClusterRoleBinding", req("POST", ACME + RBAC + "/clusterrolebindings", {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
        "metadata": {"name": "x"}, "roleRef": {"kind": "ClusterRole", "name": "x"}, "subjects": [{"kind": "User", "name": "dave"}]}, user="dave"), 403)
    # An owner holds everything in the workspace (kcp's workspace admin): wildcards and aggregation.
    expect("alice: a role of everything", req("POST", ACME + RBAC + "/namespaces/default/roles", {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": "all"},
        "rules": [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}]}, user="alice"), 201)
    expect("alice: an aggregated ClusterRole", req("POST", ACME + RBAC + "/clusterroles", {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
        "metadata": {"name": "system:acme:view"}, "aggregationRule": {"clusterRoleSelectors": [{"matchLabels": {"acme.io/view": "true"}}]}}, user="alice"), 201)
    expect("dave: an aggregated ClusterRole", req("POST", ACME + RBAC + "/clusterroles", {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
        "metadata": {"name": "sneaky"}, "aggregationRule": {"clusterRoleSelectors": [{}]}}, user="dave"), 403)
    expect("alice: a part of it", req("POST", ACME + RBAC + "/clusterroles", {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
        "metadata": {"name": "secret-reader", "labels": {"acme.io/view": "true"}}, "rules": [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "list"]}]}, user="alice"), 201)
    expect("alice binds dave to the aggregate", req("POST", ACME + RBAC + "/namespaces/default/rolebindings", {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
        "metadata": {"name": "dave-views"}, "roleRef": {"kind": "ClusterRole", "name": "system:acme:view"}, "subjects": [{"kind": "User", "name": "dave"}]}, user="alice"), 201)
    expect("dave lists secrets through the aggregate", req("GET", ACME + "/api/v1/namespaces/default/secrets", user="dave"), 200)
    expect("the part loses its label", req("PATCH", ACME + RBAC + "/clusterroles/secret-reader", json.dumps({"metadata": {"labels": {"acme.io/view": "false"}}}),
                                           content_type="application/merge-patch+json", user="alice"), 200)
    expect("dave's secrets after", req("GET", ACME + "/api/v1/namespaces/default/secrets", user="dave"), 403)

    # Impersonation: what RBAC allows, in its workspace only, never an administrator.
    expect("alice: impersonator", req("POST", ACME + RBAC + "/clusterroles", {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "impersonator"},
        "rules": [{"apiGroups": [""], "resources": ["users", "groups"], "verbs": ["impersonate"]}]}, user="alice"), 201)
    expect("alice binds dave to it", req("POST", ACME + RBAC + "/clusterrolebindings", {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": {"name": "dave-impersonates"},
        "roleRef": {"kind": "ClusterRole", "name": "impersonator"}, "subjects": [{"kind": "User", "name": "dave"}]}, user="alice"), 201)
    expect("dave as bob in acme", req("GET", cms + "/c1", user="dave", headers={"Impersonate-User": "bob"}), 200)
    expect("dave as bob, who may not list", req("GET", cms, user="dave", headers={"Impersonate-User": "bob"}), 403)
    expect("dave as carol in globex (her own organization)", req("GET", "/clusters/root:orgs:globex/api/v1/namespaces/default/configmaps", user="dave", headers={"Impersonate-User": "carol"}), 403,
           "cannot impersonate")
    expect("dave as carol, from acme, into globex", req("GET", "/clusters/root:orgs:globex/" + ACC, user="dave", headers={"Impersonate-User": "carol"}), 403)
    expect("dave as system:masters", req("GET", cms, user="dave", headers={"Impersonate-User": "admin", "Impersonate-Group": "system:masters"}), 403, "cannot impersonate")
    expect("dave as system:kcp:admin", req("GET", cms, user="dave", headers={"Impersonate-User": "kcp-admin", "Impersonate-Group": "system:kcp:admin"}), 403, "cannot impersonate")
    r = kubectl(k, "alice", "auth", "can-i", "get", "configmaps", "--as", "bob")
    if r.stdout.strip() != "yes":
        problems.append("alice's can-i --as bob: %s %s" % (r.stdout, r.stderr))

    # A ServiceAccount with RBAC rights only.
    expect("alice creates bot", req("POST", ACME + "/api/v1/namespaces/default/serviceaccounts", {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "bot"}}, user="alice"), 201)
    r = kubectl(k, "alice", "create", "rolebinding", "bot-reads", "--role=cm-reader-0", "--serviceaccount=default:bot")
    if r.returncode != 0:
        problems.append("rolebinding for bot: %s" % r.stderr)
    token = expect("alice mints bot's token", req("POST", ACME + "/api/v1/namespaces/default/serviceaccounts/bot/token", {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {}}, user="alice"), 201)["status"]["token"]
    bot = {"Authorization": "Bearer " + token}
    expect("bot lists configmaps", req("GET", cms, user=None, headers=bot), 200)
    expect("bot deletes one", req("DELETE", cms + "/c1", user=None, headers=bot), 403)
    expect("bot in globex", req("GET", "/clusters/root:orgs:globex/api/v1/namespaces/default/configmaps", user=None, headers=bot), 404)
    r = kubectl(k, "alice", "auth", "can-i", "list", "configmaps", "--as", "system:serviceaccount:default:bot")
    if r.stdout.strip() != "yes":
        problems.append("alice's can-i --as bot: %s %s" % (r.stdout, r.stderr))
    # globex's bot of the same name is nobody to acme's bindings.
    expect("carol creates globex's bot", req("POST", "/clusters/root:orgs:globex/api/v1/namespaces/default/serviceaccounts", {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "bot"}}, user="carol"), 201)
    gtoken = expect("carol mints it", req("POST", "/clusters/root:orgs:globex/api/v1/namespaces/default/serviceaccounts/bot/token", {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {}}, user="carol"), 201)["status"]["token"]
    expect("globex's bot in acme", req("GET", cms, user=None, headers={"Authorization": "Bearer " + gtoken}), 404)

    # kube's validation.
    expect("a binding to a Foo", req("POST", ACME + RBAC + "/namespaces/default/rolebindings", {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": {"name": "foo"},
        "roleRef": {"kind": "Foo", "name": "x"}, "subjects": [{"kind": "User", "name": "x"}]}, user="alice"), 422, 'roleRef.kind: Unsupported value: \\"Foo\\"')
    expect("a rule without verbs", req("POST", ACME + RBAC + "/namespaces/default/roles", {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": "noverbs"},
        "rules": [{"apiGroups": [""], "resources": ["pods"]}]}, user="alice"), 422, "verbs must contain at least one value")
    cur = expect("get dave-reads-0", req("GET", ACME + RBAC + "/namespaces/default/rolebindings/dave-reads-0", user="alice"), 200)
    cur["roleRef"]["name"] = "all"
    expect("changing a roleRef", req("PUT", ACME + RBAC + "/namespaces/default/rolebindings/dave-reads-0", cur, user="alice"), 422, "cannot change roleRef")
    expect("a subject ServiceAccount of a ClusterRoleBinding without a namespace", req("POST", ACME + RBAC + "/clusterrolebindings", {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
        "metadata": {"name": "nons"}, "roleRef": {"kind": "ClusterRole", "name": "impersonator"}, "subjects": [{"kind": "ServiceAccount", "name": "bot"}]}, user="alice"), 422, "subjects[0].namespace: Required value")
    many = ["v%d" % i for i in range(101)]
    expect("a role that expands to more than 10,000 rights", req("POST", ACME + RBAC + "/namespaces/default/roles", {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
        "metadata": {"name": "huge"}, "rules": [{"apiGroups": [""], "resources": many, "verbs": many}]}, user="alice"), 422, "must expand to at most 10000 rights")
    # A binding of many subjects costs its subjects, not subjects × rights.
    expect("a binding of 2,000 subjects", req("POST", ACME + RBAC + "/namespaces/default/rolebindings", {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
        "metadata": {"name": "crowd"}, "roleRef": {"kind": "Role", "name": "all"}, "subjects": [{"kind": "User", "name": "u%d" % i} for i in range(2000)]}, user="alice"), 201)
    expect("u1999 of the crowd (alice acting as them)", req("GET", cms, user="alice", headers={"Impersonate-User": "u1999"}), 200)
    expect("u2000, not in it (acme does not exist for them)", req("GET", cms, user="alice", headers={"Impersonate-User": "u2000"}), 404)
    expect("a role name with a slash", req("POST", ACME + RBAC + "/clusterroles", {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "a%b"}}, user="alice"), 422, "may not contain '%'")

    # What was granted survives a restart.
    s.stop()
    s.start()
    expect("dave after a restart", req("GET", cms, user="dave"), 200)
    expect("bot after a restart", req("GET", cms, user=None, headers=bot), 200)
    s.stop()
    r = s.verify()
    if r.returncode != 0:
        problems.append("pmesh verify: " + r.stdout + r.stderr)

if problems:
    print("FAIL:\n  " + "\n  ".join(problems))
    sys.exit(1)
print("RBAC: grants per namespace and workspace, escalation refused, aggregation, scoped impersonation, a ServiceAccount; kubectl %d versions" % len(sys.argv[2:]))
