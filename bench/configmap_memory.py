#!/usr/bin/python3
"""What a stored ConfigMap costs in resident memory: `pmesh serve` (plain
HTTP, loopback) takes N ConfigMaps of about 2 KB of data each in root's
default namespace, one create at a time; then it is stopped and started
again on the same data directory. Reports the server's RSS before and
after the creates, the KiB per ConfigMap, and the RSS and time to a first
list of all of them after the restart. Once 256 commits have passed over
them, objects are held as their CBOR (engine/cold_objects.cc): the
earliest N - 256 here.

Usage: bench/configmap_memory.py PMESH [N]   (default 3000)
"""
import http.client
import json
import shutil
import subprocess
import sys
import tempfile
import time


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise SystemExit("no VmRSS for %d" % pid)


def start(pmesh, data):
    p = subprocess.Popen([pmesh, "serve", "--data-dir", data, "--listen", "127.0.0.1:0", "--plain-http"],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    deadline = time.time() + 60
    while time.time() < deadline:
        line = p.stdout.readline()
        if not line and p.poll() is not None:
            break
        if "kubeconfig written to" in line:
            kc = open(line.strip().split("kubeconfig written to ")[1]).read()
            return p, int(kc.split("server: http://127.0.0.1:")[1].split("/")[0])
    p.kill()
    p.wait(timeout=15)
    raise SystemExit("pmesh serve did not start")


def stop(p):
    p.terminate()
    p.wait(timeout=30)


def run(pmesh, n):
    work = tempfile.mkdtemp()
    p = None
    try:
        p, port = start(pmesh, work + "/d")
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        path = "/clusters/root/api/v1/namespaces/default/configmaps"

        def request(method, body=None):
            c.request(method, path, json.dumps(body) if body is not None else None, {"Content-Type": "application/json"})
            r = c.getresponse()
            return r.status, r.read()

        before = rss_kib(p.pid)
        data = {"key%d" % i: ("value-%d-" % i) * 12 for i in range(24)}
        t = time.perf_counter()
        for i in range(n):
            status, body = request("POST", {"apiVersion": "v1", "kind": "ConfigMap",
                                            "metadata": {"name": "cm-%d" % i, "labels": {"i": str(i)}}, "data": data})
            if status != 201:
                raise SystemExit("create %d: %d %s" % (i, status, body[:200]))
        seconds = time.perf_counter() - t
        after = rss_kib(p.pid)
        stop(p)
        t = time.perf_counter()
        p, port = start(pmesh, work + "/d")
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        status, body = request("GET")
        if status != 200 or len(json.loads(body)["items"]) != n:
            raise SystemExit("list after the restart: %d" % status)
        return {"configmaps": n, "rss_before_mib": before // 1024, "rss_after_mib": after // 1024,
                "kib_per_configmap": round((after - before) / n, 2), "creates_per_second": round(n / seconds),
                "restart_to_first_list_s": round(time.perf_counter() - t, 2),
                "rss_after_restart_and_list_mib": rss_kib(p.pid) // 1024}
    finally:
        if p is not None and p.poll() is None:
            stop(p)
        shutil.rmtree(work, ignore_errors=True)


print(json.dumps(run(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 3000), indent=2))
