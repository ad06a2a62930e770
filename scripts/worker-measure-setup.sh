# Sourced by the scripts that measure the worker against nginx (callgrind-worker.sh, syscalls-worker.sh):
# checks what they need and sets `here` (the repository), `release` (the release build) and `pid` (the
# private broker's process).
#
#   . "$(dirname "$0")/worker-measure-setup.sh" TOOL PACKAGE     (TOOL: the measuring program, from PACKAGE)
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
release="$here/.build/release"
[ -x "$release/cronq-bench" ] && [ -x "$release/cronq-worker" ] || { echo "build first: make release" >&2; exit 1; }
command -v "$1" >/dev/null || { echo "$1 is not installed (apt-get install $2)" >&2; exit 1; }
pid=$("$here/scripts/rabbitmq.sh" pid 2>/dev/null) || { echo "start the broker first: scripts/rabbitmq.sh up" >&2; exit 1; }
