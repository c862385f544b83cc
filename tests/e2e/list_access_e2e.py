#!/usr/bin/python3
"""Lists whose access is decided object by object (the organizations a
user sees in root:orgs) page as every other list does: later pages read
the objects as they were at the first page (kube reads etcd at the first
page's revision), and an Exact list reads the version it names. Whom an
object is shown to is decided at each request, as kube authorizes each:
a page never shows what its requester may not see now, whoever's token it
continues, and a filtered list never counts what it withheld
(remainingItemCount).

Usage: list_access_e2e.py PMESH
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pmesh_server import ORGS, Problems, Server, create_org, member_role  # noqa: E402

problems = Problems()
want = problems.want


def names(body):
    return [i["metadata"]["name"] for i in body.get("items", [])]


def versions_of(items):
    return [(i["metadata"]["name"], i["metadata"]["resourceVersion"]) for i in items]


def pages(s, user, query, token, limit=20):
    """The items of the pages after `token`, and each page's version."""
    items, versions = [], []
    while token and limit:
        limit -= 1
        st, page, _ = s.request("GET", ORGS + "?" + query + "&continue=" + token, user=user)
        want("a later page for %s" % user, st, 200)
        if st != 200:
            break
        items += page["items"]
        versions.append(page["metadata"]["resourceVersion"])
        want("no count of what is withheld", "remainingItemCount" in page["metadata"], False)
        token = page["metadata"].get("continue", "")
    return items, versions


def owner_object(s, user, org_name):
    store = s.request("POST", "/stores/%s/read" % org_name, {}, user=user)[1]
    return next(t["key"]["object"] for t in store["tuples"]
                if t["key"]["relation"] == "owner" and t["key"]["object"].endswith("/" + org_name))


