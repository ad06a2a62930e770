#!/usr/bin/env bash
# A private RabbitMQ node for tests and the demo: its own data/log dir, a non-default port,
# loopback only, management plugin on. Debian's rabbitmq-server drops to the `rabbitmq` user,
# so the node's folder must be owned by that user.
#
#   scripts/rabbitmq.sh up|down|status|env
#
# Environment: CRONQ_RMQ_PORT (5682), CRONQ_RMQ_MGMT_PORT (15682), CRONQ_RMQ_DIST_PORT (25682),
# CRONQ_RMQ_NODE (cronq-test@localhost), CRONQ_RUN_DIR (<repo>/run), CRONQ_RMQ_EXTRA_CONF (lines
# appended to rabbitmq.conf).
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
port=${CRONQ_RMQ_PORT:-5682}
mgmt_port=${CRONQ_RMQ_MGMT_PORT:-15682}
dist_port=${CRONQ_RMQ_DIST_PORT:-25682}
node=${CRONQ_RMQ_NODE:-cronq-test@localhost}
run_dir=${CRONQ_RUN_DIR:-$here/run}
name=${node%@*}

# The node's folder must be reachable by the rabbitmq user. A checkout under a private home
# (e.g. /root) is not, so fall back to a folder under /tmp and link it from the run folder.
node_dir() {
    local wanted="$run_dir/rabbitmq-$name"
    mkdir -p "$run_dir"
    if [ -L "$wanted" ]; then readlink -f "$wanted"; return; fi
    if id rabbitmq >/dev/null 2>&1 && ! runuser -u rabbitmq -- test -x "$run_dir" 2>/dev/null; then
        local alt="/tmp/cronq-rabbitmq-$name-$(echo "$here" | md5sum | cut -c1-8)"
        mkdir -p "$alt"
        ln -sfn "$alt" "$wanted"
        echo "$alt"
        return
    fi
    echo "$wanted"
}

export_env() {
    local dir=$1
    export RABBITMQ_BASE="$dir"
    export RABBITMQ_MNESIA_BASE="$dir/mnesia"
    export RABBITMQ_LOG_BASE="$dir/log"
    export RABBITMQ_NODENAME="$node"
    export RABBITMQ_NODE_IP_ADDRESS=127.0.0.1
    export RABBITMQ_NODE_PORT="$port"
    export RABBITMQ_DIST_PORT="$dist_port"
    export RABBITMQ_PID_FILE="$dir/rabbitmq.pid"
    export RABBITMQ_ENABLED_PLUGINS_FILE="$dir/enabled_plugins"
    export RABBITMQ_CONFIG_FILE="$dir/rabbitmq"
    export RABBITMQ_ADVANCED_CONFIG_FILE="$dir/advanced.config"
    export RABBITMQ_CONF_ENV_FILE="$dir/rabbitmq-env.conf"
    export RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
    export ERL_EPMD_ADDRESS=127.0.0.1
}

# rabbitmqctl starts epmd on demand, and that daemon would inherit our stdout (a caller's pipe would
# then never close): start it ourselves, detached from our stdio, loopback only.
ensure_epmd() {
    if ! pgrep -x epmd >/dev/null; then
        ERL_EPMD_ADDRESS=127.0.0.1 epmd -daemon </dev/null >/dev/null 2>&1 || true
        return 0
    fi
    return 1
}

ctl() { rabbitmqctl -n "$node" "$@" </dev/null; }

case "${1:-}" in
up)
    command -v rabbitmq-server >/dev/null || { echo "rabbitmq-server is not installed (apt-get install rabbitmq-server)" >&2; exit 1; }
    dir=$(node_dir)
    export_env "$dir"
    started_epmd=no
    if ensure_epmd; then started_epmd=yes; fi
    if ctl status >/dev/null 2>&1; then echo "rabbitmq: $node already running on 127.0.0.1:$port"; exit 0; fi
    mkdir -p "$dir/mnesia" "$dir/log"
    cat > "$dir/rabbitmq.conf" <<CONF
