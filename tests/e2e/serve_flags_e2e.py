#!/usr/bin/python3
"""`pmesh serve`'s numeric flags: a value that is not a whole number of 0
or more is refused before anything starts (exit 2, the usage), and a
server whose objects go cold after one transaction (`--cold-after 1`)
serves them as written, through reads, updates and a restart. Its
threads are named for what they do.

Usage: serve_flags_e2e.py PMESH
"""
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pmesh_server import Problems, Server  # noqa: E402

problems = Problems()
want = problems.want
pmesh = sys.argv[1]

with tempfile.TemporaryDirectory() as tmp:
    for flag, value in (("--cold-after", "abc"), ("--cold-after", "-1"), ("--cold-after", "99999999999"),
                        ("--cold-after", "1x"), ("--watch-history", "12abc"), ("--watch-history", "-5")):
        p = subprocess.run([pmesh, "serve", "--data-dir", os.path.join(tmp, "refused"), "--listen", "127.0.0.1:0", flag, value],
                           capture_output=True, text=True, timeout=30)
        want("%s %s: exit code" % (flag, value), p.returncode, 2)
        want("%s %s: says why" % (flag, value), "%s takes a whole number, 0 or more" % flag in p.stderr, True)
    want("nothing started for a refused flag", os.path.exists(os.path.join(tmp, "refused", "store")), False)

CMS = "/clusters/root/api/v1/namespaces/default/configmaps"
data = tempfile.mkdtemp()
made = {}
with Server(pmesh, data=data, extra=("--cold-after", "1")) as s:
    for i in range(6):
        st, body, _ = s.request("POST", CMS, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm-%d" % i, "labels": {"i": str(i)}},
                                              "data": {"k": "v" * (i + 1), "nested": '{"a": [1, 2, 3]}'}})
        want("create cm-%d" % i, st, 201)
        made[body["metadata"]["name"]] = body
    # Every one but the last has seen a transaction after its own: held cold.
    for name, body in made.items():
        st, got, _ = s.request("GET", CMS + "/" + name)
        want("%s read back as written" % name, (st, got), (200, body))
    st, listed, _ = s.request("GET", CMS)
    want("the list", [i for i in listed["items"] if i["metadata"]["name"] in made], list(made.values()))
    cold = dict(made["cm-0"], data={"k": "changed"})
    st, updated, _ = s.request("PUT", CMS + "/cm-0", cold)
    want("an update of a cold object", (st, updated.get("data")), (200, {"k": "changed"}))
    made["cm-0"] = updated
    # Each thread says what it is (top -H, perf, gdb): the main thread, the
    # engine's, keeps the program's name; after a write and a list the
    # transport's, the group commit's and a reader's have run.
    names = []
    for tid in os.listdir("/proc/%d/task" % s.proc.pid):
        try:
            with open("/proc/%d/task/%s/comm" % (s.proc.pid, tid)) as f:
                names.append(f.read().strip())
        except OSError:
            pass  # a thread that ended meanwhile
    with open("/proc/%d/comm" % s.proc.pid) as f:
        want("the main thread's name", f.read().strip(), "pmesh")
    for name in ("pmesh-io", "pmesh-commit", "pmesh-reader", "pmesh-log"):
        want("a thread named %s" % name, name in names, True)
with Server(pmesh, data=data, extra=("--cold-after", "0")) as s:
    for name, body in made.items():
        st, got, _ = s.request("GET", CMS + "/" + name)
        want("%s after a restart" % name, (st, got), (200, body))

shutil.rmtree(data, ignore_errors=True)
problems.report("serve's numeric flags are checked; objects held cold after one transaction read back as written")
