#!/usr/bin/python3
"""The api-syncagent's path, driven with kubectl as a provider and a consumer.

alice (a provider) publishes Databases (a CRD with a status subresource, an
empty APIExport, a PublishedResource): the agent publishes the CRD as an
APIResourceSchema and lists it in the export; bob binds the export and
applies a Database. The copy appears in alice's workspace, in a namespace
named by bob's cluster, with the agent's labels and annotations. Then the
agent's three-way merge of the spec: alice's edit of a field of the copy
stays while bob changes another field, and goes when bob changes that one
(and does not come back when bob sets the value alice saw), and a field
alice removes stays out until bob changes it; the agent's own
labels are not alice's to change (409). A cluster-scoped resource's copy is
cluster-scoped; a PublishedResource the agent's schema refuses is 422; a
related Secret reaches bob only while bob's binding accepts the claim, and
those a label selector finds are numbered in bob's object's annotations.
alice's status comes back to bob's
object as it is; deleting bob's object deletes the copy first.

Usage: sync_e2e.py PMESH [KUBECTL]
"""
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pmesh_server import PRESERVE, Problems, Server, create_org, expect_status, wait_until  # noqa: E402

problems = Problems()
KUBECTL = "/usr/lib/google-cloud-sdk/bin/kubectl"


def kubeconfig(s, ws, user, path):
    with open(path, "w") as f:
        f.write("""apiVersion: v1
kind: Config
clusters: [{name: pmesh, cluster: {server: "https://127.0.0.1:%d/clusters/%s", certificate-authority: "%s"}}]
users: [{name: u, user: {token: "%s"}}]
contexts: [{name: c, context: {cluster: pmesh, user: u}}]
current-context: c
""" % (s.port, ws, os.path.join(s.data, "serving.pem"), s.tokens[user]))
    return path


