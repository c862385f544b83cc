#!/usr/bin/env bash
# Authentication and authorization end to end: `pmesh serve` over TLS with a
# token file (alice, bob); kubectl with the CA file and each user's token;
# the OpenFGA API to grant and take back membership.
# Usage: auth_e2e.sh PMESH KUBECTL
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
source "$here/lib.sh"
KUBECTL="$2"
export HOME="$WORK/home"
mkdir -p "$HOME"
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$WORK/key.pem" -out "$WORK/cert.pem" -days 1 -subj "/CN=pmesh" \
  -addext "subjectAltName=IP:127.0.0.1" 2> /dev/null
printf 'alice-token,alice,1001,"developers"\nbob-token,bob,1002\n' > "$WORK/tokens.csv"
start_server "$1" --tls-cert-file "$WORK/cert.pem" --tls-private-key-file "$WORK/key.pem" --token-file "$WORK/tokens.csv"

[ -n "$SERVER" ] || fail "the admin kubeconfig names no https server"

# kubectl as a user: no kubeconfig, the CA file, a token.
as() { local token="$1" ws="$2"; shift 2
  "$KUBECTL" --kubeconfig /dev/null --request-timeout=20s --certificate-authority "$WORK/cert.pem" \
    --server "$SERVER/clusters/$ws" --token "$token" "$@"; }
# The OpenFGA API as a user: POST BODY to /stores/acme/OP (an organization's
# store, by its name); prints the answer.
fga() { python3 - "$SERVER" "$WORK/cert.pem" "$1" "$2" "$3" "${4:-acme}" <<'PY'
import json, ssl, sys, urllib.request, urllib.error
server, ca, token, op, body, store = sys.argv[1:]
ctx = ssl.create_default_context(cafile=ca)
req = urllib.request.Request(server + "/stores/" + store + "/" + op, data=body.encode(), method="POST",
                             headers={"Authorization": "Bearer " + token, "Content-Type": "application/json"})
try:
    print(urllib.request.urlopen(req, context=ctx, timeout=20).read().decode())
except urllib.error.HTTPError as e:
    print(e.code, e.read().decode())
PY
}

