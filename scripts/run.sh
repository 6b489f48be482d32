#!/usr/bin/env bash
# The main job: installs dependencies, builds, starts the all-in-one `tuna server` and deploys the
# examples into it. Runs in the foreground until Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh
DATA_DIR=${TUNA_DATA_DIR:-$PWD/tuna-data}
LISTEN=${TUNA_LISTEN:-127.0.0.1:7070}
./build/tuna server --data-dir "$DATA_DIR" --listen "$LISTEN" &
server_pid=$!
trap 'kill -TERM $server_pid 2>/dev/null; wait $server_pid' INT TERM
export TUNA_SERVER="http://$LISTEN" TUNA_TOKEN_FILE="$DATA_DIR/admin.token"
for _ in $(seq 1 100); do
  curl -fsS "$TUNA_SERVER/readyz" >/dev/null 2>&1 && break
  sleep 0.1
done
./build/tuna apply -f examples/manifests
./build/tuna get agentdeployments
echo "tuna server is running at $TUNA_SERVER (token in $TUNA_TOKEN_FILE); Ctrl-C stops it"
wait $server_pid
