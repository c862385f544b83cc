#!/usr/bin/python3
"""Watches are exact: every change a watcher may see arrives once and in
resource-version order, from a list (resourceVersion 0) or a resume alike;
an object that leaves a watcher's view — deleted, or no longer visible to
it — arrives as DELETED; a watcher who loses access to what it watches gets
DELETED for what it was shown and its stream ends.

Usage: watch_e2e.py PMESH
"""
import json
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pmesh_server import Server, fail  # noqa: E402

ORGS = "/clusters/root:orgs/apis/core.platform-mesh.io/v1alpha1/accounts"


def org(name):
    return {"apiVersion": "core.platform-mesh.io/v1alpha1", "kind": "Account", "metadata": {"name": name}, "spec": {"type": "org", "displayName": "An organization"}}


def until(watch, pred, limit=50):
    """Events until one satisfies `pred` (returned last), at most `limit`."""
    seen = []
    for _ in range(limit):
        e = watch.next()
        if e is None:
            break
        if e["type"] == "BOOKMARK":
            continue
        seen.append(e)
        if pred(e):
            return seen
    raise AssertionError("no such event among %s" % [(e["type"], e["object"]["metadata"].get("name")) for e in seen])


def owner_sees_deletion(s):
    assert s.request("POST", ORGS, org("acme"), user="alice")[0] == 201
    w = s.watch(ORGS + "?watch=true&timeoutSeconds=30", user="alice")
    first = until(w, lambda e: e["object"]["metadata"]["name"] == "acme")
    assert first[-1]["type"] == "ADDED", first
    assert s.request("DELETE", ORGS + "/acme", user="alice")[0] == 200
    # The org goes (bottom up, in one transaction); the owner loses access
    # as it goes: the watch must still say DELETED, once.
    events = until(w, lambda e: e["type"] == "DELETED")
    assert events[-1]["object"]["metadata"]["name"] == "acme", events
    w.close()


def member_role(account, user):
    """The tuples by which the IAM service grants `user` the account's member role."""
    role = "role:core_platform-mesh_io_account/" + account.split(":", 1)[1] + "/member"
    return [{"user": user, "relation": "assignee", "object": role},
            {"user": role + "#assignee", "relation": "member", "object": account}]


def visibility_follows_access(s):
    assert s.request("POST", ORGS, org("globex"), user="alice")[0] == 201
    w = s.watch(ORGS + "?watch=true&timeoutSeconds=30", user="bob")
    store = s.request("POST", "/stores/globex/read", {}, user="alice")[1]
    globex = next(t["key"]["object"] for t in store["tuples"] if t["key"]["relation"] == "owner" and t["key"]["object"].endswith("/globex"))
    grant = {"writes": {"tuple_keys": member_role(globex, "user:bob")}}
    assert s.request("POST", "/stores/globex/write", grant, user="alice")[0] == 200
    added = until(w, lambda e: e["object"]["metadata"]["name"] == "globex")
    assert added[-1]["type"] == "ADDED", added
    assert s.request("POST", "/stores/globex/write", {"deletes": grant["writes"]}, user="alice")[0] == 200
    gone = until(w, lambda e: e["object"]["metadata"]["name"] == "globex")
    assert gone[-1]["type"] == "DELETED", gone
    w.close()
    # Watching inside the workspace: access lost ends the watch, after
    # DELETED for what it showed.
    assert s.request("POST", "/stores/globex/write", grant, user="alice")[0] == 200
    cms = "/clusters/root:orgs:globex/api/v1/namespaces/default/configmaps"
    assert s.request("POST", cms, {"metadata": {"name": "c1"}, "data": {"k": "v"}}, user="alice")[0] == 201
    w = s.watch(cms + "?watch=true&timeoutSeconds=30", user="bob")
    assert until(w, lambda e: e["object"]["metadata"]["name"] == "c1")[-1]["type"] == "ADDED"
    assert s.request("POST", "/stores/globex/write", {"deletes": grant["writes"]}, user="alice")[0] == 200
    assert until(w, lambda e: e["type"] == "DELETED")[-1]["object"]["metadata"]["name"] == "c1"
    assert w.next() is None, "the watch should end once access is gone"
    w.close()


def exactly_once(s):
    """Watches from 0 and resumed watches, started while writes go on: no
    change twice, none missing, in resource-version order."""
    ns = "/clusters/root/api/v1/namespaces/default/configmaps"
    stop = threading.Event()
    written = []

    def writer():
        i = 0
        while not stop.is_set() and i < 400:
            st, body, _ = s.request("POST", ns, {"metadata": {"name": "x%d" % i}, "data": {"i": str(i)}})
            if st == 201:
                written.append((body["metadata"]["name"], int(body["metadata"]["resourceVersion"])))
            i += 1

    t = threading.Thread(target=writer)
    t.start()
    watches = []
    deadline = time.time() + 20
    while len(written) < 50 and time.time() < deadline:
        time.sleep(0.01)
    for k in range(8):
        watches.append(s.watch(ns + "?watch=true&timeoutSeconds=4", timeout=20))
        time.sleep(0.02)
    t.join(timeout=60)
    stop.set()
    final_rv = max(rv for _, rv in written)
    for w in watches:
        seen = {}
        last_live = 0
        while True:
            e = w.next()
            if e is None:
                break
            if e["type"] == "BOOKMARK":
                continue
            name, rv = e["object"]["metadata"]["name"], int(e["object"]["metadata"]["resourceVersion"])
            if name in seen:
                raise AssertionError("%s delivered twice (%s and %s)" % (name, seen[name], rv))
            seen[name] = rv
            if rv > last_live:
                last_live = rv
        missing = [n for n, rv in written if n not in seen]
        if missing:
            raise AssertionError("%d changes never delivered, e.g. %s" % (len(missing), missing[:3]))
        w.close()
    # Resuming from a version replays exactly what came after it, in order.
    mid = sorted(rv for _, rv in written)[len(written) // 2]
    w = s.watch(ns + "?watch=true&timeoutSeconds=2&resourceVersion=%d" % mid)
    rvs = []
    while True:
        e = w.next()
        if e is None:
            break
        if e["type"] != "BOOKMARK":
            rvs.append(int(e["object"]["metadata"]["resourceVersion"]))
    want = sorted(rv for _, rv in written if rv > mid)
    assert rvs == want, "resumed watch: %d events, want %d (first differences %s)" % (
        len(rvs), len(want), [(a, b) for a, b in zip(rvs, want) if a != b][:3])
    w.close()
    return final_rv


def too_old(s):
    w = s.watch("/clusters/root/api/v1/namespaces?watch=true&resourceVersion=1")
    e = w.next()
    assert e["type"] == "ERROR" and e["object"]["code"] == 410 and e["object"]["reason"] == "Expired", e
    assert w.next() is None
    w.close()


def main():
    pmesh = sys.argv[1]
    with Server(pmesh, extra=("--watch-history", "50")) as s:
        try:
            owner_sees_deletion(s)
            visibility_follows_access(s)
        except AssertionError as e:
            fail(str(e), s)
    with Server(pmesh) as s:
        try:
            exactly_once(s)
        except AssertionError as e:
            fail(str(e), s)
    with Server(pmesh, extra=("--watch-history", "5")) as s:
        for i in range(20):
            s.request("POST", "/clusters/root/api/v1/namespaces", {"metadata": {"name": "n%d" % i}})
        too_old(s)
    print("watch e2e: ok")


if __name__ == "__main__":
    main()
