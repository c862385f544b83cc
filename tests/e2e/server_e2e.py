#!/usr/bin/python3
"""`pmesh serve` across workspaces, on shutdown and on crashes.

`/clusters/*/` lists across workspaces and refuses writes; logical
clusters are reached and shown by their names as in kcp; a Table is asked
for and plain JSON comes back; SIGTERM ends watches and exits 0. Durability:
creates under load, the server killed with SIGKILL, a restart on the same
data directory: every create that was answered 201 is there, `pmesh verify`
passes, and a watch resumes from the last version seen. (Bad input is
`bad_input.py`'s table; clients that stall are `fairness_e2e.py`'s.)

Usage: server_e2e.py PMESH POLICIES (rules that derive from Accounts)
"""
import os
import signal
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pmesh_server import Server  # noqa: E402

ACCOUNTS = "/clusters/root/apis/core.platform-mesh.io/v1alpha1/accounts"
# Organizations, under the default policies (accounts.rules admits type org only in root:orgs).
ORGS = "/clusters/root:orgs/apis/core.platform-mesh.io/v1alpha1/accounts"


def account(name, **spec):
    spec.setdefault("displayName", name.title())
    return {"apiVersion": "core.platform-mesh.io/v1alpha1", "kind": "Account", "metadata": {"name": name}, "spec": spec}


def expect_status(result, code, reason, what):
    status, body = result[0], result[1]
    if status != code or not isinstance(body, dict) or body.get("kind") != "Status" or body.get("reason") != reason \
            or body.get("code") != code:
        raise SystemExit("FAIL: %s: expected %d %s, got %d %r" % (what, code, reason, status, body))


def status_is_the_servers(s):
    """A kind with a status subresource drops the status a create or an update
    carries (kube's strategies reset it): no tenant forges Ready or a phase."""
    forged = {"phase": "Terminating", "conditions": [{"type": "Ready", "status": "True", "reason": "Forged"}]}
    body = account("forged", type="org")
    body["status"] = forged
    status, created, _ = s.request("POST", ORGS, body)
    assert status == 201, (status, created)
    got = s.request("GET", ORGS + "/forged")[1]
    assert "Forged" not in str(got.get("status")) and got.get("status", {}).get("phase") != "Terminating", got
    before = got.get("status")
    got["status"] = forged
    got["spec"]["displayName"] = "Forged Inc"
    status, updated, _ = s.request("PUT", ORGS + "/forged", got)
    assert status == 200 and updated["spec"]["displayName"] == "Forged Inc", (status, updated)
    assert updated["status"]["conditions"] == before["conditions"], (before, updated["status"])
    assert updated["status"]["observedGeneration"] == updated["metadata"]["generation"], updated
    ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "forged"}, "status": {"phase": "Terminating"}}
    status, created, _ = s.request("POST", "/clusters/root/api/v1/namespaces", ns)
    assert status == 201 and created["status"]["phase"] == "Active", (status, created)
    # Through /status only the status changes: a spec sent there is ignored.
    ns = s.request("GET", "/clusters/root/api/v1/namespaces/forged")[1]
    ns["spec"] = {"finalizers": ["example.com/held"]}
    status, updated, _ = s.request("PUT", "/clusters/root/api/v1/namespaces/forged/status", ns)
    assert status == 200 and updated.get("spec", {}).get("finalizers") != ["example.com/held"], (status, updated)
    assert s.request("DELETE", ORGS + "/forged")[0] == 200