def main():
    pmesh = sys.argv[1]
    kubectl = sys.argv[2] if len(sys.argv) > 2 else KUBECTL
    work = tempfile.mkdtemp(prefix="pmesh-sync-e2e-")
    with Server(pmesh) as s:
        prov = create_org(s, problems, "prov", "alice")
        cons = create_org(s, problems, "cons", "bob")
        as_alice = kubeconfig(s, prov, "alice", os.path.join(work, "alice"))
        as_bob = kubeconfig(s, cons, "bob", os.path.join(work, "bob"))

        def k(config, *args, stdin=None, ok=True):
            r = subprocess.run([kubectl, "--kubeconfig", config, *args], input=stdin, capture_output=True, text=True,
                               timeout=30)
            if ok and r.returncode != 0:
                problems.append("kubectl %s: %s" % (" ".join(args), r.stderr.strip()[:300]))
            return r

        def apply(config, obj):
            return k(config, "apply", "-f", "-", stdin=json.dumps(obj))

        # alice's service cluster is her workspace: her CRDs, and an empty
        # export that the agent fills in.
        apply(as_alice, {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
                         "metadata": {"name": "databases.db.example.io"},
                         "spec": {"group": "db.example.io", "scope": "Namespaced",
                                  "names": {"kind": "Database", "plural": "databases", "singular": "database"},
                                  "versions": [{"name": "v1", "served": True, "storage": True, "schema": PRESERVE,
                                                "subresources": {"status": {}}}]}})
        apply(as_alice, {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
                         "metadata": {"name": "dbclusters.db.example.io"},
                         "spec": {"group": "db.example.io", "scope": "Cluster",
                                  "names": {"kind": "DbCluster", "plural": "dbclusters", "singular": "dbcluster"},
                                  "versions": [{"name": "v1", "served": True, "storage": True, "schema": PRESERVE}]}})
        k(as_alice, "wait", "--for=condition=Established", "--timeout=10s", "crd/databases.db.example.io")
        # kube's check of a CRD's name.
        r = k(as_alice, "apply", "-f", "-", ok=False, stdin=json.dumps({
            "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition", "metadata": {"name": "tables.db.example.io"},
            "spec": {"group": "db.example.io", "scope": "Namespaced", "names": {"kind": "Table", "plural": "dbtables"},
                     "versions": [{"name": "v1", "served": True, "storage": True, "schema": PRESERVE}]}}))
        # A 422 Invalid with the field as its cause, which kubectl words as kube's.
        want = 'The CustomResourceDefinition "tables.db.example.io" is invalid: metadata.name: Invalid value: "tables.db.example.io": must be spec.names.plural+"."+spec.group'
        if r.returncode == 0 or want not in r.stderr:
            problems.append("a CRD named unlike its plural and group: want %r, got %r" % (want, r.stderr.strip()[:300] or r.stdout))
        # A CRD serves its kind where it is, not in bob's workspace.
        if k(as_bob, "get", "databases.db.example.io", ok=False).returncode == 0:
            problems.append("alice's CRD is served in bob's workspace")
        # A CRD that names a kind pmesh declares does not stand beside it.
        apply(as_alice, {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
                         "metadata": {"name": "workspaces.tenancy.kcp.io"},
                         "spec": {"group": "tenancy.kcp.io", "scope": "Cluster",
                                  "names": {"kind": "Workspace", "plural": "workspaces"},
                                  "versions": [{"name": "v1alpha1", "served": True, "storage": True, "schema": PRESERVE}]}})
        r = k(as_alice, "api-resources", "--api-group=tenancy.kcp.io", "-o", "name", ok=False)
        if r.stdout.split().count("workspaces.tenancy.kcp.io") != 1:
            problems.append("a tenant's CRD for workspaces: want kcp's workspaces once in discovery, got %r" % r.stdout)
        k(as_alice, "delete", "crd", "workspaces.tenancy.kcp.io")
        apply(as_alice, {"apiVersion": "apis.kcp.io/v1alpha2", "kind": "APIExport", "metadata": {"name": "databases"},
                         "spec": {}})
        apply(as_alice, {"apiVersion": "syncagent.kcp.io/v1alpha1", "kind": "PublishedResource",
                         "metadata": {"name": "databases"},
                         "spec": {"resource": {"kind": "Database", "apiGroup": "db.example.io", "version": "v1"}}})
        # A cluster-scoped resource needs a naming that does not hash the
        # namespace (the agent's default cannot render without one).
        apply(as_alice, {"apiVersion": "syncagent.kcp.io/v1alpha1", "kind": "PublishedResource",
                         "metadata": {"name": "dbclusters"},
                         "spec": {"resource": {"kind": "DbCluster", "apiGroup": "db.example.io", "version": "v1"},
                                  "naming": {"name": "{{ .ClusterName }}-{{ .Object.metadata.name }}"}}})
        # The agent's schema: a PublishedResource without a kind, with an
        # origin that is neither side, is refused with each field's cause.
        r = k(as_alice, "apply", "-f", "-", ok=False, stdin=json.dumps({
            "apiVersion": "syncagent.kcp.io/v1alpha1", "kind": "PublishedResource", "metadata": {"name": "broken"},
            "spec": {"resource": {"apiGroup": "db.example.io"},
                     "related": [{"identifier": "creds", "kind": "Secret", "origin": "elsewhere",
                                  "object": {"reference": {"path": "spec.secret"}}}]}}))
        for want in ('spec.resource.kind: Required value', 'spec.related[0].origin: Unsupported value: "elsewhere"'):
            if r.returncode == 0 or want not in r.stderr:
                problems.append("an invalid PublishedResource: want %r, got %r" % (want, r.stderr.strip()[:300]))
        if k(as_alice, "get", "publishedresource", "broken", ok=False).returncode == 0:
            problems.append("the invalid PublishedResource was stored")
        # The agent published both CRDs as APIResourceSchemas named after what
        # they say, and listed them in the export (v1alpha1: latestResourceSchemas).
        def published():
            r = k(as_alice, "get", "apiexports.v1alpha1.apis.kcp.io", "databases", "-o", "json", ok=False)
            names = json.loads(r.stdout).get("spec", {}).get("latestResourceSchemas", []) if r.returncode == 0 else []
            return names if len(names) == 2 else None
        names = wait_until(problems, "the agent's schemas in alice's export", published) or []
        schema_of = {}
        for n in names:
            parts = n.split(".", 2)
            if len(parts) != 3 or len(parts[0]) != 9 or not parts[0].startswith("v") or parts[2] != "db.example.io":
                problems.append("a published schema's name is not v<hash>.<plural>.<group>: %r" % n)
                continue
            schema_of[parts[1]] = n
            r = k(as_alice, "get", "apiresourceschema", n, "-o", "json", ok=False)
            ars = json.loads(r.stdout) if r.returncode == 0 else {}
            if ars.get("metadata", {}).get("labels", {}).get("syncagent.kcp.io/agent-name") != "databases-syncagent":
                problems.append("the published schema %s lacks the agent's label: %r" % (n, ars.get("metadata")))
        for pr, plural in (("databases", "databases"), ("dbclusters", "dbclusters")):
            got = k(as_alice, "get", "publishedresource", pr, "-o", "jsonpath={.status.resourceSchemaName}", ok=False).stdout
            if got != schema_of.get(plural):
                problems.append("PublishedResource %s's resourceSchemaName: want %r, got %r" % (pr, schema_of.get(plural), got))
        # alice lets bob bind her export, as a kcp provider grants `bind`.
        apply(as_alice, {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
                         "metadata": {"name": "bind-databases"},
                         "rules": [{"apiGroups": ["apis.kcp.io"], "resources": ["apiexports"],
                                    "resourceNames": ["databases"], "verbs": ["bind"]}]})
        apply(as_alice, {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
                         "metadata": {"name": "bob-binds-databases"},
                         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "bind-databases"},
                         "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "bob"}]})
        apply(as_bob, {"apiVersion": "apis.kcp.io/v1alpha2", "kind": "APIBinding", "metadata": {"name": "databases"},
                       "spec": {"reference": {"export": {"path": prov, "name": "databases"}}}})
        wait_until(problems, "bob's binding to be Bound", lambda: k(
            as_bob, "get", "apibinding", "databases", "-o", "jsonpath={.status.phase}", ok=False).stdout == "Bound")
        apply(as_bob, {"apiVersion": "db.example.io/v1", "kind": "Database",
                       "metadata": {"name": "db1", "namespace": "default", "labels": {"app": "shop"}},
                       "spec": {"size": "small", "region": "eu"}})
        if problems:
            problems.report("")

        cid = expect_status(problems, "bob's workspace", s.request(
            "GET", "/clusters/root:orgs/apis/tenancy.kcp.io/v1alpha1/workspaces/cons"), 200)["spec"]["cluster"]
        selector = "syncagent.kcp.io/remote-object-cluster=%s,syncagent.kcp.io/remote-object-name-hash" % cid

        def copy():
            r = k(as_alice, "get", "databases", "-A", "-l", selector, "-o", "json", ok=False)
            items = json.loads(r.stdout)["items"] if r.returncode == 0 else []
            return items[0] if len(items) == 1 else None

        c = wait_until(problems, "the copy in alice's workspace", copy)
        if not c:
            problems.report("")
        ns, name = c["metadata"]["namespace"], c["metadata"]["name"]
        problems.want("the copy's namespace (bob's cluster)", ns, cid)
        problems.want("the copy's spec", c["spec"], {"size": "small", "region": "eu"})
        problems.want("the copy's remote-object-name", c["metadata"]["annotations"].get("syncagent.kcp.io/remote-object-name"), "db1")
        problems.want("the consumer's label on the copy", c["metadata"]["labels"].get("app"), "shop")

        def copy_spec():
            return json.loads(k(as_alice, "get", "database", "-n", ns, name, "-o", "json").stdout)["spec"]

        def bob_sets(spec):
            k(as_bob, "patch", "database", "db1", "-n", "default", "--type", "merge", "-p", json.dumps({"spec": spec}))

        # The provider edits the copy: its value stays...
        k(as_alice, "patch", "database", "-n", ns, name, "--type", "merge", "-p", '{"spec":{"size":"tiny"}}')
        problems.want("the copy after alice's edit", copy_spec(), {"size": "tiny", "region": "eu"})
        # ...while the consumer changes another field...
        bob_sets({"region": "us"})
        wait_until(problems, "bob's region on the copy", lambda: copy_spec().get("region") == "us")
        problems.want("alice's size kept beside bob's region", copy_spec(), {"size": "tiny", "region": "us"})
        # ...and goes when the consumer changes that field, for good.
        bob_sets({"size": "large"})
        wait_until(problems, "bob's size on the copy", lambda: copy_spec().get("size") == "large")
        bob_sets({"size": "small"})
        wait_until(problems, "bob's size back to small", lambda: copy_spec().get("size") == "small")
        problems.want("the copy once bob set the size alice saw", copy_spec(), {"size": "small", "region": "us"})
        # The provider removes a field (a JSON patch): it stays out while the
        # consumer changes another, and is back once the consumer changes it.
        k(as_alice, "patch", "database", "-n", ns, name, "--type", "json", "-p", '[{"op":"remove","path":"/spec/region"}]')
        problems.want("the copy after alice removed the region", copy_spec(), {"size": "small"})
        bob_sets({"size": "medium"})
        wait_until(problems, "bob's medium size on the copy", lambda: copy_spec().get("size") == "medium")
        problems.want("the region alice removed, still out", copy_spec(), {"size": "medium"})
        bob_sets({"region": "ap"})
        wait_until(problems, "bob's new region on the copy", lambda: copy_spec().get("region") == "ap")
        problems.want("the copy once bob changed the region", copy_spec(), {"size": "medium", "region": "ap"})

        # The agent's labels are not the provider's to change.
        r = k(as_alice, "label", "database", "-n", ns, name, "--overwrite",
              "syncagent.kcp.io/remote-object-cluster=elsewhere", ok=False)
        if r.returncode == 0 or "managed by rule sync-copy" not in r.stderr:
            problems.append("alice relabelled the copy: %s %s" % (r.stdout, r.stderr))

        # The provider's status comes back as it is.
        k(as_alice, "patch", "database", "-n", ns, name, "--subresource=status", "--type", "merge",
          "-p", '{"status":{"endpoint":"db1.example.com:5432"}}')
        wait_until(problems, "alice's status on bob's Database", lambda: k(
            as_bob, "get", "database", "db1", "-n", "default", "-o", "jsonpath={.status.endpoint}").stdout ==
            "db1.example.com:5432")

        # A related Secret (origin service) reaches bob's workspace only once
        # bob's binding accepts the export's claim on Secrets.
        k(as_alice, "patch", "apiexport.v1alpha2.apis.kcp.io", "databases", "--type", "merge", "-p",
          json.dumps({"spec": {"permissionClaims": [{"group": "", "resource": "secrets", "verbs": ["*"]}]}}))
        k(as_alice, "patch", "publishedresource", "databases", "--type", "merge", "-p", json.dumps({"spec": {"related": [
            {"identifier": "creds", "origin": "service", "kind": "Secret", "object": {"reference": {"path": "metadata.name"}}}]}}))
        apply(as_alice, {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": ns},
                         "stringData": {"password": "s3cret"}})

        def bobs_secret():
            r = k(as_bob, "get", "secret", "db1", "-n", "default", "-o", "jsonpath={.data.password}", ok=False)
            return r.stdout if r.returncode == 0 else None

        # Derived in alice's transaction, if at all: absent now is absent.
        if bobs_secret() is not None:
            problems.append("alice's Secret reached bob's workspace without an accepted claim")
        k(as_bob, "patch", "apibinding.v1alpha2.apis.kcp.io", "databases", "--type", "merge", "-p", json.dumps({"spec": {
            "permissionClaims": [{"group": "", "resource": "secrets", "verbs": ["*"], "state": "Accepted",
                                  "selector": {"matchAll": True}}]}}))
        got = wait_until(problems, "alice's Secret in bob's workspace once bob accepted the claim", bobs_secret)
        problems.want("the related Secret's data", got, "czNjcmV0")
        # Related Secrets a label selector finds come over too, and bob's
        # object names each in an annotation numbered by their names on
        # alice's side, as the agent writes it.
        k(as_alice, "patch", "publishedresource", "databases", "--type", "merge", "-p", json.dumps({"spec": {"related": [
            {"identifier": "creds", "origin": "service", "kind": "Secret", "object": {"reference": {"path": "metadata.name"}}},
            {"identifier": "certs", "origin": "service", "kind": "Secret",
             "object": {"selector": {"matchLabels": {"db": "{{ .LocalObject.metadata.name }}"},
                                     "rewrite": {"template": {"template": "{{ .Value }}-copy"}}}}}]}}))
        for cert in ("b-cert", "a-cert"):
            apply(as_alice, {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": cert, "namespace": ns, "labels": {"db": name}},
                             "stringData": {"crt": cert}})

        def bobs_annotations():
            return json.loads(k(as_bob, "get", "database", "db1", "-n", "default", "-o", "json").stdout)["metadata"].get("annotations", {})

        def names(secret):
            return json.dumps({"namespace": "default", "name": secret, "apiVersion": "v1", "kind": "Secret"}, separators=(",", ":"))

        wait_until(problems, "the certificates' annotations on bob's object",
                   lambda: bobs_annotations().get("related-resources.syncagent.kcp.io/certs.1") == names("b-cert-copy"))
        ann = bobs_annotations()
        problems.want("the first certificate's annotation", ann.get("related-resources.syncagent.kcp.io/certs.0"), names("a-cert-copy"))
        problems.want("the reference's annotation", ann.get("related-resources.syncagent.kcp.io/creds.0"), names("db1"))
        problems.want("a certificate in bob's workspace",
                      k(as_bob, "get", "secret", "a-cert-copy", "-n", "default", "-o", "jsonpath={.data.crt}").stdout, "YS1jZXJ0")
        k(as_bob, "patch", "apibinding.v1alpha2.apis.kcp.io", "databases", "--type", "merge", "-p", json.dumps({"spec": {
            "permissionClaims": [{"group": "", "resource": "secrets", "verbs": ["*"], "state": "Rejected",
                                  "selector": {"matchAll": True}}]}}))
        wait_until(problems, "the related Secret to go when bob rejects the claim", lambda: bobs_secret() is None)

        # A cluster-scoped object's copy is cluster-scoped, named by the
        # PublishedResource's naming.
        apply(as_bob, {"apiVersion": "db.example.io/v1", "kind": "DbCluster", "metadata": {"name": "main"},
                       "spec": {"nodes": 3}})
        scoped = wait_until(problems, "the cluster-scoped copy", lambda: k(
            as_alice, "get", "dbcluster", cid + "-main", "-o", "json", ok=False).stdout)
        if scoped:
            c = json.loads(scoped)
            problems.want("the cluster-scoped copy's namespace", c["metadata"].get("namespace"), None)
            problems.want("the cluster-scoped copy's spec", c["spec"], {"nodes": 3})
            problems.want("the cluster-scoped copy's namespace label",
                          c["metadata"]["labels"].get("syncagent.kcp.io/remote-object-namespace-hash"), None)

        # Deleting bob's object deletes the copy first.
        k(as_bob, "delete", "database", "db1", "-n", "default", "--wait=false")
        wait_until(problems, "the copy to go", lambda: copy() is None)
        wait_until(problems, "bob's Database to go", lambda: k(
            as_bob, "get", "databases", "-n", "default", "-o", "name", ok=False).stdout.strip() == "")
    problems.report("ok: the api-syncagent's path through kubectl: copy, three-way merge of spec, status back, cleanup")


if __name__ == "__main__":
    main()
