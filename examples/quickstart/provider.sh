#!/usr/bin/env bash
# The provider's side of the quickstart: each Database synced into
# root:db-provider that is not Available yet gets provisioned, which here
# means its status gets an endpoint, phase Available and a Ready condition.
# The status goes back to the consumer's Database through the sync path.
#
# One pass by default; `--watch` runs a pass every 2 seconds until stopped.
# Needs KUBECONFIG pointing at the admin kubeconfig of `pmesh serve`.
set -euo pipefail
: "${KUBECONFIG:?set KUBECONFIG to the admin kubeconfig that pmesh serve wrote}"
base=$(kubectl config view -o jsonpath='{.clusters[?(@.name=="base")].cluster.server}')
provider() { kubectl --server "$base/clusters/root:db-provider" "$@"; }

pass() {
  provider get databases --all-namespaces -o jsonpath='{range .items[*]}{.metadata.namespace}{" "}{.metadata.name}{" "}{.metadata.annotations.syncagent\.kcp\.io/remote-object-name}{" "}{.metadata.annotations.syncagent\.kcp\.io/remote-object-namespace}{" "}{.status.phase}{"\n"}{end}' |
    while read -r ns name remote remote_ns phase; do
      [ -n "$name" ] && [ "$phase" != "Available" ] || continue
      now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
      provider patch database "$name" -n "$ns" --subresource=status --type=merge -p \
        "{\"status\":{\"phase\":\"Available\",\"endpoint\":\"$remote.$remote_ns.db.example.io:5432\",\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\",\"reason\":\"Provisioned\",\"message\":\"$remote is up\",\"lastTransitionTime\":\"$now\"}]}}"
    done
}

pass
if [ "${1:-}" = "--watch" ]; then
  while sleep 2; do pass; done
fi