listeners.tcp.default = 127.0.0.1:$port
loopback_users = none
management.tcp.ip = 127.0.0.1
management.tcp.port = $mgmt_port
log.file.level = warning
log.console = false
# As the README recommends: no publisher may hand the broker (and a worker) more than 16 MiB at once;
# the largest legitimate message is the checkpoint of a 100,000-job config (a few MiB).
max_message_size = 16777216
CONF
    # Extra settings from the caller (scripts/cluster.sh: partition handling), one per line.
    [ -n "${CRONQ_RMQ_EXTRA_CONF:-}" ] && printf '%s\n' "$CRONQ_RMQ_EXTRA_CONF" >> "$dir/rabbitmq.conf"
    # Optional TLS listener (the amqps tests): CRONQ_RMQ_TLS_PORT and CRONQ_RMQ_TLS_DIR holding ca.pem,
    # server.pem and server.key; copied into the node's folder so the rabbitmq user can read them.
    if [ -n "${CRONQ_RMQ_TLS_PORT:-}" ] && [ -n "${CRONQ_RMQ_TLS_DIR:-}" ]; then
        mkdir -p "$dir/tls"
        cp "$CRONQ_RMQ_TLS_DIR/ca.pem" "$CRONQ_RMQ_TLS_DIR/server.pem" "$CRONQ_RMQ_TLS_DIR/server.key" "$dir/tls/"
        cat >> "$dir/rabbitmq.conf" <<CONF
listeners.ssl.default = 127.0.0.1:$CRONQ_RMQ_TLS_PORT
ssl_options.cacertfile = $dir/tls/ca.pem
ssl_options.certfile = $dir/tls/server.pem
ssl_options.keyfile = $dir/tls/server.key
ssl_options.verify = verify_none
ssl_options.fail_if_no_peer_cert = false
CONF
    fi
    echo "[rabbitmq_management]." > "$dir/enabled_plugins"
    # A quorum queue's at-least-once dead-lettering (the retry tiers' way back to the work queues) retries a
    # hop it could not make every this many ms, 180 s by default: after a restart a queue can recover before
    # its dead-letter exchange is known, and its messages would sit out three minutes (README "Broker
    # settings"). Later releases read the key with `_ms`.
    cat > "$dir/advanced.config" <<'ADV'
[{rabbit, [{dead_letter_worker_publisher_confirm_timeout, 5000},
           {dead_letter_worker_publisher_confirm_timeout_ms, 5000}]}].
ADV
    : > "$dir/rabbitmq-env.conf"
    [ "$started_epmd" = yes ] && touch "$dir/started-epmd"
    chown -R rabbitmq:rabbitmq "$dir" 2>/dev/null || true
    nohup rabbitmq-server </dev/null > "$dir/log/stdout.log" 2>&1 &
    # await_startup fails at once while the node has not registered with epmd yet: retry it.
    started=no
    for _ in $(seq 1 45); do
        if ctl await_startup --timeout 10 >/dev/null 2>&1; then started=yes; break; fi
        sleep 2
    done
    if [ "$started" != yes ]; then
        echo "rabbitmq: $node did not start; last log lines:" >&2
        tail -n 30 "$dir/log/stdout.log" >&2 || true
        exit 1
    fi
    echo "rabbitmq: $node up on amqp://127.0.0.1:$port (management http://127.0.0.1:$mgmt_port), data in $dir"
    ;;
down)
    dir=$(node_dir)
    export_env "$dir"
    if ctl status >/dev/null 2>&1; then
        ctl stop >/dev/null 2>&1 || true
    fi
    if [ -f "$dir/rabbitmq.pid" ]; then
        pid=$(cat "$dir/rabbitmq.pid" 2>/dev/null || true)
        [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null || true
        rm -f "$dir/rabbitmq.pid"
    fi
    # epmd stays: other nodes on this machine (a cluster's, a developer's) are registered with it.
    rm -f "$dir/started-epmd"
    echo "rabbitmq: $node stopped"
    ;;
status)
    dir=$(node_dir); export_env "$dir"; ctl status
    ;;
pid)
    dir=$(node_dir); cat "$dir/rabbitmq.pid"
    ;;
*)
    echo "usage: $0 up|down|status|pid" >&2
    exit 64
    ;;
esac
