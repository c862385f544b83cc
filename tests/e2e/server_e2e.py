#!/usr/bin/python3
"""`pmesh serve` on bad input and on crashes.

Bad input: every case gets the right metav1.Status and leaves the store as
it was. Durability: creates under load, the server killed with SIGKILL, a
restart on the same data directory: every create that was answered 201 is
there, `pmesh verify` passes, and a watch resumes from the last version seen.

Usage: server_e2e.py PMESH POLICIES (rules that derive from Accounts)
"""
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time


class Server:
    def __init__(self, pmesh, data, policies=None):
        self.pmesh, self.data = pmesh, data
        log = open(os.path.join(os.path.dirname(data), "serve.log"), "a")
        # Raw HTTP/1.1 over plain TCP: what this test pins is the API's
        # behavior, not authentication (auth_e2e.sh, oidc_e2e.py).
        flags = ["--plain-http"] + (["--policies", policies] if policies else [])
        self.proc = subprocess.Popen([pmesh, "serve", "--data-dir", data, "--listen", "127.0.0.1:0", *flags],
                                     stdout=subprocess.PIPE, stderr=log, text=True)
        deadline = time.time() + 10
        while time.time() < deadline:
            line = self.proc.stdout.readline()
            if "kubeconfig written to" in line:
                kc = open(line.strip().split("kubeconfig written to ")[1]).read()
                self.port = int(kc.split("server: http://127.0.0.1:")[1].split("/")[0])
                return
            if self.proc.poll() is not None:
                break
        self.proc.kill()
        raise SystemExit("FAIL: the server did not start")

    def request(self, method, path, body=None, content_type="application/json", timeout=10):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        headers = {"Content-Type": content_type} if body is not None else {}
        if isinstance(body, (dict, list)):
            body = json.dumps(body)
        c.request(method, path, body=body, headers=headers)
        r = c.getresponse()
        data = r.read()
        c.close()
        try:
            return r.status, json.loads(data)
        except ValueError:
            return r.status, data

    def stop(self, sig=signal.SIGTERM):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


ACCOUNTS = "/clusters/root/apis/core.platform-mesh.io/v1alpha1/accounts"
# Organizations, under the default policies (accounts.rules admits type org only in root:orgs).
ORGS = "/clusters/root:orgs/apis/core.platform-mesh.io/v1alpha1/accounts"


def account(name, **spec):
    return {"apiVersion": "core.platform-mesh.io/v1alpha1", "kind": "Account", "metadata": {"name": name}, "spec": spec}


def expect_status(result, code, reason, what):
    status, body = result
    if status != code or not isinstance(body, dict) or body.get("kind") != "Status" or body.get("reason") != reason \
            or body.get("code") != code:
        raise SystemExit("FAIL: %s: expected %d %s, got %d %r" % (what, code, reason, status, body))


def bad_input(s):
    assert s.request("POST", ORGS, account("keep", type="org"))[0] == 201
    before = s.request("GET", ORGS)[1]
    expect_status(s.request("POST", ORGS, "x" * (4 * 1024 * 1024)), 413, "RequestEntityTooLarge", "oversized body")
    deep = "[" * 200 + "]" * 200
    expect_status(s.request("POST", ORGS, '{"apiVersion":"core.platform-mesh.io/v1alpha1","kind":"Account","metadata":{"name":"deep"},"spec":' + deep + "}"),
                  400, "BadRequest", "nesting beyond the limit")
    expect_status(s.request("POST", ORGS, "{not json"), 400, "BadRequest", "malformed JSON")
    expect_status(s.request("POST", ORGS, "a: [", content_type="application/yaml"), 400, "BadRequest", "malformed YAML")
    expect_status(s.request("POST", ORGS, account("Not_Valid")), 422, "Invalid", "an invalid name")
    expect_status(s.request("POST", ORGS, {"apiVersion": "core.platform-mesh.io/v1alpha1", "kind": "Account", "metadata": {}}),
                  422, "Invalid", "no name")
    expect_status(s.request("POST", "/clusters/root/apis/core.platform-mesh.io/v1alpha1/widgets", account("w")), 404, "NotFound", "an unknown kind")
    expect_status(s.request("POST", "/clusters/root/apis/core.platform-mesh.io/v9/accounts", account("w")), 404, "NotFound", "an unknown version")
    expect_status(s.request("POST", ORGS, account("keep", type="org")), 409, "AlreadyExists", "a second create")
    expect_status(s.request("POST", ORGS, "<xml/>", content_type="application/xml"), 415, "UnsupportedMediaType", "a wrong content type")
    expect_status(s.request("PATCH", ORGS + "/keep", "{}", content_type="text/plain"), 415, "UnsupportedMediaType", "a wrong patch type")
    expect_status(s.request("PATCH", ORGS + "/keep", '[{"op":"test","path":"/spec/x","value":1}]', content_type="application/json-patch+json"),
                  422, "Invalid", "a JSON patch that does not apply")
    got = s.request("GET", ORGS + "/keep")[1]
    stale = dict(got)
    stale["metadata"] = dict(got["metadata"], resourceVersion="1")
    stale["spec"] = {"type": "changed"}
    s.request("PATCH", ORGS + "/keep", {"spec": {"x": 1}}, content_type="application/merge-patch+json")
    expect_status(s.request("PUT", ORGS + "/keep", stale), 409, "Conflict", "a stale update")
    missing = dict(got)
    missing["metadata"] = {k: v for k, v in got["metadata"].items() if k != "resourceVersion"}
    expect_status(s.request("PUT", ORGS + "/keep", missing), 422, "Invalid", "an update without resourceVersion")
    expect_status(s.request("GET", ORGS + "?labelSelector=a%20in%20b"), 400, "BadRequest", "a malformed label selector")
    expect_status(s.request("GET", ORGS + "?fieldSelector=spec.type%3Dx"), 400, "BadRequest", "an unsupported field selector")
    expect_status(s.request("GET", "/clusters/root:nowhere/apis/core.platform-mesh.io/v1alpha1/accounts"), 404, "NotFound", "a missing workspace")
    # A client that sends half a request and stalls, and one that goes away, do not stop others.
    stall = socket.create_connection(("127.0.0.1", s.port))
    stall.sendall(b"POST " + ORGS.encode() + b" HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{")
    drop = socket.create_connection(("127.0.0.1", s.port))
    drop.sendall(b"GET /clusters/root/api HTTP/1.1\r\n")
    drop.close()
    assert s.request("GET", ORGS, timeout=5)[0] == 200
    stall.close()
    # Table output may be asked for; it must not be refused.
    c = http.client.HTTPConnection("127.0.0.1", s.port, timeout=5)
    c.request("GET", ORGS, headers={"Accept": "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"})
    assert c.getresponse().status == 200
    after = s.request("GET", ORGS)[1]
    names = lambda l: sorted(i["metadata"]["name"] for i in l["items"])
    assert names(before) == names(after) == ["keep"], (names(before), names(after))
    # The only change above was the one successful patch.
    assert int(after["metadata"]["resourceVersion"]) == int(before["metadata"]["resourceVersion"]) + 1, (before["metadata"], after["metadata"])


