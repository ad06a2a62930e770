#!/usr/bin/env bash
# Instructions per job of the worker against nginx, counted by callgrind: repeatable where wall-clock
# figures are not (on a shared 2-core machine the consume-and-ack ceiling moves by 2x between rounds).
#
#   scripts/callgrind-worker.sh            (after `make release`; needs valgrind and the private broker up)
#
# Runs `cronq-bench nginx` twice (N = 1000 and N = 4000 jobs) with the worker under callgrind and prints,
# for each of its runs (info, error, info --prefetch 128; three rounds), the instructions per job:
# (total at 4000 - total at 1000) / 3000, so start-up and shutdown cancel out. valgrind 3.19 cannot read
# the debug info Swift 6.3 writes, so the worker runs with its debug info stripped (symbols kept).
set -euo pipefail

. "$(dirname "$0")/worker-measure-setup.sh" valgrind valgrind

work=$(mktemp -d /tmp/cronq-callgrind-XXXXXX)
trap 'rm -rf "$work"' EXIT
cp "$release/cronq-bench" "$work/"
strip --strip-debug -o "$work/cronq-worker.real" "$release/cronq-worker"
cat > "$work/cronq-worker" <<'WRAP'
#!/bin/sh
d=$(dirname "$0")
exec valgrind --tool=callgrind --callgrind-out-file="$d/out.$$" -q "$d/cronq-worker.real" "$@"
WRAP
chmod +x "$work/cronq-worker"

totals() {
    rm -f "$work"/out.*
    CRONQ_BENCH_BROKER_PID=$pid CRONQ_BENCH_AMQP_URL="amqp://guest:guest@127.0.0.1:${CRONQ_RMQ_PORT:-5682}/%2F" \
        CRONQ_BENCH_N=$1 "$work/cronq-bench" nginx >"$work/bench-$1.log" 2>&1
    for f in $(ls -tr "$work"/out.*); do grep -E '^(summary|totals):' "$f" | head -1 | awk '{print $2}'; done
}

echo "counting N = 1000 ..." >&2
mapfile -t small < <(totals 1000)
echo "counting N = 4000 ..." >&2
mapfile -t large < <(totals 4000)
[ "${#small[@]}" -eq 9 ] && [ "${#large[@]}" -eq 9 ] || { echo "expected 9 worker runs each, got ${#small[@]} and ${#large[@]}" >&2; exit 1; }
names=("info" "error" "info --prefetch 128")
for k in 0 1 2; do
    per=()
    for round in 0 1 2; do
        i=$((round * 3 + k))
        per+=($(( (large[i] - small[i]) / 3000 )))
    done
    printf '%-20s instructions per job, three rounds: %s\n' "${names[k]}" "${per[*]}"
done
