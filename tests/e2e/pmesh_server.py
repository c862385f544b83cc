"""`pmesh serve` for the Python end-to-end tests: started on a free loopback
port with a fresh data directory, HTTPS with its own certificate and a token
file of test users (admin from the server's admin token; alice, bob, carol,
dave), or plain HTTP; stopped when the test ends.

    with Server(pmesh) as s:
        status, body, headers = s.request("GET", "/clusters/root/api/v1/namespaces", user="alice")
"""
import http.client
import json
import os
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import threading
import time

USERS = {"alice": "alice-token", "bob": "bob-token", "carol": "carol-token", "dave": "dave-token"}


class Server:
    def __init__(self, pmesh, plain=False, policies=None, data=None, extra=(), env=None):
        self.pmesh = pmesh
        self.work = tempfile.mkdtemp(prefix="pmesh-e2e-")
        self.data = data or os.path.join(self.work, "data")
        self.plain = plain
        self.log_path = os.path.join(self.work, "serve.log")
        flags = ["--plain-http"] if plain else []
        if not plain:
            tokens = os.path.join(self.work, "tokens.csv")
            with open(tokens, "w") as f:
                for i, (user, token) in enumerate(sorted(USERS.items())):
                    f.write('%s,%s,%d,"developers"\n' % (token, user, 2000 + i))
            flags += ["--token-file", tokens]
        if policies:
            flags += ["--policies", policies]
        self.flags = flags + list(extra)
        self.env = env
        self.start()

    def start(self):
        log = open(self.log_path, "a")
        self.proc = subprocess.Popen([self.pmesh, "serve", "--data-dir", self.data, "--listen", "127.0.0.1:0", *self.flags],
                                     stdout=subprocess.PIPE, stderr=log, text=True, env=self.env)
        deadline = time.time() + 15
        while time.time() < deadline:
            line = self.proc.stdout.readline()
            if "kubeconfig written to" in line:
                kc = open(line.strip().split("kubeconfig written to ")[1]).read()
                scheme = "http" if self.plain else "https"
                self.port = int(kc.split("server: %s://127.0.0.1:" % scheme)[1].split("/")[0])
                self.tokens = dict(USERS)
                if not self.plain:
                    self.tokens["admin"] = open(os.path.join(self.data, "admin.token")).read().strip()
                    self.ssl = ssl.create_default_context(cafile=os.path.join(self.data, "serving.pem"))
                return
            if self.proc.poll() is not None:
                break
        self.proc.kill()
        raise SystemExit("FAIL: the server did not start:\n" + open(self.log_path).read()[-2000:])

    def connection(self, timeout=10):
        if self.plain:
            return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        return http.client.HTTPSConnection("127.0.0.1", self.port, timeout=timeout, context=self.ssl)

    def headers_for(self, user, headers=None):
        h = dict(headers or {})
        if user and not self.plain and "Authorization" not in h:
            h["Authorization"] = "Bearer " + self.tokens[user]
        return h

    def request(self, method, path, body=None, content_type="application/json", user="admin", headers=None, timeout=10):
        """Returns (status, JSON body or raw bytes, response headers)."""
        c = self.connection(timeout)
        h = self.headers_for(user, headers)
        if isinstance(body, (dict, list)):
            body = json.dumps(body)
        if body is not None and "Content-Type" not in h:
            h["Content-Type"] = content_type
        c.request(method, path, body=body, headers=h)
        r = c.getresponse()
        data = r.read()
        hdrs = r.getheaders()
        c.close()
        try:
            return r.status, json.loads(data), hdrs
        except ValueError:
            return r.status, data, hdrs

    def kube_client(self, url, user="admin"):
        """A python3-kubernetes ApiClient for `url` (a workspace or a virtual workspace) as `user`."""
        from kubernetes import client
        cfg = client.Configuration()
        cfg.host = url
        cfg.api_key = {"authorization": "Bearer " + self.tokens[user]}
        cfg.ssl_ca_cert = os.path.join(self.data, "serving.pem")
        return client.ApiClient(cfg)

    def watch(self, path, user="admin", timeout=10):
        """An open watch: read events with .next(), a list of JSON events until `seconds` pass with .until_quiet()."""
        return Watch(self, path, user, timeout)

    def stop(self, sig=signal.SIGTERM):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def verify(self, policies=None):
        """`pmesh verify` on the data directory (the server must be stopped)."""
        args = [self.pmesh, "verify", "--data-dir", self.data] + (["--policies", policies] if policies else [])
        return subprocess.run(args, capture_output=True, text=True, timeout=120)

    def log(self):
        return open(self.log_path).read()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
        shutil.rmtree(self.work, ignore_errors=True)


