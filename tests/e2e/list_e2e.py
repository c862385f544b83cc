"""Lists as kube-apiserver gives them, now rendered off the engine's thread
from snapshots: pages (limit and continue) that add up to the whole list,
label and field selectors, one namespace or all, a watch's initial state
equal to the list, a write visible to the
next list as soon as it is answered, and, while one writer creates objects
in order, every list a consistent cut: never an object without the ones
created before it. Pages read the collection as it was at the first page
(kube reads etcd at the first page's revision), and so does an Exact list
at a version; a version no retained view holds is 410 Expired, with kube's
token to go on at the current state for a page."""
import base64
import gzip
import json
import os
import sys
import threading

sys.path.insert(0, os.path.dirname(__file__))
from pmesh_server import Problems, Server  # noqa: E402

problems = Problems()
want = problems.want


def names(body):
    return [i["metadata"]["name"] for i in body["items"]]


def same_items(what, got, expected):
    """Reports the first item where two lists differ, not both lists."""
    if got == expected:
        return
    for i, (g, e) in enumerate(zip(got, expected)):
        if g != e:
            problems.append("%s: item %d is %s, want %s" % (what, i, json.dumps(g)[:300], json.dumps(e)[:300]))
            return
    problems.append("%s: %d items, want %d" % (what, len(got), len(expected)))


def raw_get(s, path, accept_encoding=None):
    """(status, lower-cased headers, body bytes as sent) of a GET."""
    c = s.connection()
    h = s.headers_for("admin", {"Accept-Encoding": accept_encoding} if accept_encoding is not None else {})
    c.request("GET", path, headers=h)
    r = c.getresponse()
    data = r.read()
    hdrs = {k.lower(): v for k, v in r.getheaders()}
    c.close()
    return r.status, hdrs, data


