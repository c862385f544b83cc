#!/usr/bin/env bash
# kubectl against `pmesh serve`: discovery, apply (client-side and
# server-side), create, get (-o yaml/json, -l, by name), watch, patch
# (merge, json), replace, delete (waits until gone), dry-run=server, and a
# child workspace. Usage: kubectl_e2e.sh PMESH KUBECTL
set -euo pipefail
pmesh="$1"
kubectl_bin="$2"
here="$(cd "$(dirname "$0")" && pwd)"
source "$here/lib.sh"
start_server "$pmesh"
K=("$kubectl_bin" --cache-dir "$WORK/cache" --request-timeout=20s)
ORGS=(--server "$SERVER/clusters/root:orgs")
echo "kubectl: $("$kubectl_bin" version --client 2>/dev/null | head -1)"

"${K[@]}" api-resources > "$WORK/out"
grep -q "^accounts .*core.platform-mesh.io/v1alpha1 .*false .*Account" "$WORK/out" || fail "api-resources: $(cat "$WORK/out")"
grep -q "^workspaces .*ws .*tenancy.kcp.io/v1alpha1" "$WORK/out" || fail "api-resources lists workspaces"
grep -q "^configmaps .*cm .*v1 .*true .*ConfigMap" "$WORK/out" || fail "api-resources lists configmaps"

# The bootstrap made root:orgs and the workspace types of root.
"${K[@]}" get workspacetypes -o name > "$WORK/out"
grep -qx "workspacetype.tenancy.kcp.io/org" "$WORK/out" || fail "bootstrap workspace types: $(cat "$WORK/out")"
cat > "$WORK/ws.yaml" <<'YAML'
apiVersion: tenancy.kcp.io/v1alpha1
kind: Workspace
metadata:
  name: playground
spec:
  type: {name: universal}
YAML
"${K[@]}" apply -f "$WORK/ws.yaml" > "$WORK/out" || fail "apply: $(cat "$WORK/out")"
grep -q "workspace.tenancy.kcp.io/playground created" "$WORK/out" || fail "apply output: $(cat "$WORK/out")"
"${K[@]}" apply -f "$WORK/ws.yaml" | grep -q "unchanged" || fail "second apply is unchanged"
"${K[@]}" apply --server-side -f "$WORK/ws.yaml" | grep -q "serverside-applied" || fail "server-side apply"
"${K[@]}" get workspace playground -o jsonpath='{.spec.type.name}' | grep -qx universal || fail "get by name"
"${K[@]}" get ws -o json | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["kind"]=="List" or d["kind"].endswith("List"); assert [i["metadata"]["name"] for i in d["items"]]==["orgs","playground"], d' || fail "get -o json"
"${K[@]}" get ws playground -o yaml | grep -q "kcp.io/cluster: root" || fail "get -o yaml"

# The child workspace root:orgs exists (and has a context of its own); a
# workspace that does not is NotFound.
"${K[@]}" --context orgs get accounts > /dev/null || fail "the orgs context"
cat > "$WORK/acc.yaml" <<'YAML'
apiVersion: core.platform-mesh.io/v1alpha1
kind: Account
metadata:
  name: acme
  labels: {tier: gold}
spec:
  type: org
  displayName: ACME
YAML
"${K[@]}" "${ORGS[@]}" apply -f "$WORK/acc.yaml" | grep -q "account.core.platform-mesh.io/acme created" || fail "apply in root:orgs"
if "${K[@]}" --server "$SERVER/clusters/root:nope" get accounts > "$WORK/out" 2>&1; then fail "a missing workspace answered"; fi
"${K[@]}" "${ORGS[@]}" get accounts -l tier=gold -o name | grep -qx "account.core.platform-mesh.io/acme" || fail "label selector"
[ -z "$("${K[@]}" "${ORGS[@]}" get accounts -l 'tier in (silver)' -o name)" ] || fail "label selector excludes"
"${K[@]}" "${ORGS[@]}" get accounts --field-selector metadata.name=acme -o name | grep -q acme || fail "field selector"
# A built-in kind's own field labels: a Namespace's phase, a Secret's type.
"${K[@]}" get ns --field-selector status.phase=Active -o name | grep -qx "namespace/default" || fail "namespaces by phase"
[ -z "$("${K[@]}" get ns --field-selector status.phase=Terminating -o name)" ] || fail "namespaces by another phase"
"${K[@]}" create secret tls tls-one --cert=/dev/null --key=/dev/null > /dev/null 2>&1 ||
  "${K[@]}" create secret generic tls-one --type=kubernetes.io/tls --from-literal=tls.crt=x --from-literal=tls.key=y > /dev/null
