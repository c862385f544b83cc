#!/usr/bin/python3
"""ServiceAccounts and their tokens, with kubectl and the Python client, and
from a hostile tenant's side: who may mint a token, what a token reaches
(its own workspace only, whatever path it asks for), what it is worth
forged, expired, for another audience, after its ServiceAccount, namespace
or bound Secret went, and after a restart; TokenReview and the issuer's
discovery as a component uses them.

Usage: service_accounts_e2e.py PMESH [KUBECTL...]
"""
import base64
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(__file__))
from pmesh_server import Server  # noqa: E402

problems = []
ACC = "apis/core.platform-mesh.io/v1alpha1/accounts"


def expect(what, got, status):
    code, body, _ = got
    if code != status:
        problems.append("%s: want %d, got %d %s" % (what, status, code, body if isinstance(body, dict) else body[:200]))
    return body if isinstance(body, dict) else {}


def claims(token):
    p = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(p + "=" * (-len(p) % 4)))


def org(s, name, user):
    expect(user + " creates " + name, s.request("POST", "/clusters/root:orgs/" + ACC, {
        "apiVersion": "core.platform-mesh.io/v1alpha1", "kind": "Account", "metadata": {"name": name}, "spec": {"type": "org", "displayName": "An organization"}}, user=user), 201)
    info = expect(name + "'s AccountInfo", s.request("GET", "/clusters/root:orgs:%s/apis/core.platform-mesh.io/v1alpha1/accountinfos/account" % name), 200)
    return info["spec"]["fga"]["store"]["id"], "core_platform-mesh_io_account:%s/%s" % (info["spec"]["organization"]["originClusterId"], name)


def tk(user, relation, obj):
    return {"user": user, "relation": relation, "object": obj}


ACME = "/clusters/root:orgs:acme"
SA = ACME + "/api/v1/namespaces/default/serviceaccounts"


def mint(s, name, user="alice", spec=None, status=201):
    body = expect("%s mints a token for %s" % (user, name), s.request("POST", "%s/%s/token" % (SA, name), {
        "apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": spec or {}}, user=user), status)
    return body["status"].get("token", "") if status == 201 and isinstance(body.get("status"), dict) else ""


def as_token(s, method, path, token, body=None):
    return s.request(method, path, body, user=None, headers={"Authorization": "Bearer " + token})


def kubeconfig(s, work, name, token, cluster):
    path = os.path.join(work, name + ".kubeconfig")
    with open(path, "w") as f:
        json.dump({"apiVersion": "v1", "kind": "Config", "current-context": "c",
                   "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:%d%s" % (s.port, cluster),
                                                          "certificate-authority": os.path.join(s.data, "serving.pem")}}],
                   "users": [{"name": "u", "user": {"token": token}}],
                   "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}]}, f)
    return path