with Server(sys.argv[1]) as s:
    for ns in ("a", "b"):
        s.request("POST", "/clusters/root/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
    base = "/clusters/root/api/v1/namespaces/%s/configmaps"
    made = {"a": [], "b": []}
    for i in range(700):
        ns = "a" if i % 3 else "b"
        name = "cm-%04d" % i
        st, _, _ = s.request("POST", base % ns, {"apiVersion": "v1", "kind": "ConfigMap",
                                                 "metadata": {"name": name, "labels": {"tier": "gold" if i % 5 == 0 else "iron"}},
                                                 "data": {"i": str(i)}})
        want("create", st, 201)
        made[ns].append(name)
    # The first list of the collection makes its snapshot; the rest follow commits.
    st, whole, _ = s.request("GET", base % "a")
    want("list a", names(whole), sorted(made["a"]))
    st, everywhere, _ = s.request("GET", "/clusters/root/api/v1/configmaps")
    want("list every namespace", sorted(n for n in names(everywhere) if n.startswith("cm-")), sorted(made["a"] + made["b"]))

    # Pages add up to the list.
    pages, token, rounds = [], "", 0
    while rounds < 100:
        rounds += 1
        st, page, _ = s.request("GET", base % "a" + "?limit=50" + ("&continue=" + token if token else ""))
        want("a page", st, 200)
        pages += names(page)
        token = page["metadata"].get("continue", "")
        if not token:
            break
    want("pages", pages, sorted(made["a"]))

    # Selectors.
    st, gold, _ = s.request("GET", base % "a" + "?labelSelector=tier%3Dgold")
    want("label selector", names(gold), sorted(n for n in made["a"] if int(n[3:]) % 5 == 0))
    st, one, _ = s.request("GET", base % "b" + "?fieldSelector=metadata.name%3Dcm-0000")
    want("field selector", names(one), ["cm-0000"])
    st, paged_gold, _ = s.request("GET", base % "a" + "?labelSelector=tier%3Dgold&limit=7")
    want("selector and limit", len(paged_gold["items"]), 7)

    # A watch with no resource version starts with the state, read from the
    # same snapshot: its ADDED objects are the list's, selector applied.
    w = s.watch(base % "a" + "?watch=true&labelSelector=tier%3Dgold")
    gold_items = {i["metadata"]["name"]: i for i in gold["items"]}
    added = [w.next() for _ in range(len(gold_items))]
    w.close()
    want("a watch's initial state", [(e["type"], e["object"]) for e in added],
         [("ADDED", gold_items[n]) for n in sorted(gold_items)])

    # A write is in the next list; a delete is gone from it.
    st, _, _ = s.request("PUT", (base % "a") + "/cm-0001", dict(whole["items"][0], data={"i": "changed"}, metadata=dict(whole["items"][0]["metadata"], name="cm-0001")))
    st, cm, _ = s.request("GET", (base % "a") + "/cm-0001")
    st, again, _ = s.request("GET", base % "a")
    got = [i for i in again["items"] if i["metadata"]["name"] == "cm-0001"]
    want("an update in the next list", got[0]["data"] if got else None, cm.get("data"))
    want("the list's item is the object as get shows it", got[0] if got else None, cm)
    st, _, _ = s.request("DELETE", (base % "a") + "/cm-0002")
    st, after_delete, _ = s.request("GET", base % "a")
    if "cm-0002" in names(after_delete):
        problems.append("a deleted object is still listed")

    # Pages read the collection at the first page's version, whatever is
    # written between them.
    st, before, _ = s.request("GET", base % "a")
    rv1 = before["metadata"]["resourceVersion"]
    st, page, _ = s.request("GET", base % "a" + "?limit=100")
    want("first page's version", page["metadata"]["resourceVersion"], rv1)
    first_token = page["metadata"].get("continue", "")
    paged = list(page["items"])
    late = [n for n in names(before) if n > names(page)[-1]]
    st, made_late, _ = s.request("POST", base % "a", {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm-zzzz"}})
    want("create between pages", st, 201)
    mid = made_late["metadata"]["resourceVersion"]
    st, _, _ = s.request("DELETE", (base % "a") + "/" + late[-1])
    want("delete between pages", st, 200)
    st, victim, _ = s.request("GET", (base % "a") + "/" + late[0])
    st, _, _ = s.request("PUT", (base % "a") + "/" + late[0], dict(victim, data={"i": "changed between pages"}))
    want("update between pages", st, 200)
    st, _, _ = s.request("DELETE", (base % "a") + "/" + names(page)[0])
    want("delete of a listed object between pages", st, 200)
    token, rounds = first_token, 0
    while token and rounds < 100:
        rounds += 1
        st, page, _ = s.request("GET", base % "a" + "?limit=100&continue=" + token)
        want("a later page", st, 200)
        want("a later page's version", page["metadata"].get("resourceVersion"), rv1)
        paged += page.get("items", [])
        token = page.get("metadata", {}).get("continue", "")
    same_items("pages are the list at the first page", paged, before["items"])
    st, again, _ = s.request("GET", base % "a" + "?limit=100&continue=" + first_token)
    want("a page read twice", names(again), names(before)[100:200])

    # An Exact list reads the version it names; so does a version with a
    # limit and no match (kube's legacy paging).
    st, exact, _ = s.request("GET", base % "a" + "?resourceVersion=%s&resourceVersionMatch=Exact" % rv1)
    want("Exact list", (st, exact.get("metadata", {}).get("resourceVersion")), (200, rv1))
    same_items("Exact list", exact.get("items", []), before["items"])
    st, legacy, _ = s.request("GET", base % "a" + "?resourceVersion=%s&limit=1000" % rv1)
    want("a version with a limit", st, 200)
    same_items("a version with a limit", legacy.get("items", []), before["items"])
    st, now, _ = s.request("GET", base % "a")
    st, exact_now, _ = s.request("GET", base % "a" + "?resourceVersion=%s&resourceVersionMatch=Exact" % now["metadata"]["resourceVersion"])
    want("Exact list at the current version", st, 200)
    same_items("Exact list at the current version", exact_now.get("items", []), now["items"])
    # A version between the writes: no view holds it.
    st, gone, _ = s.request("GET", base % "a" + "?resourceVersion=%s&resourceVersionMatch=Exact" % mid)
    want("Exact list at a version not held", (st, gone.get("reason"), gone.get("message")),
         (410, "Expired", "The resourceVersion for the provided list is too old."))
    stale = base64.urlsafe_b64encode(json.dumps({"v": "meta.k8s.io/v1", "rv": mid, "start": ""}).encode()).decode().rstrip("=")
    st, gone, _ = s.request("GET", base % "a" + "?limit=100&continue=" + stale)
    want("a page at a version not held", (st, gone.get("reason")), (410, "Expired"))
    want("the inconsistent-continue message", gone.get("message", "").startswith("The provided continue parameter is too old"), True)
    token, rest, rounds = gone.get("metadata", {}).get("continue", ""), [], 0
    while token and rounds < 100:
        rounds += 1
        st, page, _ = s.request("GET", base % "a" + "?limit=100&continue=" + token)
        want("a page at the current state", st, 200)
        rest += names(page)
        token = page["metadata"].get("continue", "")
    want("kube's token goes on at the current state", rest == names(now), True)
    bad = base64.urlsafe_b64encode(json.dumps({"v": "meta.k8s.io/v1", "rv": str(int(now["metadata"]["resourceVersion"]) + 1000), "start": ""}).encode()).decode().rstrip("=")
    st, _, _ = s.request("GET", base % "a" + "?limit=100&continue=" + bad)
    want("a token from the future", st, 400)

    # One writer creates w-0000, w-0001, ... in order; every list taken
    # meanwhile holds a prefix of them.
    stop = threading.Event()
    cuts = []

    def lister():
        while not stop.is_set() and len(cuts) < 400:
            st, body, _ = s.request("GET", base % "b")
            if st == 200:
                cuts.append([n for n in names(body) if n.startswith("w-")])

    readers = [threading.Thread(target=lister) for _ in range(3)]
    for t in readers:
        t.start()
    for i in range(300):
        st, _, _ = s.request("POST", base % "b", {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "w-%04d" % i}})
        want("ordered create", st, 201)
    stop.set()
    for t in readers:
        t.join(30)
    for c in cuts:
        if c != ["w-%04d" % i for i in range(len(c))]:
            problems.append("a list that is not a consistent cut: %s" % c[:5])
            break
    if not cuts:
        problems.append("no list ran during the writes")
    st, final, _ = s.request("GET", base % "b")
    want("all ordered creates listed", len([n for n in names(final) if n.startswith("w-")]), 300)

    # Large answers are gzipped as kube-apiserver sends them
    # (APIResponseCompression): above 128 KiB, when the request's
    # Accept-Encoding names gzip (client-go always does), with Vary; the
    # same JSON once inflated. Smaller answers, and clients that do not
    # ask, get the body as it is; kube reads the header's tokens exactly,
    # so `gzip;q=0.5` does not ask.
    every = "/clusters/root/api/v1/configmaps"
    st, h, plain = raw_get(s, every)
    want("an identity list", (st, h.get("content-encoding"), len(plain) > 128 * 1024), (200, None, True))
    for enc in ("gzip", "deflate, gzip", " br , gzip"):
        st, h, packed = raw_get(s, every, enc)
        want("a list asked gzipped (%s)" % enc, (st, h.get("content-encoding"), h.get("vary")), (200, "gzip", "Accept-Encoding"))
        want("a gzipped list is a fifth of the bytes or less", len(packed) * 5 < len(plain), True)
        try:
            want("a gzipped list is the list", json.loads(gzip.decompress(packed)), json.loads(plain))
        except (OSError, ValueError) as e:
            problems.append("a gzipped list does not inflate: %s" % e)
    for enc in ("gzip;q=0.5", "GZIP", "deflate", ""):
        st, h, body = raw_get(s, every, enc)
        want("not gzipped for %r" % enc, (st, h.get("content-encoding"), body == plain), (200, None, True))
    st, h, body = raw_get(s, every + "?limit=3", "gzip")
    want("a small page goes as it is", (st, h.get("content-encoding"), len(json.loads(body)["items"])), (200, None, 3))
    st, h, body = raw_get(s, (base % "b") + "/cm-0000", "gzip")
    want("a small get goes as it is", (st, h.get("content-encoding"), json.loads(body)["metadata"]["name"]), (200, None, "cm-0000"))
    # A Table's rows too (kubectl's `get`), rendered where the list is.
    c = s.connection()
    c.request("GET", every, headers=s.headers_for("admin", {"Accept-Encoding": "gzip", "Accept": "application/json;as=Table;v=v1;g=meta.k8s.io"}))
    r = c.getresponse()
    data = r.read()
    enc = r.getheader("Content-Encoding")
    c.close()
    try:
        rows = len(json.loads(gzip.decompress(data) if enc == "gzip" else data)["rows"])
    except (OSError, ValueError, KeyError):
        rows = -1
    want("a Table of the list", (r.status, rows), (200, len(json.loads(plain)["items"])))
    # A watch's stream is not compressed (nor is kube's).
    c = s.connection()
    c.request("GET", every + "?watch=true&timeoutSeconds=1", headers=s.headers_for("admin", {"Accept-Encoding": "gzip"}))
    r = c.getresponse()
    first = r.readline()
    want("a watch asked gzipped", (r.status, r.getheader("Content-Encoding")), (200, None))
    try:
        want("a watch's first event", json.loads(first).get("type"), "ADDED")
    except ValueError:
        problems.append("a watch's first line is not JSON: %r" % first[:80])
    c.close()
    # A watch's initial events go out in chunks of about a MiB: events
    # larger than that in all (five of 300 KiB) arrive whole, in order.
    s.request("POST", "/clusters/root/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "big"}})
    blobs = {"big-%d" % i: ("%d" % i) * (300 * 1024) for i in range(5)}
    for name, blob in blobs.items():
        st, _, _ = s.request("POST", base % "big", {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"blob": blob}})
        want("a large configmap", st, 201)
    w = s.watch(base % "big" + "?watch=true&timeoutSeconds=5", timeout=30)
    got = [w.next() for _ in blobs]
    w.close()
    seen = []
    for e in got:
        o = (e or {}).get("object", {})
        name = o.get("metadata", {}).get("name")
        seen.append(((e or {}).get("type"), name, o.get("data", {}).get("blob") == blobs.get(name)))
    want("large initial events, whole and in order", seen, [("ADDED", n, True) for n in sorted(blobs)])

problems.report("lists: ok")