def wildcard_and_shutdown(s):
    """/clusters/*/ lists across workspaces; SIGTERM ends watches and exits 0."""
    # root:orgs is there from the bootstrap.
    assert s.request("GET", "/clusters/root/apis/tenancy.kcp.io/v1alpha1/workspaces/orgs")[0] == 200
    assert s.request("POST", ORGS, account("keep", type="org"))[0] == 201
    assert s.request("POST", ORGS, account("acme", type="org"))[0] == 201
    listing = s.request("GET", "/clusters/*/apis/core.platform-mesh.io/v1alpha1/accounts")[1]
    where = sorted((i["metadata"]["annotations"]["kcp.io/cluster"], i["metadata"]["name"]) for i in listing["items"])
    orgs = s.request("GET", "/clusters/root/apis/tenancy.kcp.io/v1alpha1/workspaces/orgs")[1]["spec"]["cluster"]
    assert where == [(orgs, "acme"), (orgs, "keep")], where
    expect_status(s.request("POST", "/clusters/*/apis/core.platform-mesh.io/v1alpha1/accounts", account("x")),
                  405, "MethodNotAllowed", "a write to the wildcard cluster")
    # Table output may be asked for (server-side printing, table_e2e.py).
    status, body, _ = s.request("GET", ORGS, headers={"Accept": "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"})
    assert status == 200 and body["kind"] == "Table", (status, body)
    status, body, _ = s.request("GET", ORGS, headers={"Accept": "application/json"})
    assert status == 200 and body["kind"] == "AccountList", (status, body)
    # A built-in kind drops a field its type lacks and warns about it; a name
    # with line breaks cannot forge a response header.
    status, _, headers = s.request("POST", "/clusters/root/api/v1/namespaces/default/configmaps",
                                   {"metadata": {"name": "warned"}, "data": {"k": "v"}, "x\r\nSet-Cookie: a=b": 1})
    names = [k.lower() for k, _ in headers]
    assert status == 201 and "warning" in names and "set-cookie" not in names, (status, headers)
    w = s.watch("/clusters/*/apis/core.platform-mesh.io/v1alpha1/accounts?watch=true")
    first = w.next()
    assert first["type"] == "ADDED", first
    s.stop(signal.SIGTERM)
    assert s.proc.returncode == 0, s.proc.returncode
    while w.next() is not None:  # the stream ends: the server closed the watch
        pass


def cluster_names(s):
    """kcp's logical cluster names: `kcp.io/cluster` carries the name the
    scheduler generated (Workspace spec.cluster), `/clusters/<name>` and a
    path that starts at a name reach the workspace, a name nobody has is a
    404, and what goes with a deleted workspace leaves with its name."""
    ws = "/clusters/root/apis/tenancy.kcp.io/v1alpha1/workspaces/"
    orgs = s.request("GET", ws + "orgs")[1]["spec"]["cluster"]
    assert len(orgs) == 16 and orgs.isalnum() and orgs == orgs.lower(), orgs
    assert s.request("POST", ORGS, account("named", type="org"))[0] == 201
    named = s.request("GET", "/clusters/root:orgs/apis/tenancy.kcp.io/v1alpha1/workspaces/named")[1]["spec"]["cluster"]
    assert named != orgs, (named, orgs)
    by_path = s.request("GET", ORGS + "/named")
    by_name = s.request("GET", "/clusters/%s/apis/core.platform-mesh.io/v1alpha1/accounts/named" % orgs)
    assert by_path[0] == by_name[0] == 200 and by_path[1] == by_name[1], (by_path, by_name)
    assert by_name[1]["metadata"]["annotations"]["kcp.io/cluster"] == orgs, by_name
    # A path may start at a name, as kcp's do.
    ns = s.request("GET", "/clusters/%s:named/api/v1/namespaces/default" % orgs)
    assert ns[0] == 200 and ns[1]["metadata"]["annotations"]["kcp.io/cluster"] == named, ns
    lc = s.request("GET", "/clusters/%s/apis/core.kcp.io/v1alpha1/logicalclusters/cluster" % named)
    assert lc[0] == 200 and lc[1]["metadata"]["annotations"]["kcp.io/path"] == "root:orgs:named", lc
    # Writes reach it by name too, and what kube's clients send back (the
    # annotation of a read object) is not taken as the object's cluster.
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "annotations": {"kcp.io/cluster": "root"}}}
    created = s.request("POST", "/clusters/%s/api/v1/namespaces/default/configmaps" % named, cm)
    assert created[0] == 201 and created[1]["metadata"]["annotations"]["kcp.io/cluster"] == named, created
    assert s.request("GET", "/clusters/root:orgs:named/api/v1/namespaces/default/configmaps/c")[0] == 200
    assert s.request("GET", "/clusters/root/api/v1/namespaces/default/configmaps/c")[0] == 404
    # The GraphQL gateway's workspace too.
    q = {"query": '{ v1 { ConfigMaps(namespace: "default") { items { metadata { name } } } } }'}
    got = s.request("POST", "/api/clusters/%s/graphql" % named, q)
    assert got[0] == 200 and [i["metadata"]["name"] for i in got[1]["data"]["v1"]["ConfigMaps"]["items"]] == ["c"], got
    for nobody in ("zzzzzzzzzzzzzzzz", "zzzzzzzzzzzzzzzz:named"):
        expect_status(s.request("GET", "/clusters/%s/api/v1/namespaces" % nobody), 404, "NotFound", "an unknown name")
    # Deleting the organization deletes its workspace and what is in it: the
    # ConfigMap's DELETED event still names the cluster it was in.
    rv = s.request("GET", "/clusters/*/api/v1/configmaps")[1]["metadata"]["resourceVersion"]
    w = s.watch("/clusters/*/api/v1/configmaps?watch=true&resourceVersion=" + rv)
    assert s.request("DELETE", ORGS + "/named")[0] == 200
    deadline = time.time() + 10
    gone = None
    while gone is None and time.time() < deadline:
        e = w.next()
        if e and e["type"] == "DELETED" and e["object"]["metadata"]["name"] == "c":
            gone = e
    assert gone and gone["object"]["metadata"]["annotations"]["kcp.io/cluster"] == named, gone
    expect_status(s.request("GET", "/clusters/%s/api/v1/namespaces" % named), 404, "NotFound", "a deleted cluster's name")


