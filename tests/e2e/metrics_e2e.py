"""Where the time goes, seen as an operator sees it: /metrics parsed by the
Prometheus Python client's own parser, counters that move with the
requests made, who may read it (a tenant may not: per-rule figures name the
policies; a made-up method does not become a label), and kube-apiserver's
/livez, /readyz and /healthz (plain, verbose, one check, an exclusion, a
check that does not exist)."""
import os
import time
import sys

from prometheus_client.parser import text_string_to_metric_families

sys.path.insert(0, os.path.dirname(__file__))
from pmesh_server import Problems, Server  # noqa: E402

problems = Problems()
want = problems.want


def scrape(s):
    st, body, hdrs = s.request("GET", "/metrics")
    want("admin reads /metrics", st, 200)
    ctype = dict((k.lower(), v) for k, v in hdrs).get("content-type", "")
    if not ctype.startswith("text/plain; version=0.0.4"):
        problems.append("/metrics content type: " + ctype)
    text = body.decode() if isinstance(body, bytes) else str(body)
    families = {f.name: f for f in text_string_to_metric_families(text)}
    return families


def value(families, name, labels=None, sample=None):
    f = families.get(name)
    if not f:
        return None
    total = 0.0
    found = False
    for s in f.samples:
        if sample and s.name != sample:
            continue
        if labels and any(s.labels.get(k) != v for k, v in labels.items()):
            continue
        total += s.value
        found = True
    return total if found else None


with Server(sys.argv[1]) as s:
    # Who may read it.
    st, body, _ = s.request("GET", "/metrics", user=None)
    want("/metrics without a token", st, 401)
    st, body, _ = s.request("GET", "/metrics", user="alice")
    want("/metrics for a tenant", st, 403)
    want("the refusal", body.get("message") if isinstance(body, dict) else body, 'forbidden: User "alice" cannot get path "/metrics"')

    before = scrape(s)
    # kube-apiserver's names and types, and pmesh's own.
    for name, kind in [("apiserver_request", "counter"), ("apiserver_request_duration_seconds", "histogram"),
                       ("apiserver_registered_watchers", "gauge"), ("pmesh_rule_evaluations", "counter"),
                       ("pmesh_rule_evaluation_seconds", "counter"), ("pmesh_transactions", "counter"),
                       ("pmesh_transaction_duration_seconds", "histogram"), ("pmesh_transaction_facts_changed", "counter"),
                       ("pmesh_storage_commit_duration_seconds", "histogram"), ("pmesh_watch_events_sent", "counter"),
                       ("pmesh_watch_backlog_bytes", "gauge"), ("pmesh_open_connections", "gauge")]:
        f = before.get(name)
        if not f or f.type != kind:
            problems.append("family %s: %s" % (name, f.type if f else "missing"))

    # Work, then the counters that should have moved by exactly that.
    lists0 = value(before, "apiserver_request", {"verb": "LIST", "code": "200"}, "apiserver_request_total") or 0
    posts0 = value(before, "apiserver_request", {"verb": "POST", "code": "201"}, "apiserver_request_total") or 0
    commits0 = value(before, "pmesh_transactions", {"result": "committed"}, "pmesh_transactions_total") or 0
    events0 = value(before, "pmesh_watch_events_sent", None, "pmesh_watch_events_sent_total") or 0
    w = s.watch("/clusters/root/api/v1/namespaces/default/configmaps?watch=true")
    for i in range(3):
        st, _, _ = s.request("POST", "/clusters/root/api/v1/namespaces/default/configmaps",
                             {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "m%d" % i}, "data": {"a": "b"}})
        want("create", st, 201)
    for i in range(3):
        w.next()
    st, _, _ = s.request("GET", "/clusters/root/api/v1/namespaces/default/configmaps")
    want("list", st, 200)
    st, _, _ = s.request("GET", "/clusters/root/api/v1/namespaces/default/configmaps/m0")
    want("get", st, 200)
    after = scrape(s)
    want("LIST 200 counted", (value(after, "apiserver_request", {"verb": "LIST", "code": "200"}, "apiserver_request_total") or 0) - lists0, 1)
    want("POST 201 counted", (value(after, "apiserver_request", {"verb": "POST", "code": "201"}, "apiserver_request_total") or 0) - posts0, 3)
    if (value(after, "apiserver_request", {"verb": "WATCH"}, "apiserver_request_total") or 0) < 1:
        problems.append("the watch was not counted")
    want("a watch open", value(after, "apiserver_registered_watchers"), 1)
    if (value(after, "pmesh_watch_events_sent", None, "pmesh_watch_events_sent_total") or 0) - events0 < 3:
        problems.append("watch events not counted")
    if (value(after, "pmesh_transactions", {"result": "committed"}, "pmesh_transactions_total") or 0) - commits0 < 3:
        problems.append("transactions not counted")
    if (value(after, "pmesh_storage_commit_duration_seconds", None, "pmesh_storage_commit_duration_seconds_count") or 0) < 1:
        problems.append("no group commit observed")
    if (value(after, "pmesh_rule_evaluations", None, "pmesh_rule_evaluations_total") or 0) <= 0:
        problems.append("no rule evaluations counted")
    labels = set()
    for smp in after["apiserver_request"].samples:
        labels |= set(smp.labels)
    want("request labels", labels, {"verb", "code"})
    # A client cannot grow the label set with made-up methods.
    s.request("FROB", "/clusters/root/api/v1/namespaces")
    verbs = {smp.labels["verb"] for smp in scrape(s)["apiserver_request"].samples}
    if "FROB" in verbs:
        problems.append("a made-up method became a label value")

    # Health, as kube-apiserver answers it (no token needed).
    st, body, _ = s.request("GET", "/livez", user=None)
    want("/livez", (st, body), (200, b"ok"))
    st, body, _ = s.request("GET", "/readyz?verbose", user=None)
    want("/readyz?verbose", (st, body), (200, b"[+]ping ok\n[+]shutdown ok\nreadyz check passed\n"))
    st, body, _ = s.request("GET", "/readyz?verbose&exclude=shutdown", user=None)
    want("/readyz excluding shutdown", (st, body), (200, b"[+]ping ok\n[+]shutdown excluded: ok\nreadyz check passed\n"))
    st, body, _ = s.request("GET", "/livez/ping", user=None)
    want("/livez/ping", (st, body), (200, b"ok"))
    st, _, _ = s.request("GET", "/livez/nope", user=None)
    want("/livez/nope", st, 404)
    st, body, _ = s.request("GET", "/healthz", user=None)
    want("/healthz", (st, body), (200, b"ok"))
    w.close()
    # Everything handed to the watch was written (or dropped with it).
    backlog = None
    for _ in range(50):
        backlog = value(scrape(s), "pmesh_watch_backlog_bytes")
        if backlog == 0:
            break
        time.sleep(0.1)
    want("watch backlog once written", backlog, 0)
    if (value(scrape(s), "pmesh_open_connections") or 0) < 1:
        problems.append("open connections not counted")

problems.report("metrics and health: ok")