# The admin kubeconfig works (CA data and the generated admin token).
"$KUBECTL" --request-timeout=20s get workspaces -o name | grep -qx "workspace.tenancy.kcp.io/orgs" || fail "admin kubeconfig"
# No credential, a wrong one: 401, and nothing says why.
out=$(python3 -c "
import ssl, sys, urllib.request, urllib.error
ctx = ssl.create_default_context(cafile='$WORK/cert.pem')
for h in ({}, {'Authorization': 'Bearer nope'}):
    try: urllib.request.urlopen(urllib.request.Request('$SERVER/clusters/root/api/v1/namespaces', headers=h), context=ctx, timeout=20)
    except urllib.error.HTTPError as e: print(e.code, e.read().decode())
")
[ "$(echo "$out" | grep -c '^401 .*"reason":"Unauthorized"')" -eq 2 ] || fail "unauthenticated requests: $out"
echo "$out" | grep -q "unknown token" && fail "a 401 says why the token was refused"
# Health needs no credential.
python3 -c "
import ssl, urllib.request
ctx = ssl.create_default_context(cafile='$WORK/cert.pem')
assert urllib.request.urlopen('$SERVER/healthz', context=ctx, timeout=20).status == 200" || fail "healthz"
# Plain HTTP on the TLS port gets nothing.
if python3 -c "import urllib.request; urllib.request.urlopen('${SERVER/https/http}/clusters/root/api', timeout=10)" 2> /dev/null; then
  fail "plain HTTP was answered"
fi

# alice creates org acme and becomes its owner.
as alice-token root:orgs apply -f "$here/../../examples/quickstart/01-org.yaml" > /dev/null || fail "alice creates acme"
[ "$(as alice-token root:orgs get account acme -o jsonpath='{.spec.creator}')" = alice ] || fail "the creator is the user"
as alice-token root:orgs:acme apply -f "$here/../../examples/quickstart/02-account.yaml" > /dev/null || fail "alice creates team-a"
as alice-token root:orgs:acme get accounts -o name | grep -qx "account.core.platform-mesh.io/team-a" || fail "alice lists acme"
# Lists show each user their own organizations.
as alice-token root:orgs get accounts -o name | grep -qx "account.core.platform-mesh.io/acme" || fail "alice lists her org"
[ -z "$(as bob-token root:orgs get accounts -o name)" ] || fail "bob sees acme in the list of orgs"
# kubectl auth can-i follows the relations.
[ "$(as alice-token root:orgs:acme auth can-i delete accounts 2>/dev/null)" = yes ] || fail "can-i: alice may delete"
{ as bob-token root:orgs:acme auth can-i list accounts 2>/dev/null || true; } | grep -q '^no' || fail "can-i: bob may not list"
# bob does not see acme at all.
as bob-token root:orgs get account acme > "$WORK/out" 2>&1 && fail "bob got acme"
grep -q 'NotFound' "$WORK/out" || fail "bob's get of acme should be NotFound: $(cat "$WORK/out")"
as bob-token root:orgs:acme get accounts > "$WORK/out" 2>&1 && fail "bob listed in acme"
grep -q 'logical cluster "root:orgs:acme" not found' "$WORK/out" || fail "acme should not exist for bob: $(cat "$WORK/out")"
as bob-token root:orgs:acme api-resources > "$WORK/out" 2>&1 && fail "bob discovered acme's resources"
as bob-token root:orgs:nowhere api-resources > "$WORK/nowhere" 2>&1 || true
[ "$(grep -c NotFound "$WORK/out")" -gt 0 ] && [ "$(grep -c NotFound "$WORK/nowhere")" -gt 0 ] || fail "discovery of an unseen workspace and of a missing one should both be NotFound"
ACME=$(fga alice-token read '{}' | python3 -c 'import json,sys; print([t["key"]["object"] for t in json.load(sys.stdin)["tuples"] if t["key"]["relation"] == "owner" and t["key"]["object"].endswith("/acme")][0])')
# bob cannot grant himself membership: acme's store is, to him, a store that does not exist.
fga bob-token write '{"writes":{"tuple_keys":[{"user":"user:bob","relation":"assignee","object":"role:core_platform-mesh_io_account/'"${ACME#core_platform-mesh_io_account:}"'/member"}]}}' | grep -q '^404 .*store_id_not_found' || fail "bob granted himself membership"
[ "$(fga bob-token read '{}' acme)" = "$(fga bob-token read '{}' nowhere)" ] || fail "acme's store and a missing store read differently to bob"
[ "$(fga alice-token check '{"tuple_key":{"user":"user:alice","relation":"delete","object":"'"$ACME"'"}}')" = '{"allowed":true,"resolution":""}' ] || fail "check: alice may delete acme"
[ "$(fga alice-token check '{"tuple_key":{"user":"user:bob","relation":"get","object":"'"$ACME"'"}}')" = '{"allowed":false,"resolution":""}' ] || fail "check: bob may not get acme"
# alice grants bob acme's member role, as the IAM service grants a role
# (the role's assignee, and the role's assignees as members): bob lists,
# but cannot delete.
ROLE="role:core_platform-mesh_io_account/${ACME#core_platform-mesh_io_account:}/member"
GRANT='[{"user":"user:bob","relation":"assignee","object":"'"$ROLE"'"},{"user":"'"$ROLE"'#assignee","relation":"member","object":"'"$ACME"'"}]'
[ "$(fga alice-token write '{"writes":{"tuple_keys":'"$GRANT"'}}')" = '{}' ] || fail "alice grants bob membership"
fga bob-token write '{"writes":{"tuple_keys":[{"user":"user:carol","relation":"assignee","object":"'"$ROLE"'"}]}}' | grep -q '^403 .*may not manage the IAM roles' || fail "a member grants roles"
as bob-token root:orgs:acme get accounts -o name | grep -qx "account.core.platform-mesh.io/team-a" || fail "bob lists acme as a member"
[ "$(as bob-token root:orgs:acme auth can-i list accounts 2>/dev/null)" = yes ] || fail "can-i: bob may list as a member"
{ as bob-token root:orgs:acme auth can-i delete accounts 2>/dev/null || true; } | grep -q '^no - User "bob" cannot delete' || fail "can-i: a member may not delete"
# The core model: members of acme are not members of the accounts in it.
as bob-token root:orgs:acme:team-a get accountinfo account > /dev/null 2>&1 && fail "membership is inherited by team-a"
as bob-token root:orgs:acme delete account team-a > "$WORK/out" 2>&1 && fail "bob deleted team-a"
grep -q 'User "bob" cannot delete resource "accounts" in API group "core.platform-mesh.io" at the cluster scope: not allowed in workspace "root:orgs:acme"' "$WORK/out" || fail "a 403 names verb, resource and workspace: $(cat "$WORK/out")"
fga alice-token list-objects '{"type":"core_platform-mesh_io_account","relation":"get","user":"user:bob"}' | grep -q "$ACME" || fail "list-objects"
# Taken away: the next request is NotFound again.
[ "$(fga alice-token write '{"deletes":{"tuple_keys":'"$GRANT"'}}')" = '{}' ] || fail "alice takes membership away"
as bob-token root:orgs:acme get accounts > /dev/null 2>&1 && fail "bob still lists acme"
# Server-side apply of a new organization makes its applier the creator too.
sed 's/name: acme/name: initech/' "$here/../../examples/quickstart/01-org.yaml" | as bob-token root:orgs apply --server-side -f - > /dev/null || fail "bob applies initech"
[ "$(as bob-token root:orgs get account initech -o jsonpath='{.spec.creator}')" = bob ] || fail "server-side apply: the creator is the user"
# One store per organization: bob's org globex is not in acme's store.
sed 's/name: acme/name: globex/' "$here/../../examples/quickstart/01-org.yaml" | as bob-token root:orgs apply -f - > /dev/null || fail "bob creates globex"
fga alice-token read '{}' | grep -q '/globex"' && fail "acme's store shows globex's tuples"
fga bob-token read '{}' globex | grep -q '/globex"' || fail "globex's store shows its tuples"
GLOBEX=$(fga bob-token read '{}' globex | python3 -c 'import json,sys; print([t["key"]["object"] for t in json.load(sys.stdin)["tuples"] if t["key"]["relation"] == "owner"][0])')
[ "$(fga bob-token check '{"tuple_key":{"user":"user:bob","relation":"delete","object":"'"$GLOBEX"'"}}' globex)" = '{"allowed":true,"resolution":""}' ] || fail "check in globex's store"
fga bob-token check '{"tuple_key":{"user":"user:bob","relation":"delete","object":"'"$GLOBEX"'"}}' | grep -q '^404 .*store_id_not_found' || fail "acme's store answers bob"
fga alice-token check '{"tuple_key":{"user":"user:bob","relation":"delete","object":"'"$GLOBEX"'"}}' | grep -q '^403 .*forbidden' || fail "acme's store answers for globex"
fga alice-token read '{}' nowhere | grep -q '^404 .*store_id_not_found' || fail "an unknown store"
[ "$(as bob-token root:orgs get accounts -o name | sort | tr '\n' ' ')" = "account.core.platform-mesh.io/globex account.core.platform-mesh.io/initech " ] || fail "bob lists his own orgs only"
# alice may delete what she owns.
as alice-token root:orgs:acme delete account team-a | grep -q deleted || fail "alice deletes team-a"
echo "auth e2e: ok"
