# Shared by the end-to-end tests: start `pmesh serve` on a free loopback
# port with a fresh data directory, and stop it when the test exits.
# Usage: source lib.sh; start_server PMESH [extra serve flags...]
# Sets: WORK, DATA, KUBECONFIG, SERVER (http://127.0.0.1:PORT), SERVER_PID.

WORK="$(mktemp -d)"
DATA="$WORK/data"
SERVER_PID=""

stop_server() {
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$SERVER_PID" 2>/dev/null || true
  fi
  SERVER_PID=""
}
cleanup() { stop_server; rm -rf "$WORK"; }
trap cleanup EXIT

start_server() {
  local pmesh="$1"; shift
  "$pmesh" serve --data-dir "$DATA" --listen 127.0.0.1:0 "$@" > "$WORK/serve.out" 2> "$WORK/serve.log" &
  SERVER_PID=$!
  for _ in $(seq 1 100); do
    grep -q "kubeconfig written" "$WORK/serve.out" 2>/dev/null && break
    kill -0 "$SERVER_PID" 2>/dev/null || { cat "$WORK/serve.log"; echo "FAIL: server exited"; exit 1; }
    sleep 0.1
  done
  grep -q "kubeconfig written" "$WORK/serve.out" || { cat "$WORK/serve.log"; echo "FAIL: server did not start"; exit 1; }
  export KUBECONFIG="$DATA/admin.kubeconfig"
  SERVER="$(sed -n 's/.*server: \(https\{0,1\}:\/\/127.0.0.1:[0-9]*\).*/\1/p' "$KUBECONFIG" | head -1)"
  case "$SERVER" in http://127.0.0.1:* | https://127.0.0.1:*) ;; *) echo "FAIL: unexpected server address $SERVER"; exit 1 ;; esac
}

fail() { echo "FAIL: $*"; [ -f "$WORK/serve.log" ] && tail -20 "$WORK/serve.log"; exit 1; }
