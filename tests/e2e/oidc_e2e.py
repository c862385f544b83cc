#!/usr/bin/python3
"""OIDC ID tokens against `pmesh serve` over TLS: a fixture issuer signs
tokens with its own RSA and EC keys and writes their JWKS. Valid RS256 and
ES256 tokens get in (as the username claim, with the groups claim); expired,
not-yet-valid, wrong-audience, wrong-issuer, unknown-kid, tampered and
wrong-algorithm tokens get 401 with nothing said about why; a key added to
the JWKS later (rotation) is picked up. Then the same with the JWKS fetched
from the issuer's URL over HTTPS.

Usage: oidc_e2e.py PMESH
"""
import base64
import datetime
import json
import os
import shutil
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import NameOID
import http.server
import ipaddress
import threading

ISSUER = "https://keycloak.example/realms/platform-mesh"
CLIENT = "pmesh"


def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def uint(n, size=None):
    raw = n.to_bytes(size or (n.bit_length() + 7) // 8, "big")
    return b64(raw)


def jwk(kid, key):
    pub = key.public_key().public_numbers()
    if isinstance(key, rsa.RSAPrivateKey):
        return {"kty": "RSA", "kid": kid, "alg": "RS256", "use": "sig", "n": uint(pub.n), "e": uint(pub.e)}
    return {"kty": "EC", "kid": kid, "crv": "P-256", "alg": "ES256", "use": "sig", "x": uint(pub.x, 32), "y": uint(pub.y, 32)}


def sign(key, kid, claims, alg=None):
    alg = alg or ("RS256" if isinstance(key, rsa.RSAPrivateKey) else "ES256")
    head = b64(json.dumps({"alg": alg, "kid": kid, "typ": "JWT"}).encode())
    body = b64(json.dumps(claims).encode())
    data = (head + "." + body).encode()
    if isinstance(key, rsa.RSAPrivateKey):
        sig = key.sign(data, padding.PKCS1v15(), hashes.SHA256())
    else:
        r, s = decode_dss_signature(key.sign(data, ec.ECDSA(hashes.SHA256())))
        sig = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    return head + "." + body + "." + b64(sig)


def claims(**over):
    now = int(time.time())
    c = {"iss": ISSUER, "aud": [CLIENT, "account"], "sub": "f:1234:alice", "preferred_username": "alice@acme.example",
         "groups": ["developers"], "iat": now, "exp": now + 300}
    c.update(over)
    return {k: v for k, v in c.items() if v is not None}


def self_signed(work):
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "pmesh")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .sign(key, hashes.SHA256()))
    cert_file, key_file = os.path.join(work, "cert.pem"), os.path.join(work, "key.pem")
    with open(cert_file, "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    with open(key_file, "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                  serialization.NoEncryption()))
    return cert_file, key_file


def start_server(pmesh, work, data, cert, key, jwks_flags):
    log = open(os.path.join(work, data + ".log"), "w")
    proc = subprocess.Popen([pmesh, "serve", "--data-dir", os.path.join(work, data), "--listen", "127.0.0.1:0",
                             "--tls-cert-file", cert, "--tls-private-key-file", key,
                             "--oidc-issuer-url", ISSUER, "--oidc-client-id", CLIENT, *jwks_flags,
                             "--oidc-username-claim", "preferred_username", "--oidc-groups-claim", "groups"],
                            stdout=subprocess.PIPE, stderr=log, text=True)
    deadline = time.time() + 10
    while time.time() < deadline:
        line = proc.stdout.readline()
        if "kubeconfig written to" in line:
            kc = open(line.strip().split("kubeconfig written to ")[1]).read()
            return proc, [l.split("server: ")[1] for l in kc.splitlines() if "server: " in l and "/clusters/" not in l][0]
    proc.kill()
    raise SystemExit("FAIL: the server did not start: " + open(os.path.join(work, data + ".log")).read())


def status_of(server, ctx, token):
    req = urllib.request.Request(server + "/clusters/root:orgs/apis/core.platform-mesh.io/v1alpha1/accounts",
                                 headers={"Authorization": "Bearer " + token})
    try:
        return urllib.request.urlopen(req, context=ctx, timeout=20).status
    except urllib.error.HTTPError as e:
        return e.code


