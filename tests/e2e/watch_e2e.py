#!/usr/bin/python3
"""Watches are exact: every change a watcher may see arrives once and in
resource-version order, from a list (resourceVersion 0) or a resume alike;
an object that leaves a watcher's view — deleted, or no longer visible to
it — arrives as DELETED; a watcher who loses access to what it watches gets
DELETED for what it was shown and its stream ends, whether the model or
RBAC took it away.

Usage: watch_e2e.py PMESH
"""
import json
import os
import re
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pmesh_server import Server, fail, member_role  # noqa: E402

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


RBAC = "/apis/rbac.authorization.k8s.io/v1"


def rbac_loss_ends_watch(s):
    """Access granted by RBAC alone (no tuple of the model names the user):
    a watch ends once its binding goes, or its role stops granting watch;
    a change of RBAC in another workspace leaves it be."""
    for name in ("initech", "hooli"):
        assert s.request("POST", ORGS, org(name), user="alice")[0] == 201
    ws = "/clusters/root:orgs:initech"
    cms = ws + "/api/v1/namespaces/default/configmaps"
    roles = ws + RBAC + "/namespaces/default/roles"
    bindings = ws + RBAC + "/namespaces/default/rolebindings"
    assert s.request("POST", cms, {"metadata": {"name": "c1"}, "data": {"k": "v"}}, user="alice")[0] == 201

    def role(name, verbs):
        return {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": name},
                "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": verbs}]}

    def binding(name, role_name, user, kind="User"):
        return {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": {"name": name},
                "roleRef": {"kind": "Role", "name": role_name}, "subjects": [{"kind": kind, "name": user}]}

    assert s.request("POST", roles, role("reader", ["get", "list", "watch"]), user="alice")[0] == 201
    assert s.request("POST", bindings, binding("dave-reads", "reader", "dave"), user="alice")[0] == 201
    w = s.watch(cms + "?watch=true&timeoutSeconds=30", user="dave")
    assert until(w, lambda e: e["object"]["metadata"]["name"] == "c1")[-1]["type"] == "ADDED"
    # RBAC changes elsewhere change nothing here.
    hooli = "/clusters/root:orgs:hooli" + RBAC + "/namespaces/default"
    assert s.request("POST", hooli + "/roles", role("reader", ["get"]), user="alice")[0] == 201
    assert s.request("POST", hooli + "/rolebindings", binding("dave-reads", "reader", "dave"), user="alice")[0] == 201
    assert s.request("DELETE", hooli + "/rolebindings/dave-reads", user="alice")[0] == 200
    assert s.request("POST", cms, {"metadata": {"name": "c2"}, "data": {"k": "v"}}, user="alice")[0] == 201
    assert until(w, lambda e: e["object"]["metadata"]["name"] == "c2")[-1]["type"] == "ADDED"
    # The binding goes: DELETED for what the watch showed, then its end.
    assert s.request("DELETE", bindings + "/dave-reads", user="alice")[0] == 200
    assert s.request("GET", cms, user="dave")[0] in (403, 404)
    gone = sorted(e["object"]["metadata"]["name"] for e in until(w, lambda e: e["type"] == "DELETED" and e["object"]["metadata"]["name"] == "c2")
                  if e["type"] == "DELETED")
    assert w.next() is None, "the watch should end once its binding is gone"
    assert set(gone) == {"c1", "c2"}, gone
    w.close()
    # Bound through a group, and the role stops granting watch (its
    # binding stays): the same.
    r = s.request("POST", bindings, binding("developers-read", "reader", "developers", "Group"), user="alice")
    assert r[0] == 201, r
    w = s.watch(cms + "?watch=true&timeoutSeconds=30", user="carol")
    until(w, lambda e: e["object"]["metadata"]["name"] == "c2")
    r = s.request("PATCH", roles + "/reader", {"rules": role("reader", ["get", "list"])["rules"]},
                  content_type="application/merge-patch+json", user="alice")
    assert r[0] == 200, r
    until(w, lambda e: e["type"] == "DELETED" and e["object"]["metadata"]["name"] == "c2")
    assert w.next() is None, "the watch should end once its role no longer grants watch"
    w.close()