"${K[@]}" create secret generic plain-one --from-literal=a=b > /dev/null
[ "$("${K[@]}" get secrets --field-selector type=Opaque -o name)" = "secret/plain-one" ] || fail "secrets by type"
[ "$("${K[@]}" get secrets --field-selector type!=Opaque -o name)" = "secret/tls-one" ] || fail "secrets by another type"
if "${K[@]}" get secrets --field-selector data.a=b > "$WORK/out" 2>&1; then fail "a field Secrets do not convert"; fi
grep -q "field label not supported: data.a" "$WORK/out" || fail "unsupported field label: $(cat "$WORK/out")"
# A CRD's selectableFields (apiextensions 1.31): kubectl applies it under
# strict validation, and its custom resources are listed by those fields,
# strings, booleans and integers alike.
cat > "$WORK/crd.yaml" <<'YAML'
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: shirts.stable.example.com}
spec:
  group: stable.example.com
  scope: Namespaced
  names: {plural: shirts, singular: shirt, kind: Shirt}
  versions:
  - name: v1
    served: true
    storage: true
    schema: &schema
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              color: {type: string}
              size: {type: integer}
              folded: {type: boolean}
    selectableFields:
    - jsonPath: .spec.color
    - jsonPath: .spec.size
    - jsonPath: .spec.folded
  - name: v2
    served: true
    storage: false
    schema: *schema
    selectableFields:
    - jsonPath: .spec.color
YAML
"${K[@]}" apply -f "$WORK/crd.yaml" > "$WORK/out" 2>&1 || fail "a CRD with selectableFields: $(cat "$WORK/out")"
[ "$("${K[@]}" get crd shirts.stable.example.com -o jsonpath='{.spec.versions[0].selectableFields[1].jsonPath}')" = ".spec.size" ] ||
  fail "selectableFields kept"
cat > "$WORK/shirts.yaml" <<'YAML'
apiVersion: stable.example.com/v1
kind: Shirt
metadata: {name: red-m}
spec: {color: red, size: 2, folded: true}
---
apiVersion: stable.example.com/v1
kind: Shirt
metadata: {name: blue-l}
spec: {color: blue, size: 3, folded: false}
---
apiVersion: stable.example.com/v1
kind: Shirt
metadata: {name: plain}
spec: {}
YAML
"${K[@]}" apply -f "$WORK/shirts.yaml" > "$WORK/out" 2>&1 || fail "shirts: $(cat "$WORK/out")"
[ "$("${K[@]}" get shirts.v1.stable.example.com --field-selector spec.color=red -o name)" = "shirt.stable.example.com/red-m" ] || fail "shirts by color"
[ "$("${K[@]}" get shirts.v1.stable.example.com --field-selector spec.size=3 -o name)" = "shirt.stable.example.com/blue-l" ] || fail "shirts by size"
[ "$("${K[@]}" get shirts.v1.stable.example.com --field-selector spec.folded=false -o name)" = "shirt.stable.example.com/blue-l" ] || fail "shirts by a boolean"
[ "$("${K[@]}" get shirts.v1.stable.example.com --field-selector spec.color= -o name)" = "shirt.stable.example.com/plain" ] || fail "an absent field reads as empty"
[ "$("${K[@]}" get shirts.v1.stable.example.com --field-selector spec.color!=red,metadata.name!=plain -o name)" = "shirt.stable.example.com/blue-l" ] ||
  fail "shirts by two fields"
