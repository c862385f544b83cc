#!/usr/bin/env bash
# The engine's commands end to end: dry-run (text, JSON, YAML, --profile;
# nothing is written), apply into a data directory, verify, explain, and bad input.
set -euo pipefail
pmesh="$1"
here="$(cd "$(dirname "$0")" && pwd)"
policies="$here/../golden/ok"
data="$here/data"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

# dry-run: JSON with the derived changes and the rules that made them.
"$pmesh" dry-run --policies "$policies" -f "$data" -o json > "$work/plan.json"
python3 - "$work/plan.json" <<'PY'
import json, sys
plan = json.load(open(sys.argv[1]))
assert set(plan) >= {"changes", "conflicts", "errors"}, plan.keys()
ops = {(c["op"], c["object"]["kind"], c["object"]["metadata"]["name"]) for c in plan["changes"]}
assert ("create", "Workspace", "acme") in ops, ops
ws = [c for c in plan["changes"] if c["object"]["kind"] == "Workspace" and c["object"]["metadata"]["name"] == "acme"][0]
assert ws["rules"] == ["account-workspace"], ws["rules"]
assert ws["object"]["spec"]["type"]["name"] == "acme-org"
assert any(d["path"] == "/spec" for d in ws["diff"]), ws["diff"]
PY
"$pmesh" dry-run --policies "$policies" -f "$data" -o yaml > "$work/out" || true
grep -q "account-workspace" "$work/out" || fail "yaml output"
"$pmesh" dry-run --policies "$policies" -f "$data" --explain > "$work/out" || true
grep -q "derived by rule account-workspace" "$work/out" || fail "--explain"

# --profile: what each rule cost in that transaction, costliest first.
"$pmesh" dry-run --policies "$policies" -f "$data" -o json --profile > "$work/profiled.json"
python3 - "$work/profiled.json" <<'PY'
import json, sys
rows = json.load(open(sys.argv[1]))["profile"]
assert rows, "no rule costs"
names = [r["rule"] for r in rows]
assert "account-workspace" in names, names
ws = rows[names.index("account-workspace")]
assert ws["evaluations"] >= 1 and ws["matchesMade"] >= 1, ws
times = [r["microseconds"] for r in rows]
assert times == sorted(times, reverse=True), times
assert all(r["evaluations"] > 0 for r in rows)
PY
"$pmesh" dry-run --policies "$policies" -f "$data" --profile > "$work/out" || true
grep -q "^RULE .*EVALUATIONS.*TIME" "$work/out" || fail "--profile table"
grep -q "^account-workspace " "$work/out" || fail "--profile table rows"

# A dry run against a data directory writes nothing to it.
"$pmesh" apply --data-dir "$work/dd" --policies "$policies" -f "$data/accounts.yaml" > /dev/null
"$pmesh" verify --data-dir "$work/dd" --policies "$policies" > "$work/out" || true
grep -q "^ok: 4 objects" "$work/out" || fail "verify after apply"
cat > "$work/more.yaml" <<'YAML'
apiVersion: core.platform-mesh.io/v1alpha1
kind: Account
metadata: {name: team-b, cluster: "root:orgs:acme"}
spec: {type: account, creator: carol}
YAML
"$pmesh" dry-run --data-dir "$work/dd" --policies "$policies" -f "$work/more.yaml" > "$work/out" || true
grep -q "^create Workspace root:orgs:acme/team-b" "$work/out" || fail "dry-run on a data dir"
"$pmesh" explain --data-dir "$work/dd" --policies "$policies" Workspace root:orgs:acme/team-b > "$work/absent" && fail "explain of an absent object exits 0"
grep -q "does not exist" "$work/absent" || fail "explain absent"
"$pmesh" explain --data-dir "$work/dd" --policies "$policies" Workspace root:orgs:acme/team-a > "$work/out" || true
grep -q "derived by rule account-workspace" "$work/out" || fail "explain"

# Bad input: an error with file and position, exit 1, nothing written.
printf 'spec: [\n' > "$work/bad.yaml"
if "$pmesh" dry-run --policies "$policies" -f "$work/bad.yaml" 2> "$work/err"; then fail "bad yaml accepted"; fi
grep -q "bad.yaml:2:1:" "$work/err" || fail "bad yaml position: $(cat "$work/err")"
printf 'apiVersion: v1\nkind: Nope\nmetadata: {name: x}\n' > "$work/unknown.yaml"
if "$pmesh" apply --data-dir "$work/dd" --policies "$policies" -f "$work/unknown.yaml" 2> "$work/err"; then fail "unknown kind accepted"; fi
grep -q "unknown kind Nope" "$work/err" || fail "unknown kind message"
"$pmesh" verify --data-dir "$work/dd" --policies "$policies" > "$work/out" || true
grep -q "^ok: 4 objects" "$work/out" || fail "state changed by bad input"
# pmesh fga: an unreadable or invalid model is an error with its reason, exit 1.
if "$pmesh" fga compile "$work/missing.fga" 2> "$work/err"; then fail "a missing model compiled"; fi
grep -q "cannot read" "$work/err" || fail "missing model message: $(cat "$work/err")"
printf 'model\n  schema 1.1\ntype doc\n  relations\n    define a: b\n    define b: a\n' > "$work/loop.fga"
if "$pmesh" fga compile "$work/loop.fga" 2> "$work/err"; then fail "a looping model compiled"; fi
grep -q "invalid_authorization_model: the definition of relation 'a' in object type 'doc' is invalid: potential loop" "$work/err" || fail "loop message: $(cat "$work/err")"
"$pmesh" fga compile "$work/loop.fga" --prefix p_ > /dev/null 2>&1 && fail "flags changed validation"
printf 'model\n  schema 1.1\ntype user\ntype group\n  relations\n    define member: [user]\ntype doc\n  relations\n    define v: [user, group#member]\n' > "$work/ok.fga"
"$pmesh" fga compile "$work/ok.fga" --prefix p_ | grep -q 'for fga_loaded(st, "p")' || fail "fga compile: the stores it is loaded for"
"$pmesh" fga compile "$work/ok.fga" --prefix p_ | grep -q '^relation p_doc_v(store, object, subject)' || fail "fga compile --prefix"
printf 'model: |\n  model\n    schema 1.1\n  type user\n  type doc\n    relations\n      define v: [user]\ntests:\n  - name: t\n    tuples: [{user: "user:*", relation: v, object: "doc:1"}]\n' > "$work/bad.fga.yaml"
if "$pmesh" fga test "$work/bad.fga.yaml" > "$work/out"; then fail "a test writing a tuple the model refuses passed"; fi
grep -q "not an allowed type restriction" "$work/out" || fail "fga test message: $(cat "$work/out")"
echo "engine cli: ok"