class Watch:
    def __init__(self, server, path, user, timeout):
        self.conn = server.connection(timeout)
        self.conn.request("GET", path, headers=server.headers_for(user))
        self.resp = self.conn.getresponse()
        self.status = self.resp.status
        if self.status != 200:
            self.body = self.resp.read()

    def next(self):
        """The next event as JSON; None when the stream ended. Raises on a read timeout."""
        line = self.resp.readline()
        return json.loads(line) if line.strip() else None

    def events(self, n):
        out = []
        while len(out) < n:
            e = self.next()
            if e is None:
                break
            if e["type"] != "BOOKMARK":
                out.append(e)
        return out

    def close(self):
        self.conn.close()


def widget_schema(version):
    """acme.io's Widget (namespaced) as an APIResourceSchema with one version,
    v1: `version` adds its schema (by default one that keeps every field)
    and printer columns."""
    return {"apiVersion": "apis.kcp.io/v1alpha1", "kind": "APIResourceSchema", "metadata": {"name": "v1.widgets.acme.io"},
            "spec": {"group": "acme.io", "scope": "Namespaced", "names": {"kind": "Widget", "plural": "widgets", "singular": "widget"},
                     "versions": [dict({"name": "v1", "served": True, "storage": True,
                                        "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}},
                                       **version)]}}


def publish_and_bind(s, ws, ars, user="admin"):
    """Creates the APIResourceSchema `ars` in workspace `ws`, an APIExport of it
    and an APIBinding to that export there; returns the three statuses."""
    apis = "/clusters/%s/apis/apis.kcp.io/v1alpha1/" % ws
    name = ars["spec"]["names"]["plural"]
    export = {"apiVersion": "apis.kcp.io/v1alpha1", "kind": "APIExport", "metadata": {"name": name},
              "spec": {"latestResourceSchemas": [ars["metadata"]["name"]]}}
    binding = {"apiVersion": "apis.kcp.io/v1alpha1", "kind": "APIBinding", "metadata": {"name": name},
               "spec": {"reference": {"export": {"path": ws, "name": name}}}}
    return [s.request("POST", apis + resource, body, user=user)[0]
            for resource, body in (("apiresourceschemas", ars), ("apiexports", export), ("apibindings", binding))]


ORGS = "/clusters/root:orgs/apis/core.platform-mesh.io/v1alpha1/accounts"
PRESERVE = {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}


def expect_status(problems, what, result, code):
    """Notes in `problems` a request whose status is not `code`; returns its body (a dict, or {})."""
    status, body = result[0], result[1]
    if status != code:
        problems.append("%s: expected %d, got %d %s" % (what, code, status, str(body)[:300]))
    return body if isinstance(body, dict) else {}


def wait_until(problems, what, check, seconds=10):
    """What `check` returns once it is true (polled for `seconds`); else None, noted in `problems`."""
    deadline = time.time() + seconds
    while time.time() < deadline:
        got = check()
        if got:
            return got
        time.sleep(0.1)
    problems.append("timed out waiting for " + what)
    return None


def create_org(s, problems, name, owner):
    """An organization `name` created by `owner`; returns its workspace path."""
    expect_status(problems, "%s creates %s" % (owner, name), s.request("POST", ORGS, {
        "apiVersion": "core.platform-mesh.io/v1alpha1", "kind": "Account", "metadata": {"name": name},
        "spec": {"type": "org", "displayName": name.title()}}, user=owner), 201)
    return "root:orgs:" + name


def create_orgs(s, n, owner, name="org-%06d", threads=4):
    """`n` organizations named `name % i`, created by `owner` on `threads`
    connections at once (benchmarks' set-up); exits on the first refusal."""
    failed = []

    def make(lo, hi):
        for i in range(lo, hi):
            create_org(s, failed, name % i, owner)
            if failed:
                return

    makers = [threading.Thread(target=make, args=(k * n // threads, (k + 1) * n // threads)) for k in range(threads)]
    for t in makers:
        t.start()
    for t in makers:
        t.join()
    if failed:
        raise SystemExit("creating organizations failed: %s" % failed[:3])


def member_role(account, user):
    """The tuples by which the IAM service grants `user` the account's member role."""
    role = "role:core_platform-mesh_io_account/" + account.split(":", 1)[1] + "/member"
    return [{"user": user, "relation": "assignee", "object": role},
            {"user": role + "#assignee", "relation": "member", "object": account}]


def fail(msg, server=None):
    tail = ("\n--- server log ---\n" + server.log()[-3000:]) if server else ""
    raise SystemExit("FAIL: " + msg + tail)


class Problems(list):
    """What a test found wrong, gathered so that one run reports them all."""

    def want(self, what, got, expected):
        if got != expected:
            self.append("%s: got %r, want %r" % (what, got, expected))

    def report(self, ok_line):
        if self:
            print("\n".join(self[:20]))
            sys.exit(1)
        print(ok_line)