# Each version selects its own fields (v2, the preferred version, only
# the color: kubectl's plain `shirts` is v2).
[ "$("${K[@]}" get shirts.v2.stable.example.com --field-selector spec.color=blue -o name)" = "shirt.stable.example.com/blue-l" ] ||
  fail "v2 shirts by color"
if "${K[@]}" get shirts --field-selector spec.size=3 > "$WORK/out" 2>&1; then fail "a field v2 does not select"; fi
if "${K[@]}" get shirts.v1.stable.example.com --field-selector spec.collar=x > "$WORK/out" 2>&1; then fail "a field the CRD does not select"; fi
grep -q "field label not supported: spec.collar" "$WORK/out" || fail "unselectable field: $(cat "$WORK/out")"
# kube's validation of the paths: 422, each error in its words.
sed -e 's/shirts.stable/pants.stable/; s/plural: shirts, singular: shirt, kind: Shirt/plural: pants, singular: pant, kind: Pant/' \
    -e 's/- jsonPath: .spec.size/- jsonPath: .metadata.name/; s/- jsonPath: .spec.folded/- jsonPath: .spec.nothing/' "$WORK/crd.yaml" > "$WORK/badcrd.yaml"
if "${K[@]}" apply -f "$WORK/badcrd.yaml" > "$WORK/out" 2>&1; then fail "a CRD with bad selectableFields was accepted"; fi
grep -q 'spec.versions\[0\].selectableFields\[2\].jsonPath: Invalid value: ".spec.nothing": is an invalid path: does not refer to a valid field' "$WORK/out" ||
  fail "an unknown selectable field: $(cat "$WORK/out")"
grep -q 'spec.versions\[0\].selectableFields\[1\].jsonPath: Invalid value: ".metadata.name": is an invalid path: does not refer to a valid field' "$WORK/out" ||
  fail "a metadata selectable field: $(cat "$WORK/out")"
if "${K[@]}" get crd pants.stable.example.com > /dev/null 2>&1; then fail "the refused CRD was stored"; fi
"${K[@]}" delete crd shirts.stable.example.com > /dev/null || fail "delete the CRD"

# The kind's schema: kubectl asks for strict field validation, so an unknown
# field is refused (400), and what the schema forbids is 422 with kube's words.
cat > "$WORK/bad.yaml" <<'YAML'
apiVersion: core.platform-mesh.io/v1alpha1
kind: Account
metadata: {name: badacc}
spec: {type: org, displayName: Bad, colour: red}
YAML
if "${K[@]}" "${ORGS[@]}" create -f "$WORK/bad.yaml" > "$WORK/out" 2>&1; then fail "an unknown field was accepted"; fi
grep -q 'strict decoding error: unknown field "spec.colour"' "$WORK/out" || fail "strict validation: $(cat "$WORK/out")"
"${K[@]}" "${ORGS[@]}" create --validate=false -f "$WORK/bad.yaml" > /dev/null 2>&1 || fail "--validate=false prunes and creates"
[ -z "$("${K[@]}" "${ORGS[@]}" get account badacc -o jsonpath='{.spec.colour}')" ] || fail "the unknown field was kept"
"${K[@]}" "${ORGS[@]}" delete account badacc > /dev/null
printf 'apiVersion: core.platform-mesh.io/v1alpha1\nkind: Account\nmetadata: {name: nameless}\nspec: {type: org}\n' > "$WORK/bad.yaml"
if "${K[@]}" "${ORGS[@]}" create -f "$WORK/bad.yaml" > "$WORK/out" 2>&1; then fail "an account without displayName was accepted"; fi
grep -q 'is invalid: spec.displayName: Required value' "$WORK/out" || fail "required: $(cat "$WORK/out")"

