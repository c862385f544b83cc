#!/usr/bin/python3
"""Debian's python3-kubernetes dynamic client against `pmesh serve`:
discovery, create, get, list, patch, replace, delete, watch with
timeout_seconds, and resuming a watch after 410 Expired.

Usage: python_client_e2e.py PMESH
"""
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

from kubernetes import client, config, dynamic, watch
from kubernetes.client.rest import ApiException


def start(pmesh, data, *flags):
    out = open(os.path.join(os.path.dirname(data), "serve.log"), "a")
    proc = subprocess.Popen([pmesh, "serve", "--data-dir", data, "--listen", "127.0.0.1:0", *flags],
                            stdout=subprocess.PIPE, stderr=out, text=True)
    deadline = time.time() + 10
    while time.time() < deadline:
        line = proc.stdout.readline()
        if "kubeconfig written to" in line:
            return proc, line.strip().split("kubeconfig written to ")[1]
        if proc.poll() is not None:
            break
    proc.kill()
    raise SystemExit("FAIL: the server did not start")


def main():
    pmesh = sys.argv[1]
    work = tempfile.mkdtemp()
    data = os.path.join(work, "data")
    proc = None
    try:
        proc, kubeconfig = start(pmesh, data, "--watch-history", "20")
        api = config.new_client_from_config(config_file=kubeconfig, context="orgs")
        dyn = dynamic.DynamicClient(api)

        # Discovery.
        accounts = dyn.resources.get(api_version="core.platform-mesh.io/v1alpha1", kind="Account")
        assert accounts.namespaced is False and accounts.name == "accounts", accounts
        configmaps = dyn.resources.get(api_version="v1", kind="ConfigMap")
        assert configmaps.namespaced is True

        # Create, get, list.
        body = {"apiVersion": "core.platform-mesh.io/v1alpha1", "kind": "Account",
                "metadata": {"name": "acme", "labels": {"tier": "gold"}}, "spec": {"type": "org", "displayName": "An organization"}}
        created = accounts.create(body=body)
        assert created.metadata.name == "acme" and created.metadata.uid
        try:
            accounts.create(body=body)
            raise SystemExit("FAIL: a second create succeeded")
        except ApiException as e:
            assert e.status == 409 and "AlreadyExists" in str(e.body), e
        got = accounts.get(name="acme")
        assert got.spec.type == "org"
        listed = accounts.get(label_selector="tier=gold")
        assert [i.metadata.name for i in listed.items] == ["acme"], listed
        assert listed.metadata.resourceVersion

        # Patch and replace.
        patched = accounts.patch(name="acme", body={"spec": {"creator": "alice"}},
                                 content_type="application/merge-patch+json")
        assert patched.spec.creator == "alice"
        cur = accounts.get(name="acme").to_dict()
        cur["spec"]["description"] = "replaced"
        replaced = accounts.replace(body=cur)
        assert replaced.spec.description == "replaced"
        try:
            accounts.replace(body=cur)
            raise SystemExit("FAIL: a stale replace succeeded")
        except ApiException as e:
            assert e.status == 409 and "Conflict" in str(e.body)

        # A watch with timeout_seconds sees changes and ends on time.
        rv = accounts.get().metadata.resourceVersion
        cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c0", "namespace": "default"}, "data": {"k": "v"}}
        configmaps.create(body=cm, namespace="default")
        seen = []
        later = threading.Timer(0.5, lambda: accounts.patch(
            name="acme", body={"spec": {"description": "watched"}}, content_type="application/merge-patch+json"))
        later.start()
        for ev in dyn.watch(accounts, resource_version=rv, timeout=2):
            seen.append((ev["type"], ev["object"].metadata.name))
        later.join()
        assert ("MODIFIED", "acme") in seen, seen
        # Reaching here means the server ended the watch at timeout_seconds
        # (CTest's timeout catches a watch that never ends).

        # Resuming from a version older than the server keeps: 410, then list and watch again.
        for i in range(30):
            configmaps.create(body={"apiVersion": "v1", "kind": "ConfigMap",
                                    "metadata": {"name": "n%d" % i, "namespace": "default"}}, namespace="default")
        expired = False
        try:
            for ev in dyn.watch(accounts, resource_version="1", timeout=2):
                if ev["type"] == "ERROR" and ev["raw_object"].get("code") == 410:
                    expired = True
                    break
        except ApiException as e:
            expired = e.status == 410
        assert expired, "no 410 for a resource version that is too old"
        fresh = accounts.get()
        later = threading.Timer(0.5, lambda: accounts.patch(
            name="acme", body={"spec": {"description": "resumed"}}, content_type="application/merge-patch+json"))
        later.start()
        events = [ev["type"] for ev in dyn.watch(accounts, resource_version=fresh.metadata.resourceVersion, timeout=2)]
        later.join()
        assert events == ["MODIFIED"], events
        # deletecollection (client-go's DeleteCollection, controller-runtime's
        # DeleteAllOf): what the selectors pick goes, and only that; the
        # answer lists what was deleted.
        for i in range(4):
            configmaps.create(body={"apiVersion": "v1", "kind": "ConfigMap",
                                    "metadata": {"name": "dc%d" % i, "namespace": "default",
                                                 "labels": {"batch": "one" if i < 2 else "two"}}}, namespace="default")
        dry = configmaps.delete(namespace="default", label_selector="batch=one", body={"dryRun": ["All"]})
        assert dry.kind == "ConfigMapList" and sorted(i.metadata.name for i in dry.items) == ["dc0", "dc1"], dry
        assert len(configmaps.get(namespace="default", label_selector="batch").items) == 4, "a dry run deleted"
        gone = configmaps.delete(namespace="default", label_selector="batch=one")
        assert sorted(i.metadata.name for i in gone.items) == ["dc0", "dc1"], gone
        left = sorted(i.metadata.name for i in configmaps.get(namespace="default", label_selector="batch").items)
        assert left == ["dc2", "dc3"], left
        core = client.CoreV1Api(api)
        core.delete_collection_namespaced_config_map("default", field_selector="metadata.name=dc3")
        left = sorted(i.metadata.name for i in configmaps.get(namespace="default", label_selector="batch").items)
        assert left == ["dc2"], left
        # The all-namespaces collection takes no deletecollection (kube serves it per namespace).
        try:
            configmaps.delete(label_selector="batch")
            raise SystemExit("FAIL: a deletecollection across namespaces was served")
        except ApiException as e:
            assert e.status == 405, e

        # Delete: the object goes, a second delete is NotFound.
        accounts.delete(name="acme")
        try:
            accounts.get(name="acme")
            raise SystemExit("FAIL: the deleted account is still there")
        except ApiException as e:
            assert e.status == 404
        print("python client e2e: ok")
    finally:
        if proc:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