def jwks_url_phase(pmesh, work, cert, key):
    """The JWKS from the issuer's URL: fetched at start, and again (at most
    every 10 seconds) when a token names a key it does not hold."""
    keys = {"current": {"keys": []}}
    # A slow issuer: while `hold` is set, a fetch waits for `release`.
    hold, asked, release = threading.Event(), threading.Event(), threading.Event()

    class Jwks(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            if hold.is_set():
                asked.set()
                release.wait(30)
            body = json.dumps(keys["current"]).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    keys["current"] = {"keys": [jwk("url-rsa-1", rsa_key)]}
    issuer = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Jwks)
    sctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    sctx.load_cert_chain(cert, key)
    issuer.socket = sctx.wrap_socket(issuer.socket, server_side=True)
    threading.Thread(target=issuer.serve_forever, daemon=True).start()
    url = "https://127.0.0.1:%d/protocol/openid-connect/certs" % issuer.server_address[1]
    proc, server = start_server(pmesh, work, "data-url", cert, key, ["--oidc-jwks-url", url, "--oidc-ca-file", cert])
    try:
        ctx = ssl.create_default_context(cafile=cert)
        assert status_of(server, ctx, sign(rsa_key, "url-rsa-1", claims())) == 200, "a key from the JWKS URL"
        new_key = ec.generate_private_key(ec.SECP256R1())
        keys["current"] = {"keys": [jwk("url-rsa-1", rsa_key), jwk("url-ec-2", new_key)]}
        time.sleep(10.5)  # the verifier fetches at most every 10 seconds
        # The token with the rotated key makes the server fetch the JWKS from
        # an issuer that is slow to answer: meanwhile every other request is
        # served (the fetch runs off the serving thread), and the waiting
        # request resumes once the keys are in.
        hold.set()
        result = {}
        waiting = threading.Thread(target=lambda: result.update(status=status_of(server, ctx, sign(new_key, "url-ec-2", claims()))))
        waiting.start()
        assert asked.wait(20), "the server did not fetch the JWKS for an unknown kid"
        for _ in range(5):
            assert status_of(server, ctx, sign(rsa_key, "url-rsa-1", claims())) == 200, "a request while the JWKS is being fetched"
        assert not release.is_set() and waiting.is_alive(), "the fetch should still be under way"
        hold.clear()
        release.set()
        waiting.join(30)
        assert result.get("status") == 200, ("a rotated key from the URL", result)
        assert status_of(server, ctx, sign(new_key, "url-ec-9", claims())) == 401, "an unknown kid"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        issuer.shutdown()