# Server-side printing: the columns the account-operator's and kcp's CRDs
# and kube's own printers give (a Table: kubectl prints what it is sent).
"${K[@]}" "${ORGS[@]}" get accounts > "$WORK/out"
head -1 "$WORK/out" | grep -Eq "^NAME +DISPLAY NAME +TYPE +READY *$" || fail "account columns: $(cat "$WORK/out")"
grep -Eq "^acme +ACME +org +True *$" "$WORK/out" || fail "account row: $(cat "$WORK/out")"
"${K[@]}" get ws -o wide > "$WORK/out"
head -1 "$WORK/out" | grep -Eq "^NAME +TYPE +REGION +PHASE +URL +AGE *$" || fail "workspace columns: $(cat "$WORK/out")"
grep -Eq "^playground +universal +Ready +https?://127.0.0.1:[0-9]+/clusters/root:playground +[0-9]+[smh]" "$WORK/out" ||
  fail "workspace row: $(cat "$WORK/out")"
"${K[@]}" get ws playground > "$WORK/out" && grep -Eq "^playground +universal +Ready " "$WORK/out" || fail "get one as a Table"
"${K[@]}" create configmap printed --from-literal=a=1 --from-literal=b=2 > /dev/null || fail "create printed"
"${K[@]}" get cm printed > "$WORK/out" && grep -Eq "^printed +2 +[0-9]+[smhdy][0-9smhdy]* *$" "$WORK/out" || fail "configmap DATA: $(cat "$WORK/out")"
"${K[@]}" get cm -A > "$WORK/out" && grep -Eq "^default +printed +2 " "$WORK/out" || fail "all namespaces: $(cat "$WORK/out")"
"${K[@]}" create rolebinding printed --clusterrole=view --user=alice --user=bob --group=devs --serviceaccount=default:robot > /dev/null
"${K[@]}" get rolebinding printed > "$WORK/out"
head -1 "$WORK/out" | grep -Eq "^NAME +ROLE +AGE *$" || fail "rolebinding columns: $(cat "$WORK/out")"
"${K[@]}" get rolebinding printed -o wide > "$WORK/out"
head -1 "$WORK/out" | grep -Eq "^NAME +ROLE +AGE +USERS +GROUPS +SERVICEACCOUNTS *$" || fail "-o wide columns: $(cat "$WORK/out")"
grep -Eq "^printed +ClusterRole/view +[0-9]+[smhdy][0-9smhdy]* +alice, bob +devs +default/robot *$" "$WORK/out" || fail "-o wide row: $(cat "$WORK/out")"
"${K[@]}" delete rolebinding printed > /dev/null
# kubectl explain reads the kinds' schemas from OpenAPI v3.
"${K[@]}" "${ORGS[@]}" explain accounts.spec > "$WORK/out" 2>&1 || fail "explain: $(cat "$WORK/out")"
grep -Eq "displayName.*<string>.*-required-" "$WORK/out" || fail "explain accounts.spec: $(cat "$WORK/out")"
grep -q "The display name for this account" "$WORK/out" || fail "explain descriptions: $(cat "$WORK/out")"
# (Into a file: grep -q may close the pipe before kubectl has written all.)
"${K[@]}" explain workspaces.status.phase > "$WORK/out" 2>&1 || fail "explain an enum: $(cat "$WORK/out")"
grep -q "Initializing" "$WORK/out" || fail "explain an enum: $(cat "$WORK/out")"
"${K[@]}" explain workspaces.metadata.labels > "$WORK/out" 2>&1 || fail "explain metadata: $(cat "$WORK/out")"
grep -q "map\[string\]string" "$WORK/out" || fail "explain metadata (ObjectMeta): $(cat "$WORK/out")"
"${K[@]}" explain apibindings.spec.reference.export > "$WORK/out" 2>&1 || fail "explain apibindings: $(cat "$WORK/out")"
grep -Eq "name.*<string>.*-required-" "$WORK/out" || fail "explain apibindings.spec.reference.export: $(cat "$WORK/out")"
"${K[@]}" delete configmap printed > /dev/null