with Server(sys.argv[1]) as s:
    store, acme = org(s, "acme", "alice")
    gstore, globex = org(s, "globex", "carol")
    if expect("acme's default ServiceAccount", s.request("GET", SA + "/default", user="alice"), 200).get("metadata", {}).get("name") != "default":
        problems.append("acme's default namespace has no default ServiceAccount")
    expect("alice creates ctrl", s.request("POST", SA, {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "ctrl"}}, user="alice"), 201)

    # Who may mint: acme's owners; not a stranger (acme does not exist for
    # them), not a member (a token is the ServiceAccount's rights).
    mint(s, "ctrl", user="carol", status=404)
    role = "role:core_platform-mesh_io_account/%s/member" % acme.split(":", 1)[1]
    expect("alice grants bob acme's member role", s.request("POST", "/stores/%s/write" % store, {"writes": {"tuple_keys": [
        tk("user:bob", "assignee", role), tk(role + "#assignee", "member", acme)]}}, user="alice"), 200)
    mint(s, "ctrl", user="bob", status=403)
    mint(s, "nobody", status=404)
    token = mint(s, "ctrl")
    c = claims(token)
    # kcp's claim and extra name the logical cluster (not its path).
    acme_name = s.request("GET", "/clusters/root:orgs/apis/tenancy.kcp.io/v1alpha1/workspaces/acme")[1]["spec"]["cluster"]
    if c.get("sub") != "system:serviceaccount:default:ctrl" or c.get("kubernetes.io", {}).get("clusterName") != acme_name:
        problems.append("the token's claims: %s" % c)

    # What the token is: the ServiceAccount of acme, nobody anywhere else.
    who = expect("whoami", as_token(s, "POST", ACME + "/apis/authentication.k8s.io/v1/selfsubjectreviews",
                                    token, {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}), 201)
    ui = who.get("status", {}).get("userInfo", {})
    if ui.get("username") != "system:serviceaccount:default:ctrl" or ui.get("extra", {}).get("authentication.kubernetes.io/cluster-name") != [acme_name]:
        problems.append("whoami: %s" % ui)
    cms = ACME + "/api/v1/namespaces/default/configmaps"
    expect("ctrl before any grant", as_token(s, "GET", cms, token), 404)
    # The IAM service's grant, to the ServiceAccount's kcp-wide name.
    sa_user = "user:system.kcp.serviceaccount.root.orgs.acme.default.ctrl"
    expect("alice grants ctrl the member role", s.request("POST", "/stores/%s/write" % store, {"writes": {"tuple_keys": [
        tk(sa_user, "assignee", role)]}}, user="alice"), 200)
    expect("ctrl lists acme's configmaps", as_token(s, "GET", cms, token), 200)
    # SubjectAccessReview, as a webhook asks it about somebody else.
    sar = lambda spec, user="alice": s.request("POST", ACME + "/apis/authorization.k8s.io/v1/subjectaccessreviews", {
        "apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview", "spec": spec}, user=user)
    attrs = {"resourceAttributes": {"verb": "list", "resource": "configmaps", "namespace": "default", "version": "v1"}}
    for who, want in ((dict(user="system:serviceaccount:default:ctrl"), True), (dict(user="carol"), False),
                      (dict(user="system:serviceaccount:default:ctrl", extra={"authentication.kubernetes.io/cluster-name": ["root:orgs:globex"]}), False),
                      # kcp's components name the cluster by its logical cluster name.
                      (dict(user="system:serviceaccount:default:ctrl", extra={"authentication.kubernetes.io/cluster-name": [acme_name]}), True)):
        got = expect("a review of %s" % who, sar(dict(attrs, **who)), 201).get("status", {}).get("allowed")
        if got != want:
            problems.append("SubjectAccessReview of %s: want %s, got %s" % (who, want, got))
    expect("carol asks about acme", sar(dict(attrs, user="alice"), user="carol"), 404)
    expect("a review of nobody", sar(attrs), 422)
    # The model decides for it as for a person: a member reads, owners create.
    expect("ctrl (a member) creates one", as_token(s, "POST", cms, token, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}}), 403)
    expect("alice creates one", s.request("POST", cms, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "from-alice"}}, user="alice"), 201)
    # Without a workspace in the path, a ServiceAccount's request is for its own (kcp's in-cluster rewrite).
    expect("ctrl's unqualified path", as_token(s, "GET", "/api/v1/namespaces/default/configmaps/from-alice", token), 200)
    # What it creates is its own by its kcp-wide name, not by a short name any workspace may have.
    robots = expect("ctrl creates an account", as_token(s, "POST", ACME + "/" + ACC, token, {
        "apiVersion": "core.platform-mesh.io/v1alpha1", "kind": "Account", "metadata": {"name": "robots"}, "spec": {"type": "account", "displayName": "An account"}}), 201)
    if robots.get("spec", {}).get("creator") != "system:kcp:serviceaccount:root:orgs:acme:default:ctrl":
        problems.append("the creator of ctrl's account: %s" % robots.get("spec"))
    # Everywhere else it is nobody, and nothing there exists for it.
    for where in ("/clusters/root:orgs:globex/api/v1/namespaces/default/configmaps", "/clusters/root:orgs/" + ACC,
                  "/clusters/root/api/v1/namespaces", "/clusters/root:orgs:acme:x/api/v1/namespaces", "/clusters/*/api/v1/configmaps"):
        expect("ctrl at " + where, as_token(s, "GET", where, token), 404)
    expect("ctrl creates an organization", as_token(s, "POST", "/clusters/root:orgs/" + ACC, token, {
        "apiVersion": "core.platform-mesh.io/v1alpha1", "kind": "Account", "metadata": {"name": "evil"}, "spec": {"type": "org", "displayName": "An organization"}}), 404)
    # A globex ServiceAccount of the same name is somebody else: acme's grant is not its.
    expect("carol creates globex's ctrl", s.request("POST", "/clusters/root:orgs:globex/api/v1/namespaces/default/serviceaccounts",
                                                    {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "ctrl"}}, user="carol"), 201)
    gtoken = expect("carol mints globex's ctrl", s.request("POST", "/clusters/root:orgs:globex/api/v1/namespaces/default/serviceaccounts/ctrl/token",
                                                         {"kind": "TokenRequest", "apiVersion": "authentication.k8s.io/v1", "spec": {}}, user="carol"), 201)["status"]["token"]
    expect("globex's ctrl in acme", as_token(s, "GET", cms, gtoken), 404)
    expect("globex's ctrl at home, ungranted", as_token(s, "GET", "/clusters/root:orgs:globex/api/v1/namespaces/default/configmaps", gtoken), 404)

    # Forged, for another audience, or not valid yet as a token at all.
    parts = token.split(".")
    flipped = parts[0] + "." + parts[1] + "." + ("A" if parts[2][0] != "A" else "B") + parts[2][1:]
    expect("a flipped signature", as_token(s, "GET", cms, flipped), 401)
    evil = dict(c, **{"kubernetes.io": dict(c["kubernetes.io"], clusterName="root:orgs:globex")})
    forged = parts[0] + "." + base64.urlsafe_b64encode(json.dumps(evil).encode()).decode().rstrip("=") + "." + parts[2]
    expect("a claim moved to globex", as_token(s, "GET", "/clusters/root:orgs:globex/api/v1/namespaces/default/configmaps", forged), 401)
    none = base64.urlsafe_b64encode(b'{"alg":"none"}').decode().rstrip("=") + "." + parts[1] + "."
    expect("alg none", as_token(s, "GET", cms, none), 401)
    vault = mint(s, "ctrl", spec={"audiences": ["vault"]})
    expect("a token for vault", as_token(s, "GET", cms, vault), 401)

    # TokenReview, as a component asks it: members of acme may, strangers not.
    review = lambda tok, aud=None, user="alice": s.request("POST", ACME + "/apis/authentication.k8s.io/v1/tokenreviews", {
        "apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": dict({"token": tok}, **({"audiences": aud} if aud else {}))}, user=user)
    st = expect("alice reviews ctrl's token", review(token), 201).get("status", {})
    if not st.get("authenticated") or st.get("user", {}).get("username") != "system:serviceaccount:default:ctrl":
        problems.append("the review of ctrl's token: %s" % st)
    st = expect("a review for vault", review(vault, ["vault"]), 201).get("status", {})
    if not st.get("authenticated") or st.get("audiences") != ["vault"]:
        problems.append("the review of a vault token: %s" % st)
    st = expect("a review of the API token for vault", review(token, ["vault"]), 201).get("status", {})
    if st.get("authenticated"):
        problems.append("a token for the API passed a review for vault")
    if expect("a review of garbage", review("x.y.z"), 201).get("status", {}).get("authenticated"):
        problems.append("garbage authenticated")
    if expect("a review of a user token plus a word", review(s.tokens["alice"] + " admin"), 201).get("status", {}).get("authenticated"):
        problems.append("a token with a trailing word authenticated")
    expect("carol reviews in acme", review(token, user="carol"), 404)

    # The issuer's discovery and keys, for whoever verifies tokens offline.
    conf = expect("openid-configuration", s.request("GET", "/.well-known/openid-configuration", user="bob"), 200)
    keys = expect("jwks", s.request("GET", "/openid/v1/jwks", user="bob"), 200).get("keys", [])
    kid = json.loads(base64.urlsafe_b64decode(parts[0] + "=" * (-len(parts[0]) % 4)))["kid"]
    if conf.get("issuer") != c["iss"] or kid not in [k.get("kid") for k in keys] or any("d" in k for k in keys):
        problems.append("discovery %s / jwks %s do not publish the token's issuer and key (and only public keys)" % (conf, keys))

    # TokenRequest validation, as kube's.
    code, body, _ = s.request("POST", SA + "/ctrl/token", {"kind": "TokenRequest", "apiVersion": "authentication.k8s.io/v1",
                                                         "spec": {"expirationSeconds": 599}}, user="alice")
    if code != 422 or "may not specify a duration less than 10 minutes" not in json.dumps(body):
        problems.append("a 599 s token: %d %s" % (code, body))
    expect("a token bound to a pod", s.request("POST", SA + "/ctrl/token", {"kind": "TokenRequest", "apiVersion": "authentication.k8s.io/v1",
                                                                           "spec": {"boundObjectRef": {"kind": "Pod", "apiVersion": "v1", "name": "p"}}}, user="alice"), 404)

    # A token bound to a Secret dies with it; every token dies with its ServiceAccount.
    expect("a secret", s.request("POST", ACME + "/api/v1/namespaces/default/secrets", {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s1"}}, user="alice"), 201)
    bound = mint(s, "ctrl", spec={"boundObjectRef": {"kind": "Secret", "apiVersion": "v1", "name": "s1"}})
    expect("the bound token", as_token(s, "GET", cms, bound), 200)
    expect("the secret goes", s.request("DELETE", ACME + "/api/v1/namespaces/default/secrets/s1", user="alice"), 200)
    expect("the bound token after its secret went", as_token(s, "GET", cms, bound), 401)
    expect("the token before a restart", as_token(s, "GET", cms, token), 200)
    s.stop()
    s.start()
    expect("the token after a restart", as_token(s, "GET", cms, token), 200)
    expect("ctrl goes", s.request("DELETE", SA + "/ctrl", user="alice"), 200)
    expect("the token after ctrl went", as_token(s, "GET", cms, token), 401)
    expect("ctrl again", s.request("POST", SA, {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "ctrl"}}, user="alice"), 201)
    expect("the old token for the new ctrl", as_token(s, "GET", cms, token), 401)

    # kubectl: every version on the machine creates a ServiceAccount and its
    # token (JSON or protobuf), and the token says who it is.
    work = tempfile.mkdtemp()
    alice = kubeconfig(s, work, "alice", s.tokens["alice"], ACME)
    for i, k in enumerate(sys.argv[2:]):
        name = "kc%d" % i
        run = lambda *a, kc=alice: subprocess.run([k, "--kubeconfig", kc, *a], capture_output=True, text=True, timeout=60)
        r = run("create", "serviceaccount", name)
        if r.returncode != 0:
            problems.append("%s create serviceaccount: %s" % (k, r.stderr))
            continue
        r = run("create", "token", name, "--duration", "15m")
        if r.returncode != 0:
            problems.append("%s create token: %s" % (k, r.stderr))
            continue
        r = run("auth", "whoami", "-o", "json", kc=kubeconfig(s, work, name, r.stdout.strip(), ""))
        if r.returncode != 0 or json.loads(r.stdout or "{}").get("status", {}).get("userInfo", {}).get("username") != "system:serviceaccount:default:" + name:
            problems.append("%s auth whoami with %s's token: %s %s" % (k, name, r.stdout, r.stderr))

    # A controller in the Python client, configured with nothing but its
    # token and the server (no workspace in the URL): it reaches acme only.
    from kubernetes import client
    from kubernetes.client.rest import ApiException
    ctrl_token = mint(s, "ctrl")
    expect("the new ctrl holds the grants of its name, as RBAC bindings by name do", as_token(s, "GET", cms, ctrl_token), 200)
    conf = client.Configuration()
    conf.host = "https://127.0.0.1:%d" % s.port
    conf.ssl_ca_cert = os.path.join(s.data, "serving.pem")
    conf.api_key = {"authorization": "Bearer " + ctrl_token}
    v1 = client.CoreV1Api(client.ApiClient(conf))
    names = [m.metadata.name for m in v1.list_namespaced_config_map("default").items]
    if "from-alice" not in names:
        problems.append("the Python client as ctrl lists %s" % names)
    conf2 = client.Configuration()
    conf2.host = "https://127.0.0.1:%d/clusters/root:orgs:globex" % s.port
    conf2.ssl_ca_cert = conf.ssl_ca_cert
    conf2.api_key = conf.api_key
    try:
        client.CoreV1Api(client.ApiClient(conf2)).list_namespaced_config_map("default")
        problems.append("the Python client as ctrl listed globex's configmaps")
    except ApiException as e:
        if e.status != 404:
            problems.append("the Python client as ctrl in globex: %d" % e.status)

if problems:
    print("FAIL:\n  " + "\n  ".join(problems))
    sys.exit(1)
print("ServiceAccounts: tokens minted, confined to their workspace, revoked with their objects, kept across a restart; "
      "reviews and discovery; kubectl %d versions" % len(sys.argv[2:]))