def main():
    pmesh = sys.argv[1]
    work = tempfile.mkdtemp()
    proc = None
    try:
        cert, key = self_signed(work)
        rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        ec_key = ec.generate_private_key(ec.SECP256R1())
        jwks = os.path.join(work, "jwks.json")
        with open(jwks, "w") as f:
            json.dump({"keys": [jwk("rsa-1", rsa_key), jwk("ec-1", ec_key)]}, f)
        log = open(os.path.join(work, "serve.log"), "w")
        proc = subprocess.Popen([pmesh, "serve", "--data-dir", os.path.join(work, "data"), "--listen", "127.0.0.1:0",
                                 "--tls-cert-file", cert, "--tls-private-key-file", key,
                                 "--oidc-issuer-url", ISSUER, "--oidc-client-id", CLIENT, "--oidc-jwks-file", jwks,
                                 "--oidc-username-claim", "preferred_username", "--oidc-groups-claim", "groups"],
                                stdout=subprocess.PIPE, stderr=log, text=True)
        deadline = time.time() + 10
        server = None
        while time.time() < deadline and server is None:
            line = proc.stdout.readline()
            if "kubeconfig written to" in line:
                kc = open(line.strip().split("kubeconfig written to ")[1]).read()
                server = [l.split("server: ")[1] for l in kc.splitlines() if "server: " in l and "/clusters/" not in l][0]
        assert server and server.startswith("https://127.0.0.1:"), server
        ctx = ssl.create_default_context(cafile=cert)

        def call(token, method="GET", path="/clusters/root:orgs/apis/core.platform-mesh.io/v1alpha1/accounts", body=None):
            req = urllib.request.Request(server + path, method=method, data=json.dumps(body).encode() if body else None,
                                         headers={"Authorization": "Bearer " + token, "Content-Type": "application/json"})
            try:
                r = urllib.request.urlopen(req, context=ctx, timeout=20)
                return r.status, json.loads(r.read())
            except urllib.error.HTTPError as e:
                return e.code, json.loads(e.read())

        # Valid tokens, RS256 and ES256: alice creates an org and is its owner.
        org = {"apiVersion": "core.platform-mesh.io/v1alpha1", "kind": "Account", "metadata": {"name": "acme"},
               "spec": {"type": "org", "displayName": "An organization"}}
        status, created = call(sign(rsa_key, "rsa-1", claims()), "POST", body=org)
        assert status == 201 and created["spec"]["creator"] == "alice@acme.example", (status, created)
        status, listing = call(sign(ec_key, "ec-1", claims()))
        assert status == 200 and [i["metadata"]["name"] for i in listing["items"]] == ["acme"], (status, listing)
        status, _ = call(sign(ec_key, "ec-1", claims()), path="/clusters/root:orgs:acme/apis/core.platform-mesh.io/v1alpha1/accounts")
        assert status == 200, status
        # Another user from the same issuer sees nothing of acme.
        status, listing = call(sign(rsa_key, "rsa-1", claims(preferred_username="bob@acme.example")))
        assert status == 200 and listing["items"] == [], listing

        now = int(time.time())
        good = sign(rsa_key, "rsa-1", claims())
        head, body, sig = good.split(".")
        tampered_body = b64(json.dumps(claims(preferred_username="admin", groups=["system:masters"])).encode())
        other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        bad = {
            "expired": sign(rsa_key, "rsa-1", claims(exp=now - 10)),
            "not yet valid": sign(rsa_key, "rsa-1", claims(nbf=now + 600)),
            "wrong audience": sign(rsa_key, "rsa-1", claims(aud="someone-else")),
            "wrong issuer": sign(rsa_key, "rsa-1", claims(iss="https://evil.example")),
            "unknown kid": sign(other_key, "rsa-9", claims()),
            "a key the kid does not name": sign(other_key, "rsa-1", claims()),
            "tampered claims": head + "." + tampered_body + "." + sig,
            "tampered signature": head + "." + body + "." + sig[:-4] + ("AAAA" if sig[-4:] != "AAAA" else "BBBB"),
            "alg none": b64(json.dumps({"alg": "none", "kid": "rsa-1"}).encode()) + "." + body + ".",
            "HS256": b64(json.dumps({"alg": "HS256", "kid": "rsa-1"}).encode()) + "." + body + "." + sig,
            "no expiry": sign(rsa_key, "rsa-1", claims(exp=None)),
            "garbage": "not.a.jwt",
        }
        for what, token in bad.items():
            status, answer = call(token)
            assert status == 401 and answer.get("reason") == "Unauthorized" and answer.get("message") == "Unauthorized", (what, status, answer)

        # Rotation: a new key in the JWKS file is picked up.
        new_key = ec.generate_private_key(ec.SECP256R1())
        time.sleep(1.1)  # a later modification time than the first load
        with open(jwks, "w") as f:
            json.dump({"keys": [jwk("rsa-1", rsa_key), jwk("ec-2", new_key)]}, f)
        status, _ = call(sign(new_key, "ec-2", claims()))
        assert status == 200, ("rotated key", status)
        status, _ = call(sign(ec_key, "ec-1", claims()))
        assert status == 401, ("retired key", status)
        log.flush()
        assert "unknown kid" in open(os.path.join(work, "serve.log")).read(), "the log says why a token was refused"
        jwks_url_phase(pmesh, work, cert, key)
        print("oidc e2e: ok")
    finally:
        if proc:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