# A watch sees the changes made while it runs.
# (It ends when it has seen the delete or after 60 s: the steps below take
# longer than any short timeout on a loaded machine.)
"${K[@]}" "${ORGS[@]}" get accounts -w --output-watch-events -o json --request-timeout=60s > "$WORK/watch" 2>&1 &
watch_pid=$!
sleep 1.5
"${K[@]}" "${ORGS[@]}" patch account acme --type merge -p '{"spec":{"creator":"alice"}}' | grep -q patched || fail "merge patch"
"${K[@]}" "${ORGS[@]}" patch account acme --type json -p '[{"op":"add","path":"/spec/description","value":"hi"}]' | grep -q patched || fail "json patch"
"${K[@]}" "${ORGS[@]}" get account acme -o jsonpath='{.spec.creator}/{.spec.description}' | grep -qx "alice/hi" || fail "patches applied"
# An edit-style replace: get, change, put back with the resourceVersion.
"${K[@]}" "${ORGS[@]}" get account acme -o json | python3 -c 'import json,sys; o=json.load(sys.stdin); o["spec"]["description"]="replaced"; print(json.dumps(o))' > "$WORK/edit.json"
"${K[@]}" "${ORGS[@]}" replace -f "$WORK/edit.json" | grep -q replaced || fail "replace"
# The same again is stale: 409 Conflict.
if "${K[@]}" "${ORGS[@]}" replace -f "$WORK/edit.json" > "$WORK/out" 2>&1; then fail "a stale replace was accepted"; fi
grep -q "the object has been modified" "$WORK/out" || fail "stale replace message: $(cat "$WORK/out")"
# dry-run=server changes nothing.
sed 's/acme/dryrun/' "$WORK/acc.yaml" > "$WORK/dry.yaml"
"${K[@]}" "${ORGS[@]}" apply --dry-run=server -f "$WORK/dry.yaml" | grep -q "created (server dry run)" || fail "dry-run=server"
if "${K[@]}" "${ORGS[@]}" get account dryrun > /dev/null 2>&1; then fail "dry run was committed"; fi
"${K[@]}" "${ORGS[@]}" create configmap settings -n default --from-literal=k=v | grep -q created || fail "create configmap"
"${K[@]}" "${ORGS[@]}" delete account acme | grep -q deleted || fail "delete"
if "${K[@]}" "${ORGS[@]}" get account acme > /dev/null 2>&1; then fail "deleted account still there"; fi
for _ in $(seq 1 150); do
  grep -Eq "\"type\": *\"DELETED\"" "$WORK/watch" && break
  kill -0 "$watch_pid" 2>/dev/null || break
  sleep 0.2
done
kill "$watch_pid" 2>/dev/null || true
wait "$watch_pid" || true
grep -Eq "\"type\": *\"ADDED\"" "$WORK/watch" || fail "watch ADDED: $(cat "$WORK/watch")"
grep -Eq "\"type\": *\"MODIFIED\"" "$WORK/watch" || fail "watch MODIFIED: $(cat "$WORK/watch")"
grep -Eq "\"type\": *\"DELETED\"" "$WORK/watch" || fail "watch DELETED: $(cat "$WORK/watch")"
# A large answer comes gzipped (kubectl asks for gzip, as client-go does)
# and kubectl reads it: its log shows the Vary the compressed answer has.
seq 1 40000 > "$WORK/blob"
"${K[@]}" create configmap big -n default --from-file=blob="$WORK/blob" > /dev/null || fail "create a large configmap"
"${K[@]}" get configmap big -n default -o jsonpath='{.data.blob}' -v=8 > "$WORK/out" 2> "$WORK/log" || fail "get a large configmap: $(tail -5 "$WORK/log")"
[ "$(cat "$WORK/out")" = "$(cat "$WORK/blob")" ] || fail "a large configmap read back differs"
grep -q "Vary: Accept-Encoding" "$WORK/log" || fail "a large answer was not gzipped: $(grep -i -E 'accept-encoding|response status' "$WORK/log" | head -5)"
echo "kubectl e2e: ok"
