#!/usr/bin/python3
"""The GraphQL gateway against real clients: graphql-js (from npm) validates
every query against the schema it introspects and runs it, graphql-sse (from
npm) subscribes while kubectl makes changes. Starts `pmesh serve` (HTTPS,
tokens), sets up two organizations (alice's acme, with a bound Widget kind
whose schema has an enum; bob's globex) and a kubeconfig for alice, then
runs graphql_e2e.js with node and fails with it.

Usage: graphql_e2e.py PMESH KUBECTL
"""
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pmesh_server import Server, fail, publish_and_bind, widget_schema  # noqa: E402

here = os.path.dirname(os.path.abspath(__file__))
for package in ("graphql", "graphql-sse"):
    if not os.path.isdir(os.path.join(here, "..", "node_modules", package)):
        sys.exit("tests/node_modules has no %s: run scripts/setup (npm ci --prefix tests)" % package)

ACCOUNTS = "apis/core.platform-mesh.io/v1alpha1/accounts"
WIDGET = {"schema": {"openAPIV3Schema": {"type": "object", "properties": {
    "spec": {"type": "object", "required": ["engine"], "properties": {
        "engine": {"type": "string", "enum": ["postgres", "mysql"], "description": "The database engine."},
        "size": {"type": "integer", "minimum": 1, "default": 1},
        "labels": {"type": "object", "additionalProperties": {"type": "string"}}}},
    "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}}},
    "subresources": {"status": {}}}


def account(name, type_, display):
    return {"apiVersion": "core.platform-mesh.io/v1alpha1", "kind": "Account", "metadata": {"name": name},
            "spec": {"type": type_, "displayName": display}}


def main():
    pmesh, kubectl = sys.argv[1], sys.argv[2]
    with Server(pmesh) as s:
        for who, org in (("alice", "acme"), ("bob", "globex")):
            st, body, _ = s.request("POST", "/clusters/root:orgs/" + ACCOUNTS, account(org, "org", org.title() + " Inc"), user=who)
            if st != 201:
                fail("creating %s as %s: %s %s" % (org, who, st, body), s)
        statuses = publish_and_bind(s, "root:orgs:acme", widget_schema(WIDGET), user="alice")
        if statuses != [201, 201, 201]:
            fail("publishing and binding widgets: %s" % statuses, s)
        kubeconfig = os.path.join(s.work, "alice.kubeconfig")
        with open(kubeconfig, "w") as f:
            f.write("""apiVersion: v1
kind: Config
clusters:
- name: pmesh
  cluster:
    server: https://127.0.0.1:%d/clusters/root:orgs:acme
    certificate-authority: %s
users:
- name: alice
  user:
    token: %s
contexts:
- name: alice
  context: {cluster: pmesh, user: alice}
current-context: alice
""" % (s.port, os.path.join(s.data, "serving.pem"), s.tokens["alice"]))
        env = dict(os.environ)
        env.update({
            "PMESH_URL": "https://127.0.0.1:%d" % s.port,
            "NODE_EXTRA_CA_CERTS": os.path.join(s.data, "serving.pem"),
            "KUBECTL": kubectl,
            "KUBECONFIG": kubeconfig,
            "ALICE_TOKEN": s.tokens["alice"],
            "BOB_TOKEN": s.tokens["bob"],
            "CAROL_TOKEN": s.tokens["carol"],
        })
        r = subprocess.run(["node", os.path.join(here, "graphql_e2e.js")], env=env, timeout=240)
        if r.returncode != 0:
            print(s.log()[-4000:], file=sys.stderr)
        sys.exit(r.returncode)


main()
