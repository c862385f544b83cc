#!/usr/bin/python3
"""What watches of organizations cost the writers: `pmesh serve` (HTTPS,
loopback, the test users' tokens) with N organizations the administrator
created and one of alice's; then an administrator's ConfigMap creates on
one connection for a few seconds each,
  - alone;
  - while alice writes and deletes a `user:*` tuple in her organization's
    store on another connection, with four users' watches of organizations
    open (each write may change whom her organization shows to);
  - while four users start watches of organizations over and over (initial
    events, ended by the initial-events-end bookmark);
  - while four users resume watches of organizations from a list's
    resource version over and over (each kept 0.2 s).
Each user sees none of the administrator's organizations, so each start
asks about all N. Creates a second, p50 and p99 in ms, and the rate
against the rate alone, in one run.

Usage: bench/org_watch.py PMESH [N] [SECONDS]   (default 2000, 4)
"""
import json
import os
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "e2e"))
from pmesh_server import ORGS, Server, create_org, create_orgs, member_role  # noqa: E402

USERS = ("bob", "carol", "dave", "bob")
INITIAL = "?watch=true&sendInitialEvents=true&allowWatchBookmarks=true&resourceVersionMatch=NotOlderThan&timeoutSeconds=60"


def creates_while(s, label, seconds, others):
    """The administrator's creates for `seconds` while each of `others` (a
    function of the deadline) runs on a thread of its own."""
    stop = time.time() + seconds
    latencies, side = [], []

    def create():
        i = 0
        while time.time() < stop:
            t0 = time.perf_counter()
            st = s.request("POST", "/clusters/root/api/v1/namespaces/default/configmaps", {"metadata": {"name": "%s-%d" % (label, i)}})[0]
            if st != 201:
                raise SystemExit("create: %d" % st)
            latencies.append((time.perf_counter() - t0) * 1000)
            i += 1

    threads = [threading.Thread(target=create)] + [threading.Thread(target=lambda f=f: side.append(f(stop))) for f in others]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    latencies.sort()
    return {"creates_per_s": round(len(latencies) / seconds, 1), "p50_ms": round(latencies[len(latencies) // 2], 2),
            "p99_ms": round(latencies[int(len(latencies) * 0.99)], 2), "side_per_s": round(sum(side) / seconds, 1)}


def run(pmesh, n, seconds):
    with Server(pmesh) as s:
        create_orgs(s, n, "admin")
        failed = []
        create_org(s, failed, "alices", "alice")
        if failed:
            raise SystemExit("creating organizations failed: %s" % failed[:3])
        tuples = s.request("POST", "/stores/alices/read", {}, user="alice")[1]["tuples"]
        account = next(t["key"]["object"] for t in tuples if t["key"]["relation"] == "owner" and t["key"]["object"].endswith("/alices"))
        everyone = {"tuple_keys": member_role(account, "user:*")}
        written = [False]

        def tuple_writes(stop):
            done = 0
            while time.time() < stop:
                change = "deletes" if written[0] else "writes"
                st = s.request("POST", "/stores/alices/write", {change: everyone}, user="alice")[0]
                if st != 200:
                    raise SystemExit("tuple write: %d" % st)
                written[0] = not written[0]
                done += 1
            return done

        def starts(user):
            def loop(stop):
                done = 0
                while time.time() < stop:
                    w = s.watch(ORGS + INITIAL, user=user, timeout=60)
                    for _ in range(n + 10):
                        e = w.next()
                        if e is None or e["type"] == "BOOKMARK" and "k8s.io/initial-events-end" in e["object"]["metadata"].get("annotations", {}):
                            break
                    w.close()
                    done += 1
                return done
            return loop

        def resumes(user):
            def loop(stop):
                done = 0
                while time.time() < stop:
                    rv = s.request("GET", ORGS + "?limit=1", user=user, timeout=60)[1]["metadata"]["resourceVersion"]
                    w = s.watch(ORGS + "?watch=true&timeoutSeconds=60&resourceVersion=" + rv, user=user, timeout=60)
                    time.sleep(0.2)
                    w.close()
                    done += 1
                return done
            return loop

        out = {"orgs": n + 1, "alone": creates_while(s, "alone", seconds, [])}
        watches = [s.watch(ORGS + "?watch=true&timeoutSeconds=600", user=u, timeout=600) for u in USERS]

        def drain(w):
            try:
                while w.next() is not None:
                    pass
            except Exception:  # closed at the end
                pass

        for w in watches:
            threading.Thread(target=drain, args=(w,), daemon=True).start()
        out["tuple_writes_with_4_watches"] = creates_while(s, "tuples", seconds, [tuple_writes])
        for w in watches:
            w.close()
        out["4_watch_starts"] = creates_while(s, "starts", seconds, [starts(u) for u in USERS])
        out["4_watch_resumes"] = creates_while(s, "resumes", seconds, [resumes(u) for u in USERS])
        for k in ("tuple_writes_with_4_watches", "4_watch_starts", "4_watch_resumes"):
            out[k]["vs_alone"] = round(out[k]["creates_per_s"] / out["alone"]["creates_per_s"], 3)
        return out


if __name__ == "__main__":
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 2000
    seconds = float(sys.argv[3]) if len(sys.argv) > 3 else 4
    print(json.dumps(run(sys.argv[1], n, seconds), indent=2))
