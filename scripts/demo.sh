#!/usr/bin/env bash
# `make demo`: a private RabbitMQ, the demo backend, one ticker and two workers, and the live events.
# Ctrl-C stops everything this script started. `make demo-down` cleans up after a crash.
set -uo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
run="$here/run/demo"
bin="$here/.build/release"
port=${CRONQ_RMQ_PORT:-5682}
backend_port=${DEMO_BACKEND_PORT:-8787}
mkdir -p "$run"
export CRONQ_AMQP_URL="amqp://guest:guest@127.0.0.1:$port/%2F"
export BACKEND_BASE="http://127.0.0.1:$backend_port"
export ERIFY_CRON_TOKEN="${ERIFY_CRON_TOKEN:-demo-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')}"
config="$here/examples/demo.toml"

pids=()
stop_all() {
    trap - INT TERM EXIT
    echo
    echo "stopping the demo…"
    for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
    rm -f "$run"/*.pid
    "$here/scripts/rabbitmq.sh" down
    exit 0
}
trap stop_all INT TERM EXIT

start() {  # name, command…
    local name=$1; shift
    "$@" > "$run/$name.log" 2>&1 &
    pids+=($!)
    echo $! > "$run/$name.pid"
}

"$here/scripts/rabbitmq.sh" up || exit 1
start backend python3 "$here/scripts/backend.py" --port "$backend_port" --token "$ERIFY_CRON_TOKEN" --log "$run/backend-requests.log"
"$bin/cronq" topology apply --config "$config" || exit 1
start ticker "$bin/cronq-ticker" --config "$config"
start worker-1 "$bin/cronq-worker" --config "$config"
start worker-2 "$bin/cronq-worker" --config "$config"

cat <<INFO

cronq demo: RabbitMQ on 127.0.0.1:$port, demo backend on $BACKEND_BASE, 1 ticker, 2 workers.
Jobs: the template's four, plus demoRecent (every 5 s), demoFlaky (503 twice, then 200) and
demoUnauthorized (always 401). Live events follow (cronq tail); watch for a retry and a dead letter.

INFO
"$bin/cronq" tail --config "$config" &
tail_pid=$!
pids+=($tail_pid)
sleep 32
cat <<NEXT

── 30 seconds in. Try these in another terminal (same directory):
   export CRONQ_CONFIG=$config CRONQ_AMQP_URL=$CRONQ_AMQP_URL ERIFY_CRON_TOKEN=$ERIFY_CRON_TOKEN BACKEND_BASE=$BACKEND_BASE
   $bin/cronq status
   $bin/cronq dead list
   $bin/cronq dead replay --reason http_401 --dry-run
   $bin/cronq trigger every5min --wait
   $bin/cronq tail --job demoFlaky
   Logs: $run/{ticker,worker-1,worker-2,backend}.log and the backend's request log $run/backend-requests.log
   Ctrl-C here stops everything.
NEXT
wait "$tail_pid"
