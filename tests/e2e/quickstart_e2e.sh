#!/usr/bin/env bash
# Runs examples/quickstart/README.md: every ```sh block, in order, in one
# shell, against a fresh `pmesh serve`, with a fresh HOME (kubectl's
# discovery cache). Then checks what each step printed and what is left.
# Usage: quickstart_e2e.sh PMESH
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
source "$here/lib.sh"
start_server "$1"
quickstart="$here/../../examples/quickstart"
export HOME="$WORK/home"
mkdir -p "$HOME"

# The steps, each preceded by a marker line, as one script.
awk '/^```sh$/ { n++; print "echo \"=== step " n-1 "\""; inside = 1; next }
     /^```$/ && inside { inside = 0; next }
     inside { print }' "$quickstart/README.md" > "$WORK/steps.sh"
[ "$(grep -c '^echo "=== step' "$WORK/steps.sh")" -eq 8 ] || fail "the README should have 8 steps (0-7)"
(cd "$quickstart" && timeout 120 bash -euo pipefail "$WORK/steps.sh") > "$WORK/out" 2>&1 || { cat "$WORK/out"; fail "a step failed"; }

step() { awk -v n="$1" '/^=== step / { on = ($3 == n); next } on' "$WORK/out"; }
expect() {  # expect STEP TEXT
  step "$1" | grep -qF -- "$2" || { echo "--- step $1 printed:"; step "$1"; fail "step $1 should print: $2"; }
}
expect 0 "orgs"
expect 1 "account.core.platform-mesh.io/acme created"
expect 1 "Ready=True"
expect 1 "WorkspaceTypesReady=True"
expect 2 "account.core.platform-mesh.io/team-a created"
expect 2 "path: root:orgs:acme:team-a"
expect 2 "parentAccount:"
expect 3 "apiexport.apis.kcp.io/db.example.io created"
expect 3 "publishedresource.syncagent.kcp.io/databases"
expect 3 "customresourcedefinition.apiextensions.k8s.io/databases.db.example.io created"
expect 3 "databases=v"
expect 4 "Bound"
expect 4 "databases"
expect 4 "database.db.example.io/orders created"
expect 5 "syncagent.kcp.io/remote-object-cluster="
expect 5 "patched"
expect 6 "Available orders.default.db.example.io:5432 Ready=True"
expect 7 "database.db.example.io \"orders\" deleted"
expect 7 "account.core.platform-mesh.io \"team-a\" deleted"

# Nothing is left behind: no copy at the provider, no team-a workspace.
K=(kubectl --request-timeout=20s)
[ -z "$("${K[@]}" --server "$SERVER/clusters/root:db-provider" get databases --all-namespaces -o name)" ] || fail "the provider's copy is still there"
[ -z "$("${K[@]}" --server "$SERVER/clusters/root:db-provider" get namespaces -o name | grep -v "^namespace/default$")" ] || fail "the consumer's namespace at the provider is still there"
[ -z "$("${K[@]}" --server "$SERVER/clusters/root:orgs:acme" get workspaces -o name)" ] || fail "team-a's workspace is still there"
if "${K[@]}" --server "$SERVER/clusters/root:orgs:acme:team-a" get apibindings > /dev/null 2>&1; then fail "root:orgs:acme:team-a still answers"; fi
"${K[@]}" --server "$SERVER/clusters/root:orgs" get account acme -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' | grep -qx True || fail "acme is not Ready after the cleanup"
stop_server
"$1" verify --data-dir "$DATA" > "$WORK/verify" 2>&1 || { cat "$WORK/verify"; fail "pmesh verify after the quickstart"; }
echo "quickstart e2e: ok"