with Server(sys.argv[1]) as s:
    for who, orgs in (("alice", ["al-1", "al-2", "al-3", "al-4", "al-5"]), ("bob", ["bo-1", "bo-2", "bo-3"]), ("admin", ["xx-1"])):
        for o in orgs:
            create_org(s, problems, o, who)
    # bob is a member of alice's a1 and a5.
    grants = {o: {"writes": {"tuple_keys": member_role(owner_object(s, "alice", o), "user:bob")}} for o in ("al-1", "al-5")}
    for o, g in grants.items():
        st, body, _ = s.request("POST", "/stores/%s/write" % o, g, user="alice")
        assert st == 200, (st, body)

    st, whole, _ = s.request("GET", ORGS, user="alice")
    want("alice's organizations", names(whole), ["al-1", "al-2", "al-3", "al-4", "al-5"])
    rv1 = whole["metadata"]["resourceVersion"]
    st, first, _ = s.request("GET", ORGS + "?limit=2", user="alice")
    want("alice's first page", (st, names(first), first["metadata"].get("resourceVersion")), (200, ["al-1", "al-2"], rv1))
    want("a filtered first page counts nothing", "remainingItemCount" in first["metadata"], False)
    token = first["metadata"].get("continue", "")
    want("a first page of a longer list hands out a token", bool(token), True)

    # Between pages: a new organization, an updated one, and one deleted.
    create_org(s, problems, "al-35", "alice")
    st, a3, _ = s.request("GET", ORGS + "/al-3", user="alice")
    a3["metadata"].setdefault("labels", {})["changed"] = "between-pages"
    st, body, _ = s.request("PUT", ORGS + "/al-3", a3, user="alice")
    want("update between pages", st, 200)

    rest, versions = pages(s, "alice", "limit=2", token)
    want("later pages are the list at the first page", [i["metadata"]["name"] for i in rest], ["al-3", "al-4", "al-5"])
    want("later pages' version", set(versions), {rv1})
    got_a3 = next((i for i in rest if i["metadata"]["name"] == "al-3"), {})
    want("an object updated between pages shows as it was", got_a3.get("metadata", {}).get("labels", {}).get("changed"), None)
    want("items (name, version) as a list without pages", versions_of(first["items"] + rest), versions_of(whole["items"]))
    want("items as a list without pages", first["items"] + rest == whole["items"], True)

    st, exact, _ = s.request("GET", ORGS + "?resourceVersion=%s&resourceVersionMatch=Exact" % rv1, user="alice")
    want("an Exact list at the first page's version", (st, exact["metadata"].get("resourceVersion")), (200, rv1))
    want("the Exact list's items", versions_of(exact.get("items", [])), versions_of(whole["items"]))
    want("the Exact list's items, whole", exact.get("items") == whole["items"], True)
    st, now, _ = s.request("GET", ORGS, user="alice")
    want("the current list", names(now), ["al-1", "al-2", "al-3", "al-35", "al-4", "al-5"])

    # bob continues alice's token: his own view of the same snapshot.
    bob_rest, _ = pages(s, "bob", "limit=2", token)
    want("bob continuing alice's token sees what he may", [i["metadata"]["name"] for i in bob_rest], ["al-5", "bo-1", "bo-2", "bo-3"])

    # Access is decided at each page: bob's membership of a5 revoked between his pages.
    st, bob_first, _ = s.request("GET", ORGS + "?limit=1", user="bob")
    want("bob's first page", names(bob_first), ["al-1"])
    st, body, _ = s.request("POST", "/stores/al-5/write", {"deletes": grants["al-5"]["writes"]}, user="alice")
    want("revoking bob's membership", st, 200)
    bob_later, _ = pages(s, "bob", "limit=1", bob_first["metadata"].get("continue", ""))
    want("a page never shows what its requester may no longer see", [i["metadata"]["name"] for i in bob_later], ["bo-1", "bo-2", "bo-3"])

    # Someone who sees nothing: an empty list, no token, nobody's names.
    st, carol, _ = s.request("GET", ORGS + "?limit=1", user="carol")
    want("carol's list", (st, names(carol), carol["metadata"].get("continue")), (200, [], None))
    st, carol_rest, _ = s.request("GET", ORGS + "?limit=1&continue=" + token, user="carol")
    want("carol continuing alice's token", (st, names(carol_rest)), (200, []))

    # Everyone as a member of al-2 (`user:*`, which any owner may write):
    # every user's list shows it. Each user's list is what they may get,
    # organization by organization, whatever tuple grants it.
    everyone = {"tuple_keys": member_role(owner_object(s, "alice", "al-2"), "user:*")}
    st, body, _ = s.request("POST", "/stores/al-2/write", {"writes": everyone}, user="alice")
    want("alice makes everyone a member of al-2", st, 200)
    all_orgs = sorted(names(s.request("GET", ORGS, user="admin")[1]))
    for who in ("alice", "bob", "carol", "dave"):
        gettable = [o for o in all_orgs if s.request("GET", ORGS + "/" + o, user=who)[0] == 200]
        st, listed, _ = s.request("GET", ORGS, user=who)
        want("%s's list is what %s may get" % (who, who), (st, names(listed)), (200, gettable))
        want("%s sees al-2" % who, "al-2" in gettable, True)
    st, body, _ = s.request("POST", "/stores/al-2/write", {"deletes": everyone}, user="alice")
    want("alice takes it back", st, 200)
    st, carol, _ = s.request("GET", ORGS, user="carol")
    want("carol's list without it", names(carol), [])

    # Past one slice of decisions (256 objects: they are made on the
    # engine's thread a slice at a time, writes running between): 700 more
    # organizations, every third carol's, the rest dave's. Each one's list,
    # whole and in pages of 7, is what they own, in order and once, also
    # with a write between its pages; carol's with a label selector, too.
    mine = {"carol": [], "dave": []}
    for i in range(700):
        who = "carol" if i % 3 == 0 else "dave"
        name = "m-%03d" % i
        create_org(s, problems, name, who)
        mine[who].append(name)
    for who in ("carol", "dave"):
        st, whole, _ = s.request("GET", ORGS, user=who)
        want("%s's many organizations" % who, (st, names(whole)), (200, mine[who]))
        st, first, _ = s.request("GET", ORGS + "?limit=7", user=who)
        want("%s's first page of 7" % who, names(first), mine[who][:7])
        create_org(s, problems, "m-zz-" + who, who)  # after her last, so not in these pages
        rest, _ = pages(s, who, "limit=7", first["metadata"].get("continue", ""), limit=200)
        want("%s's pages of 7 are the list" % who, names(first) + [i["metadata"]["name"] for i in rest], mine[who])
    st, o, _ = s.request("GET", ORGS + "/m-003", user="carol")
    o["metadata"].setdefault("labels", {})["tier"] = "gold"
    want("carol labels m-003", s.request("PUT", ORGS + "/m-003", o, user="carol")[0], 200)
    st, gold, _ = s.request("GET", ORGS + "?labelSelector=tier%3Dgold&limit=1", user="carol")
    want("carol's gold organizations, past every slice", (st, names(gold), gold["metadata"].get("continue")), (200, ["m-003"], None))
    st, gold, _ = s.request("GET", ORGS + "?labelSelector=tier%3Dgold", user="dave")
    want("dave sees none of carol's", (st, names(gold)), (200, []))

problems.report("lists filtered object by object page consistently, with access decided at each request")
