#!/usr/bin/python3
"""How an APIExport create costs as APIBindings pile up: `pmesh serve`
(plain HTTP, loopback) with N bindings of other exports in root, then 40
export creates; the median at each N, and its ratio to the smallest N in
the same run. A change of an export should find its bindings by lookup,
not read them all (issue 12).

Usage: bench/bindings_bench.py PMESH [N,N,...]   (default 100,3000)
"""
import http.client
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time


def run(pmesh, n):
    work = tempfile.mkdtemp()
    p = subprocess.Popen([pmesh, "serve", "--data-dir", work + "/d", "--listen", "127.0.0.1:0", "--plain-http"],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        port = None
        deadline = time.time() + 15
        while port is None and time.time() < deadline:
            line = p.stdout.readline()
            if "kubeconfig written to" in line:
                kc = open(line.strip().split("kubeconfig written to ")[1]).read()
                port = int(kc.split("server: http://127.0.0.1:")[1].split("/")[0])
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

        def post(path, body):
            c.request("POST", "/clusters/root/apis/apis.kcp.io/v1alpha1/" + path, json.dumps(body), {"Content-Type": "application/json"})
            r = c.getresponse()
            data = r.read()
            if r.status != 201:
                raise SystemExit("%s: %d %s" % (path, r.status, data[:200]))

        for i in range(n):
            post("apibindings", {"apiVersion": "apis.kcp.io/v1alpha1", "kind": "APIBinding", "metadata": {"name": "b%d" % i},
                                 "spec": {"reference": {"export": {"name": "other%d" % i}}}})
        times = []
        for i in range(40):
            t = time.perf_counter()
            post("apiexports", {"apiVersion": "apis.kcp.io/v1alpha1", "kind": "APIExport", "metadata": {"name": "e%d" % i},
                                "spec": {"latestResourceSchemas": []}})
            times.append((time.perf_counter() - t) * 1000)
        return statistics.median(times)
    finally:
        p.terminate()
        p.wait(timeout=15)
        shutil.rmtree(work, ignore_errors=True)


sizes = [int(x) for x in (sys.argv[2] if len(sys.argv) > 2 else "100,3000").split(",")]
rows = [{"bindings": n, "export_create_median_ms": round(run(sys.argv[1], n), 3)} for n in sizes]
for r in rows:
    r["vs_smallest"] = round(r["export_create_median_ms"] / rows[0]["export_create_median_ms"], 2)
print(json.dumps(rows, indent=2))