def read_through(w, last):
    """A watch's events up to and including the change to `last`: the last
    write, so every earlier change must precede it. The watch ends when that
    change arrives, not after a time, so a slow server is not mistaken for a
    lost event. Returns the (name, version) pairs and, where the initial
    events ended with the initial-events-end bookmark, how many came before
    it and its version (else None)."""
    events, initial = [], None
    while True:
        e = w.next()
        if e is None:
            raise AssertionError("stream ended before %s arrived, after %d events" % (last, len(events)))
        meta = e["object"]["metadata"]
        if e["type"] == "BOOKMARK":
            if (meta.get("annotations") or {}).get("k8s.io/initial-events-end") == "true":
                if initial is not None:
                    raise AssertionError("a second initial-events-end bookmark")
                initial = (len(events), int(meta["resourceVersion"]))
            continue
        events.append((meta["name"], int(meta["resourceVersion"])))
        if events[-1][0] == last:
            return events, initial


def check_exact(events, initial, written):
    """`events` is a watch's initial events (the objects whose version is at
    most R, in any order) and then every later change once, in version
    order. `initial` is (how many initial events, R) when a bookmark said
    where they ended; without it any split that fits is accepted. `written`
    are the (name, version) pairs written."""
    names = [n for n, _ in events]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise AssertionError("%d changes delivered twice, e.g. %s" % (len(twice), twice[:3]))
    missing = [n for n, _ in written if n not in set(names)]
    if missing:
        raise AssertionError("%d changes never delivered, e.g. %s" % (len(missing), missing[:3]))
    extra = sorted(set(names) - {n for n, _ in written})
    if extra:
        raise AssertionError("changes nobody wrote: %s" % extra[:3])
    rvs = [rv for _, rv in events]
    want = sorted(rvs)
    if initial is not None:
        k, r = initial
        if sorted(rvs[:k]) != [rv for rv in want if rv <= r] or rvs[k:] != [rv for rv in want if rv > r]:
            raise AssertionError("with %d initial events up to %d: %s" % (k, r, rvs[:k + 20]))
        return
    # The initial events are the k oldest objects in any order; what follows is in order.
    highest = 0
    for k in range(len(rvs) + 1):
        if k and rvs[k - 1] > highest:
            highest = rvs[k - 1]
        if (k == 0 or highest == want[k - 1]) and rvs[k:] == want[k:]:
            return
    raise AssertionError("live changes out of version order: %s" % rvs[:20])