def wildcard_and_shutdown(s):
    """/clusters/*/ lists across workspaces; SIGTERM ends watches and exits 0."""
    # root:orgs is there from the bootstrap.
    assert s.request("GET", "/clusters/root/apis/tenancy.kcp.io/v1alpha1/workspaces/orgs")[0] == 200
    assert s.request("POST", ORGS, account("acme", type="org"))[0] == 201
    listing = s.request("GET", "/clusters/*/apis/core.platform-mesh.io/v1alpha1/accounts")[1]
    where = sorted((i["metadata"]["annotations"]["kcp.io/cluster"], i["metadata"]["name"]) for i in listing["items"])
    assert where == [("root:orgs", "acme"), ("root:orgs", "keep")], where
    expect_status(s.request("POST", "/clusters/*/apis/core.platform-mesh.io/v1alpha1/accounts", account("x")),
                  405, "MethodNotAllowed", "a write to the wildcard cluster")
    c = http.client.HTTPConnection("127.0.0.1", s.port, timeout=10)
    c.request("GET", "/clusters/*/apis/core.platform-mesh.io/v1alpha1/accounts?watch=true")
    r = c.getresponse()
    first = r.readline()
    assert b'"ADDED"' in first, first
    s.stop(signal.SIGTERM)
    assert s.proc.returncode == 0, s.proc.returncode
    rest = r.read()  # the stream ends: the server closed the watch
    assert isinstance(rest, bytes)


def durability(pmesh, work, policies):
    data = os.path.join(work, "durable")
    s = Server(pmesh, data, policies)
    acknowledged = []
    stop = threading.Event()

    def load(worker):
        i = 0
        while not stop.is_set() and i < 2000:
            name = "w%d-%d" % (worker, i)
            i += 1
            try:
                status, _ = s.request("POST", ACCOUNTS, account(name, creator="u%d" % worker), timeout=5)
            except OSError:
                return
            if status == 201:
                acknowledged.append(name)

    threads = [threading.Thread(target=load, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    deadline = time.time() + 20
    while len(acknowledged) < 150 and time.time() < deadline:
        time.sleep(0.05)
    s.stop(signal.SIGKILL)
    stop.set()
    for t in threads:
        t.join(timeout=10)
    assert len(acknowledged) >= 150, len(acknowledged)
    s2 = Server(pmesh, data, policies)
    try:
        listing = s2.request("GET", ACCOUNTS)[1]
        present = {i["metadata"]["name"] for i in listing["items"]}
        lost = [n for n in acknowledged if n not in present]
        if lost:
            raise SystemExit("FAIL: %d acknowledged creates lost after SIGKILL, e.g. %s" % (len(lost), lost[:3]))
        # Derived objects are there for every account, and nothing extra.
        wss = s2.request("GET", "/clusters/root/apis/tenancy.kcp.io/v1alpha1/workspaces")[1]
        derived = {i["metadata"]["name"] for i in wss["items"]} - {"orgs"}  # orgs: from the bootstrap
        assert derived == present, "derived workspaces do not match the accounts"
        rv = listing["metadata"]["resourceVersion"]
        # A watch resumes from the last version seen before the crash.
        c = http.client.HTTPConnection("127.0.0.1", s2.port, timeout=10)
        c.request("GET", ACCOUNTS + "?watch=true&timeoutSeconds=1&resourceVersion=" + rv)
        r = c.getresponse()
        assert r.status == 200, r.status
        assert b"Expired" not in r.read()
    finally:
        s2.stop()
    verify = subprocess.run([pmesh, "verify", "--data-dir", data, "--policies", policies],
                            capture_output=True, text=True)
    if verify.returncode != 0:
        raise SystemExit("FAIL: pmesh verify after SIGKILL:\n" + verify.stdout + verify.stderr)
    print("durability: %d acknowledged creates survived SIGKILL; %s" % (len(acknowledged), verify.stdout.strip()))


def main():
    pmesh = sys.argv[1]
    work = tempfile.mkdtemp()
    s = None
    try:
        s = Server(pmesh, os.path.join(work, "data"))
        bad_input(s)
        wildcard_and_shutdown(s)
        s = None
        durability(pmesh, work, sys.argv[2])
        print("server e2e: ok")
    finally:
        if s:
            s.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
