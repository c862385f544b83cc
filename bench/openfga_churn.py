#!/usr/bin/python3
"""What OpenFGA writes leave behind in `pmesh serve`: with a data directory
(HTTPS, loopback; tests/e2e/pmesh_server.py), one store, one tuple written
and deleted N times through the OpenFGA API, each a change in the store's
changelog. Reports the server's own memory (RssAnon) after the writes less
before them, and the time of a ReadChanges page (100 changes) at the start
of the changelog and at its end, reached by following the tokens.

Usage: bench/openfga_churn.py PMESH [N]   (default 3000: 6,000 writes)
"""
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "e2e"))
from pmesh_server import Server  # noqa: E402

MODEL = {"schema_version": "1.1", "type_definitions": [
    {"type": "user"},
    {"type": "doc", "relations": {"viewer": {"this": {}}},
     "metadata": {"relations": {"viewer": {"directly_related_user_types": [{"type": "user"}]}}}}]}


def own_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("RssAnon:"):
                return int(line.split()[1])
    return 0


def main():
    pmesh, n = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 3000
    with Server(pmesh) as s:
        def fga(method, path, body=None):
            st, out = s.request(method, path, body, user="alice")[:2]
            if st not in (200, 201):
                sys.exit("openfga_churn: %s %s: %s %s" % (method, path, st, out))
            return out
        base = "/stores/" + fga("POST", "/stores", {"name": "churn"})["id"]
        fga("POST", base + "/authorization-models", MODEL)

        def tuple_key(i):
            return {"user": "user:u%d" % i, "relation": "viewer", "object": "doc:1"}

        def churn(count):
            for i in range(count):
                fga("POST", base + "/write", {"writes": {"tuple_keys": [tuple_key(i)]}})
                fga("POST", base + "/write", {"deletes": {"tuple_keys": [tuple_key(i)]}})
        churn(min(n, 200))  # what the first writes grow once
        time.sleep(0.5)
        before = own_kib(s.proc.pid)
        started = time.time()
        churn(n)
        seconds = time.time() - started
        time.sleep(0.5)
        grown = own_kib(s.proc.pid) - before
        t = time.time()
        page = fga("GET", base + "/changes?page_size=100")
        first_ms = (time.time() - t) * 1000
        changes, pages, last_ms = len(page["changes"]), 1, first_ms
        token = page["continuation_token"]
        while token and page["changes"] and pages < 1000000:
            t = time.time()
            page = fga("GET", base + "/changes?page_size=100&continuation_token=" + token)
            last_ms = (time.time() - t) * 1000
            pages += 1
            changes += len(page["changes"])
            token = page["continuation_token"]
        if changes != 2 * (n + min(n, 200)):
            sys.exit("openfga_churn: %d changes listed, want %d" % (changes, 2 * (n + min(n, 200))))
        print(json.dumps({"writes": 2 * n, "seconds": round(seconds, 1), "own_kib_grown": grown,
                          "bytes_per_write": round(grown * 1024 / (2 * n)), "changes": changes, "pages": pages,
                          "first_page_ms": round(first_ms, 2), "last_page_ms": round(last_ms, 2)}, indent=2))


main()
