#!/usr/bin/env bash
# System calls per job of the worker against nginx, counted by `perf stat` on syscall tracepoints: the
# kernel's share of the worker's CPU (about a third on loopback) comes from these, and callgrind does not
# see it.
#
#   scripts/syscalls-worker.sh            (after `make release`; needs perf and the private broker up)
#
# Runs `cronq-bench nginx` once (N = 4000, three rounds of info, error, info --prefetch 128) with each
# worker watched by `perf stat -p`, and prints the median count per job of each call over the nine runs
# (start-up and shutdown included: a few hundred calls, under 0.1 a job at N = 4000).
# The worker is started by a wrapper that forwards the bench's SIGTERM to it: `perf stat -- worker` (or
# `strace`) would fork, and the bench's stop would reach the tracer and not the worker, hanging the bench.
set -euo pipefail

. "$(dirname "$0")/worker-measure-setup.sh" perf linux-perf

n=4000
calls=(sendto recvfrom poll ppoll epoll_wait setsockopt write read writev)
events="raw_syscalls:sys_enter"
for c in "${calls[@]}"; do events="$events,syscalls:sys_enter_$c"; done

work=$(mktemp -d /tmp/cronq-syscalls-XXXXXX)
trap 'rm -rf "$work"' EXIT
cp "$release/cronq-bench" "$work/"
cp "$release/cronq-worker" "$work/cronq-worker.real"
cat > "$work/cronq-worker" <<WRAP
#!/usr/bin/env bash
d=\$(dirname "\$0")
"\$d/cronq-worker.real" "\$@" &
w=\$!
perf stat -x, -o "\$d/perf.\$w" -e $events -p \$w &
trap 'kill -TERM \$w' TERM INT
wait \$w || true
wait
WRAP
chmod +x "$work/cronq-worker"

echo "running cronq-bench nginx, N = $n, each worker watched by perf ..." >&2
CRONQ_BENCH_BROKER_PID=$pid CRONQ_BENCH_AMQP_URL="amqp://guest:guest@127.0.0.1:${CRONQ_RMQ_PORT:-5682}/%2F" \
    CRONQ_BENCH_N=$n "$work/cronq-bench" nginx >"$work/bench.log" 2>&1
files=("$work"/perf.*)
[ "${#files[@]}" -eq 9 ] || { echo "expected 9 worker runs, got ${#files[@]}; the bench said:" >&2; cat "$work/bench.log" >&2; exit 1; }
# perf -x, lines: count,unit,event,...
cat "${files[@]}" | awk -F, -v n="$n" '
    /^#/ || NF < 3 { next }
    { name = $3; sub(/^(raw_)?syscalls:sys_enter_?/, "", name); if (name == "") name = "all"; v[name] = v[name] " " $1 / n }
    END {
        for (k in v) {
            m = split(substr(v[k], 2), xs, " ")
            for (i = 1; i <= m; i++) for (j = i + 1; j <= m; j++) if (xs[j] < xs[i]) { t = xs[i]; xs[i] = xs[j]; xs[j] = t }
            printf "%-12s %6.2f per job (median of %d runs)\n", k, xs[int((m + 1) / 2)], m
        }
    }' | sort -k2 -rn
