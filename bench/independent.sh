#!/usr/bin/env bash
# The no-coordination ceiling of N photon-node processes on this machine.
#
#   bench/independent.sh [--nodes 3] [--concurrency 64] [--duration 8] [--ops LIST] [-- NODE_ARGS]
#
# NODE_ARGS go to every photon-node (e.g. `-- --cpu-scheduling normal`).
# Starts N photon-node processes that know nothing of each other (N single-node clusters, no
# Raft traffic between them) on loopback, spreads the same closed-loop load over them with
# bench/loadgen.py, and prints ops/s and latencies. A three-node cluster can at best match this
# on the same machine: any gap is the price of replication and coordination, and what is left is
# the cost of running N Python servers (plus the client) on the machine's cores. Everything it
# starts is stopped, and its temporary directory removed, on exit.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PYTHON="${PYTHON:-python3}"
NODES=3
CONCURRENCY=64
DURATION=8
OPS="put,get,get_stale"
NODE_ARGS=()
while [[ $# -gt 0 ]]; do
    case "$1" in
        --nodes) NODES="$2"; shift 2 ;;
        --concurrency) CONCURRENCY="$2"; shift 2 ;;
        --duration) DURATION="$2"; shift 2 ;;
        --ops) OPS="$2"; shift 2 ;;
        -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
        --) shift; NODE_ARGS=("$@"); break ;;
        *) echo "unknown option: $1 (see --help)" >&2; exit 2 ;;
    esac
done
command -v photon-node >/dev/null || { echo "photon-node is not installed: pip install -e ." >&2; exit 1; }

WORK="$(mktemp -d "${TMPDIR:-/tmp}/photon-independent.XXXXXX")"
PIDS=()
cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

read -r -a PORTS <<<"$("$PYTHON" "$HERE/free_ports.py" "$((2 * NODES))")"
ENDPOINTS=""
for ((i = 0; i < NODES; i++)); do
    photon-node --node-id "solo$i" --data-dir "$WORK/solo$i" \
        --listen "127.0.0.1:${PORTS[$((2 * i))]}" --peer-listen "127.0.0.1:${PORTS[$((2 * i + 1))]}" \
        --log-level warning ${NODE_ARGS[@]+"${NODE_ARGS[@]}"} >"$WORK/solo$i.log" 2>&1 &
    PIDS+=("$!")
    ENDPOINTS+="${ENDPOINTS:+,}http://127.0.0.1:${PORTS[$((2 * i))]}"
done
for url in ${ENDPOINTS//,/ }; do
    deadline=$((SECONDS + 60))
    until curl -fsS -o /dev/null --max-time 2 "$url/health/ready" 2>/dev/null; do
        (( SECONDS < deadline )) || { echo "$url was not ready within 60 s" >&2; exit 1; }
        sleep 0.2
    done
done
echo "$NODES independent photon-node processes (no replication), concurrency $CONCURRENCY:"
"$PYTHON" "$HERE/loadgen.py" --target photon --endpoints "$ENDPOINTS" \
    --concurrency "$CONCURRENCY" --duration "$DURATION" --ops "$OPS"
