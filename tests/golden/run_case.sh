#!/usr/bin/env bash
# Runs one golden case: `pmesh check` (and, for cases under ok/, `pmesh plan`)
# on CASE.rules from the golden folder, and compares what pmesh prints and its
# exit status with CASE.out. With UPDATE=1 it rewrites CASE.out instead.
set -u
# Absolute, since the case runs from the golden folder: the README's
# `run_case.sh build/pmesh tests/golden/ok/x.rules` names both from the
# checkout's root. A bare command name is left to PATH.
case "$1" in */*) pmesh="$(realpath "$1")" ;; *) pmesh="$1" ;; esac
case_file="$(realpath "$2")"
dir="$(cd "$(dirname "$0")" && pwd)"
rel="${case_file#"$dir"/}"
expected="${case_file%.rules}.out"
actual="$(mktemp)"
trap 'rm -f "$actual"' EXIT
cd "$dir"
{
  "$pmesh" check "$rel" 2>&1
  echo "exit: $?"
  if [[ "$rel" == ok/* ]]; then
    "$pmesh" plan "$rel" 2>&1
    echo "exit: $?"
  fi
} | sed -E 's/ \([0-9]+\.[0-9]+ ms\)$//' > "$actual"
if [ "${UPDATE:-}" = 1 ]; then
  cp "$actual" "$expected"
  echo "updated $expected"
  exit 0
fi
if ! diff -u "$expected" "$actual"; then
  echo "golden: $rel differs from ${expected#"$dir"/} (run with UPDATE=1 to accept)"
  exit 1
fi
