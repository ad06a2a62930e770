#!/usr/bin/env bash
# A private three-node RabbitMQ cluster on loopback, for the cluster tests and trying failover by hand.
# Each node is a scripts/rabbitmq.sh node of its own (own data dir, own ports); nodes 2 and 3 join
# node 1 with `rabbitmqctl join_cluster`. The nodes share the rabbitmq user's Erlang cookie.
#
#   scripts/cluster.sh up|down|status|urls|pids   (up starts what is not running; nothing if all three are)
#   scripts/cluster.sh kill N      SIGKILL node N (1-3), as a crashed host would die
#   scripts/cluster.sh start N     start node N again (it rejoins with its data)
#   scripts/cluster.sh partition N cut node N off from the other two (a network partition, see below)
#   scripts/cluster.sh heal N      let node N talk to the others again
#
# The nodes run with cluster_partition_handling = pause_minority, as the README recommends. A partition
# needs no root and no firewall: node N is given a wrong Erlang cookie for its two peers, so that the
# distribution handshake fails in both directions (each side checks the cookie it holds for the other),
# and its existing links are dropped. Loopback clients still reach every node, as on a real network
# where only the links between broker hosts failed.
#
# Environment: CRONQ_CLUSTER_PORT (5721: nodes use 5721, 5722, 5723; management +10000, distribution
# +20000), CRONQ_CLUSTER_NAME (cronq-c: nodes cronq-c1@localhost …).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
base=${CRONQ_CLUSTER_PORT:-5721}
name=${CRONQ_CLUSTER_NAME:-cronq-c}

node_env() {
    local i=$1
    export CRONQ_RMQ_NODE="$name$i@localhost"
    export CRONQ_RMQ_PORT=$((base + i - 1))
    export CRONQ_RMQ_MGMT_PORT=$((base + i - 1 + 10000))
    export CRONQ_RMQ_DIST_PORT=$((base + i - 1 + 20000))
}

ctl() { local i=$1; shift; rabbitmqctl -n "$name$i@localhost" "$@" </dev/null; }

# An Erlang list of the atoms of every node but N.
peers_of() {
    local i=$1 out=""
    for j in 1 2 3; do [ "$j" = "$i" ] || out="$out${out:+,}'$name$j@localhost'"; done
    echo "[$out]"
}

# From node 1's view (JSON, so no terminal formatting gets in the way).
status_field() {
    ctl 1 cluster_status --formatter json 2>/dev/null \
        | python3 -c "import json,sys; print(' '.join(json.load(sys.stdin).get('$1', [])))" 2>/dev/null || true
}

running_nodes() { status_field running_nodes | wc -w; }

joined() { status_field disk_nodes | tr ' ' '\n' | grep -qx "$name$1@localhost"; }

case "${1:-}" in
up)
    # Already up and joined (the cluster tests call this before each test; `make test` starts it once).
    if [ "$(running_nodes)" = 3 ]; then echo "cluster: ${name}1-3@localhost already up"; exit 0; fi
    export CRONQ_RMQ_EXTRA_CONF="cluster_partition_handling = pause_minority"
    # One node after the other: nodes that were clustered before and boot at the same moment can fail
    # the feature-flag sync with a peer still booting (RabbitMQ 3.10: "incompatible_feature_flags …
    # badmap undefined"; seen once in a fresh-machine run when the three were started side by side).
    for i in 1 2 3; do (node_env "$i"; "$here/scripts/rabbitmq.sh" up); done
    for i in 2 3; do
        if ! joined "$i"; then
            ctl "$i" stop_app >/dev/null
            ctl "$i" reset >/dev/null
            ctl "$i" join_cluster "${name}1@localhost" >/dev/null
            ctl "$i" start_app >/dev/null
        fi
    done
    for _ in $(seq 1 30); do [ "$(running_nodes)" = 3 ] && break; sleep 1; done
    [ "$(running_nodes)" = 3 ] || { echo "cluster: not all three nodes running" >&2; ctl 1 cluster_status >&2 || true; exit 1; }
    echo "cluster: ${name}1-3@localhost up on 127.0.0.1:$base-$((base + 2))"
    ;;
down)
    # Stop 3 and 2 before 1, so that no node waits for the others to come back.
    for i in 3 2 1; do (node_env "$i"; "$here/scripts/rabbitmq.sh" down) || true; done
    ;;
kill)
    i=${2:?node number}
    pid=$(node_env "$i"; "$here/scripts/rabbitmq.sh" pid)
    kill -9 "$pid"
    # The Erlang VM's helpers (epmd stays; inet_gethost and erl_child_setup go with the VM).
    echo "cluster: node $i (pid $pid) killed"
    ;;
start)
    i=${2:?node number}
    export CRONQ_RMQ_EXTRA_CONF="cluster_partition_handling = pause_minority"
    (node_env "$i"; "$here/scripts/rabbitmq.sh" up)
    ;;
partition)
    i=${2:?node number}
    ctl "$i" eval "[begin erlang:set_cookie(N, 'cronq-partitioned'), erlang:disconnect_node(N) end || N <- $(peers_of "$i")], ok." >/dev/null
    echo "cluster: node $i cut off from the others"
    ;;
heal)
    i=${2:?node number}
    ctl "$i" eval "C = erlang:get_cookie(), [begin erlang:set_cookie(N, C), net_adm:ping(N) end || N <- $(peers_of "$i")], ok." >/dev/null
    echo "cluster: node $i may talk to the others again"
    ;;
status)
    ctl 1 cluster_status
    ;;
pids)
    # (a pid file has no final newline: one is added, and empty lines dropped)
    for i in 1 2 3; do (node_env "$i"; "$here/scripts/rabbitmq.sh" pid; echo); done | grep -v '^$' | paste -sd,
    ;;
urls)
    echo "amqp://guest:guest@127.0.0.1:$base/%2F,amqp://guest:guest@127.0.0.1:$((base + 1))/%2F,amqp://guest:guest@127.0.0.1:$((base + 2))/%2F"
    ;;
*)
    echo "usage: $0 up|down|status|urls|pids|kill N|start N|partition N|heal N" >&2
    exit 64
    ;;
esac