def durability(pmesh, policies):
    s = Server(pmesh, plain=True, policies=policies)
    acknowledged = []
    stop = threading.Event()

    def load(worker):
        i = 0
        while not stop.is_set() and i < 2000:
            name = "w%d-%d" % (worker, i)
            i += 1
            try:
                status, _, _ = s.request("POST", ACCOUNTS, account(name, type="org", creator="u%d" % worker), timeout=5)
            except OSError:
                return
            if status == 201:
                acknowledged.append(name)

    threads = [threading.Thread(target=load, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    deadline = time.time() + 20
    while len(acknowledged) < 150 and time.time() < deadline:
        time.sleep(0.05)
    s.stop(signal.SIGKILL)
    stop.set()
    for t in threads:
        t.join(timeout=10)
    assert len(acknowledged) >= 150, len(acknowledged)
    s.start()
    try:
        listing = s.request("GET", ACCOUNTS)[1]
        present = {i["metadata"]["name"] for i in listing["items"]}
        lost = [n for n in acknowledged if n not in present]
        if lost:
            raise SystemExit("FAIL: %d acknowledged creates lost after SIGKILL, e.g. %s" % (len(lost), lost[:3]))
        # Derived objects are there for every account, and nothing extra.
        wss = s.request("GET", "/clusters/root/apis/tenancy.kcp.io/v1alpha1/workspaces")[1]
        derived = {i["metadata"]["name"] for i in wss["items"]} - {"orgs"}  # orgs: from the bootstrap
        assert derived == present, "derived workspaces do not match the accounts"
        rv = listing["metadata"]["resourceVersion"]
        # A watch resumes from the last version seen before the crash.
        w = s.watch(ACCOUNTS + "?watch=true&timeoutSeconds=1&resourceVersion=" + rv)
        assert w.status == 200, w.status
        while True:
            e = w.next()
            if e is None:
                break
            assert e["type"] != "ERROR", e
    finally:
        s.stop()
    verify = s.verify(policies)
    if verify.returncode != 0:
        raise SystemExit("FAIL: pmesh verify after SIGKILL:\n" + verify.stdout + verify.stderr)
    print("durability: %d acknowledged creates survived SIGKILL; %s" % (len(acknowledged), verify.stdout.strip()))
    s.__exit__(None, None, None)


def main():
    pmesh = sys.argv[1]
    with Server(pmesh, plain=True) as s:
        status_is_the_servers(s)
        cluster_names(s)
        wildcard_and_shutdown(s)
    durability(pmesh, sys.argv[2])
    print("server e2e: ok")


if __name__ == "__main__":
    main()