def exactly_once(s):
    """Watches from 0 and resumed watches, started while writes go on: no
    change twice, none missing, in resource-version order."""
    ns = "/clusters/root/api/v1/namespaces/default/configmaps"
    st, before, _ = s.request("GET", ns)
    assert st == 200 and before["items"] == [], (st, before)
    stop = threading.Event()
    written = []

    def create(name):
        st, body, _ = s.request("POST", ns, {"metadata": {"name": name}, "data": {"n": name}})
        if st == 201:
            written.append((body["metadata"]["name"], int(body["metadata"]["resourceVersion"])))
        return st

    def writer():
        i = 0
        while not stop.is_set() and i < 400:
            create("x%d" % i)
            i += 1

    t = threading.Thread(target=writer)
    t.start()
    watches = []
    deadline = time.time() + 20
    while len(written) < 50 and time.time() < deadline:
        time.sleep(0.01)
    # Half the watches ask for the initial events' end to be marked, as a
    # client-go WatchList does, which pins the check to the exact split.
    marked = "&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true"
    for k in range(8):
        watches.append((s.watch(ns + "?watch=true&timeoutSeconds=300" + (marked if k % 2 else ""), timeout=60), k % 2))
        time.sleep(0.02)
    t.join(timeout=120)
    stop.set()
    t.join(timeout=60)
    assert not t.is_alive(), "the writer did not finish"
    assert create("end") == 201, "the last write failed"
    for w, asked in watches:
        events, initial = read_through(w, "end")
        if asked and initial is None:
            raise AssertionError("no initial-events-end bookmark for sendInitialEvents=true")
        check_exact(events, initial, written)
        w.close()
    # Resuming from a version replays exactly what came after it, in order.
    mid = sorted(rv for _, rv in written)[len(written) // 2]
    w = s.watch(ns + "?watch=true&timeoutSeconds=300&resourceVersion=%d" % mid, timeout=60)
    rvs = [rv for _, rv in read_through(w, "end")[0]]
    want = sorted(rv for _, rv in written if rv > mid)
    assert rvs == want, "resumed watch: %d events, want %d (first differences %s)" % (
        len(rvs), len(want), [(a, b) for a, b in zip(rvs, want) if a != b][:3])
    w.close()


def watch_list_modes(s):
    """kube's WatchList: client-go asks for sendInitialEvents with no
    resourceVersion; the initial events end with a bookmark only when
    bookmarks are allowed; sendInitialEvents=false starts with none, from a
    version or from now."""
    ns = "/clusters/root/api/v1/namespaces/default/configmaps"
    st, body, _ = s.request("POST", ns, {"metadata": {"name": "modes"}})
    assert st == 201, (st, body)
    rv = int(body["metadata"]["resourceVersion"])
    match = "&resourceVersionMatch=NotOlderThan"
    cases = [("&sendInitialEvents=true&allowWatchBookmarks=true" + match, True),
             ("&sendInitialEvents=true" + match, True),
             ("&sendInitialEvents=true&allowWatchBookmarks=true&resourceVersion=%d" % rv + match, True),
             ("&sendInitialEvents=false" + match, False),
             ("&sendInitialEvents=false&allowWatchBookmarks=true&resourceVersion=%d" % rv + match, False)]
    for i, (query, initial) in enumerate(cases):
        w = s.watch(ns + "?watch=true&timeoutSeconds=300" + query, timeout=60)
        assert w.status == 200, (query, w.status, w.body)
        # A change after the watch started ends what is read.
        later = "later%d" % i
        assert s.request("POST", ns, {"metadata": {"name": later}})[0] == 201
        events = []
        while not events or events[-1][1] != later:
            e = w.next()
            assert e is not None, (query, events)
            meta = e["object"]["metadata"]
            events.append((e["type"], meta.get("name"), (meta.get("annotations") or {}).get("k8s.io/initial-events-end")))
        w.close()
        shown = [(t, n) for t, n, _ in events if t != "BOOKMARK"]
        ends = [t for t, _, end in events if end == "true"]
        if initial:
            assert ("ADDED", "modes") in shown, (query, events)
            assert ends == (["BOOKMARK"] if "allowWatchBookmarks" in query else []), (query, events)
            # The initial events end before the later change; a periodic
            # bookmark (no annotation) may come anywhere on a slow server.
            if ends:
                end_at = [end for _, _, end in events].index("true")
                before = [(t, n) for t, n, _ in events[:end_at] if t != "BOOKMARK"]
                assert ("ADDED", "modes") in before and ("ADDED", later) not in before, (query, events)
        elif "resourceVersion=" in query:
            # From the version of "modes": every change after it.
            assert shown == [("ADDED", "later%d" % j) for j in range(i + 1)] and not ends, (query, events)
        else:
            assert shown == [("ADDED", later)] and not ends, (query, events)


def too_old(s):
    w = s.watch("/clusters/root/api/v1/namespaces?watch=true&resourceVersion=1")
    e = w.next()
    assert e["type"] == "ERROR" and e["object"]["code"] == 410 and e["object"]["reason"] == "Expired", e
    assert w.next() is None
    w.close()


def rechecks(s):
    """pmesh_watch_access_rechecks_total by scope, from /metrics."""
    st, body, _ = s.request("GET", "/metrics")
    assert st == 200, st
    text = body.decode() if isinstance(body, bytes) else str(body)
    out = {}
    for line in text.splitlines():
        m = re.match(r'pmesh_watch_access_rechecks_total\{scope="(\w+)"\} (\S+)$', line)
        if m:
            out[m.group(1)] = float(m.group(2))
    assert set(out) == {"watch", "object"}, text[-2000:]
    return out


def delta(after, before):
    return {k: after[k] - before[k] for k in after}


def foreign_stores_leave_watches_be(s):
    """What a tenant writes in its organization's store wakes only the
    watches it may change: a watch inside another organization asks nothing
    again, and a watch of organizations decides that one organization
    again, not every one; what it decides is still exact."""
    for name in ("wayne", "stark"):
        assert s.request("POST", ORGS, org(name), user="alice")[0] == 201
    accounts = {}
    for name in ("wayne", "stark"):
        tuples = s.request("POST", "/stores/%s/read" % name, {}, user="alice")[1]["tuples"]
        accounts[name] = next(t["key"]["object"] for t in tuples
                              if t["key"]["relation"] == "owner" and t["key"]["object"].endswith("/" + name))
    bob_in_wayne = {"tuple_keys": member_role(accounts["wayne"], "user:bob")}
    assert s.request("POST", "/stores/wayne/write", {"writes": bob_in_wayne}, user="alice")[0] == 200
    cms = "/clusters/root:orgs:wayne/api/v1/namespaces/default/configmaps"
    assert s.request("POST", cms, {"metadata": {"name": "c1"}, "data": {"k": "v"}}, user="alice")[0] == 201
    inside = s.watch(cms + "?watch=true&timeoutSeconds=30", user="bob")
    assert until(inside, lambda e: e["object"]["metadata"]["name"] == "c1")[-1]["type"] == "ADDED"
    bobs = s.watch(ORGS + "?watch=true&timeoutSeconds=30", user="bob")
    assert until(bobs, lambda e: e["object"]["metadata"]["name"] == "wayne")[-1]["type"] == "ADDED"
    carols = s.watch(ORGS + "?watch=true&timeoutSeconds=30", user="carol")
    everyone = {"tuple_keys": member_role(accounts["stark"], "user:*")}

    def stark_for_everyone(change, event):
        before = rechecks(s)
        assert s.request("POST", "/stores/stark/write", {change: everyone}, user="alice")[0] == 200
        for w in (bobs, carols):
            seen = until(w, lambda e: e["object"]["metadata"]["name"] == "stark")
            assert [e["type"] for e in seen] == [event], seen
        d = delta(rechecks(s), before)
        assert d == {"watch": 0, "object": 2}, d

    # stark's owner lets everyone in (assignee user:*), then takes it back:
    # each watch of organizations decides stark alone; bob's watch in wayne
    # asks nothing.
    stark_for_everyone("writes", "ADDED")
    stark_for_everyone("deletes", "DELETED")
    # bob loses wayne: his watch in it ends, his watch of organizations
    # sees wayne go; carol's asks nothing.
    before = rechecks(s)
    assert s.request("POST", "/stores/wayne/write", {"deletes": bob_in_wayne}, user="alice")[0] == 200
    assert until(inside, lambda e: e["type"] == "DELETED")[-1]["object"]["metadata"]["name"] == "c1"
    assert inside.next() is None, "the watch should end once access is gone"
    gone = until(bobs, lambda e: e["object"]["metadata"]["name"] == "wayne")
    assert [e["type"] for e in gone] == ["DELETED"], gone
    d = delta(rechecks(s), before)
    assert d == {"watch": 1, "object": 1}, d
    for w in (inside, bobs, carols):
        w.close()
    # A watch of organizations that starts while everyone is a member of
    # stark shows it among its initial events (its start decides the
    # organizations whose stores name the user or everyone).
    assert s.request("POST", "/stores/stark/write", {"writes": everyone}, user="alice")[0] == 200
    daves = s.watch(ORGS + "?watch=true&timeoutSeconds=5", user="dave")
    seen = until(daves, lambda e: e["object"]["metadata"]["name"] == "stark")
    assert seen[-1]["type"] == "ADDED", seen
    daves.close()


def main():
    pmesh = sys.argv[1]
    with Server(pmesh, extra=("--watch-history", "50")) as s:
        try:
            owner_sees_deletion(s)
            visibility_follows_access(s)
            rbac_loss_ends_watch(s)
            foreign_stores_leave_watches_be(s)
        except AssertionError as e:
            fail(str(e), s)
    with Server(pmesh) as s:
        try:
            exactly_once(s)
            watch_list_modes(s)
        except AssertionError as e:
            fail(str(e), s)
    with Server(pmesh, extra=("--watch-history", "5")) as s:
        for i in range(20):
            s.request("POST", "/clusters/root/api/v1/namespaces", {"metadata": {"name": "n%d" % i}})
        too_old(s)
    print("watch e2e: ok")


if __name__ == "__main__":
    main()
