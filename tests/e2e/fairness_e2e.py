#!/usr/bin/python3
"""No client holds up the others: connections that send half a request and
stall, a watcher that never reads while megabytes of events pile up for it,
and many connections at once — meanwhile every other request and watch is
served, and the watcher that does not read is cut off rather than buffered
for without bound.

Usage: fairness_e2e.py PMESH
"""
import os
import socket
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pmesh_server import Server, fail  # noqa: E402

NS = "/clusters/root/api/v1/namespaces/big/configmaps"


def stalled_clients(s):
    """Fifty connections that send half a request and stop."""
    stalled = []
    for _ in range(50):
        c = socket.create_connection(("127.0.0.1", s.port))
        c.sendall(b"POST /clusters/root/api/v1/namespaces HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{")
        stalled.append(c)
    half = socket.create_connection(("127.0.0.1", s.port))
    half.sendall(b"GET /clusters/root/api/v1/namespaces HTTP/1.1\r\nHost: x\r\n")
    stalled.append(half)
    for _ in range(20):
        st, _, _ = s.request("GET", "/clusters/root/api/v1/namespaces", timeout=10)
        if st != 200:
            fail("a request behind stalled clients got %d" % st, s)
    for c in stalled:
        c.close()


def slow_watcher(s):
    """A watcher that never reads: its events pile up past the bound, and the
    server cuts it off; a watcher that reads gets every event."""
    assert s.request("POST", "/clusters/root/api/v1/namespaces", {"metadata": {"name": "big"}})[0] == 201
    lazy = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lazy.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    lazy.connect(("127.0.0.1", s.port))
    lazy.sendall(("GET %s?watch=true HTTP/1.1\r\nHost: x\r\n\r\n" % NS).encode())
    reader = s.watch(NS + "?watch=true&timeoutSeconds=120", timeout=60)
    got = []
    t = threading.Thread(target=lambda: got.extend(reader.events(300)))
    t.start()
    value = "x" * 100000
    for i in range(300):
        st, body, _ = s.request("POST", NS, {"metadata": {"name": "c%d" % i}, "data": {"v": value}}, timeout=30)
        if st != 201:
            fail("create %d with a lazy watcher about: %d %r" % (i, st, body), s)
    t.join(120)
    if len(got) != 300:
        fail("the reading watcher got %d of 300 events" % len(got), s)
    reader.close()
    # The lazy watcher's connection was closed by the server: reading what
    # the kernel holds ends in EOF or a reset, not in a wait.
    lazy.settimeout(30)
    total = 0
    try:
        for _ in range(100000):
            chunk = lazy.recv(1 << 20)
            if not chunk:
                break
            total += len(chunk)
        else:
            fail("the lazy watcher's stream did not end", s)
    except ConnectionResetError:
        pass
    except socket.timeout:
        fail("the lazy watcher's stream is still open after %d bytes: the server buffers for it" % total, s)
    lazy.close()
    if total >= 300 * 100000:
        fail("the lazy watcher was sent everything (%d bytes); it should have been cut off" % total, s)


def many_connections(s):
    """Two hundred connections at once, each answered."""
    results = []

    def one(i):
        st, _, _ = s.request("GET", "/clusters/root/api/v1/namespaces/default/configmaps", timeout=30)
        results.append(st)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(200)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    if results.count(200) != 200:
        fail("of 200 concurrent requests, %d answered 200" % results.count(200), s)


def nice_values(pid):
    """Each thread's nice value (field 19 of /proc/PID/task/TID/stat)."""
    out = {}
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/stat" % (pid, tid)) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        out[int(tid)] = int(fields[16])
    return out


def lists_yield_to_writes(s):
    """Lists are rendered by threads below the engine's priority (nice 10),
    so that on a busy machine writes run first; the engine's thread and
    the connections' threads keep the server's own priority."""
    for i in range(3):
        body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "n%d" % i}, "data": {"k": "v"}}
        st, _, _ = s.request("POST", "/clusters/root/api/v1/namespaces/default/configmaps", body)
        if st != 201:
            fail("creating a ConfigMap got %d" % st, s)
    if s.request("GET", "/clusters/root/api/v1/namespaces/default/configmaps")[0] != 200:
        fail("the list failed", s)
    nice = nice_values(s.proc.pid)
    base = nice.get(s.proc.pid)
    if base is None or base >= 10:
        return  # started already at nice 10 or lower priority: nothing to see
    lowered = [t for t, n in nice.items() if n == 10]
    if not lowered:
        fail("no thread renders lists below the engine's priority: %s" % nice, s)
    if len(lowered) == len(nice):
        fail("threads other than the list renderers were lowered: %s" % nice, s)


def main():
    with Server(sys.argv[1], plain=True) as s:
        stalled_clients(s)
        slow_watcher(s)
        many_connections(s)
        lists_yield_to_writes(s)
        if s.request("GET", "/healthz")[0] != 200:
            fail("the server is not healthy after the load", s)
    print("fairness e2e: ok")


if __name__ == "__main__":
    main()
