#!/usr/bin/python3
"""What a user's list of organizations costs as organizations pile up:
`pmesh serve` (HTTPS, loopback, the test users' tokens) with N
organizations an administrator created and three of alice's; then alice
lists the organizations she sees (access decided organization by
organization, on the engine's thread) and the administrator lists them all
(rendered off it), 30 times each. Medians in ms, and alice's against the
administrator's in the same run.

Usage: bench/org_list.py PMESH [N,N,...]   (default 1000)
"""
import json
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "e2e"))
from pmesh_server import ORGS, Server, create_org, create_orgs  # noqa: E402


def run(pmesh, n):
    with Server(pmesh) as s:
        create_orgs(s, n, "admin")
        failed = []
        for i in range(3):
            create_org(s, failed, "alice-%d" % i, "alice")
        if failed:
            raise SystemExit("creating alice's organizations failed: %s" % failed[:3])
        out = {"orgs": n + 3}
        for who in ("alice", "admin"):
            times, items = [], 0
            for _ in range(30):
                t0 = time.perf_counter()
                st, body, _ = s.request("GET", ORGS, user=who, timeout=60)
                times.append((time.perf_counter() - t0) * 1000)
                if st != 200:
                    raise SystemExit("%s's list: %d" % (who, st))
                items = len(body["items"])
            out[who] = {"items": items, "median_ms": round(statistics.median(times), 2), "min_ms": round(min(times), 2)}
        out["alice_vs_admin"] = round(out["alice"]["median_ms"] / out["admin"]["median_ms"], 3)
        return out


if __name__ == "__main__":
    sizes = [int(x) for x in (sys.argv[2] if len(sys.argv) > 2 else "1000").split(",")]
    print(json.dumps([run(sys.argv[1], n) for n in sizes], indent=2))
