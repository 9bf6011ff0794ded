#!/usr/bin/env bash
# Benchmark PhotonDB side by side with etcd (Debian's etcd-server, v3 JSON gateway) on loopback.
#
#   bench/compare_etcd.sh [--concurrency 8,64] [--duration 10] [--nodes 1|3] [--stale] ...
#
# For each concurrency level it starts a fresh etcd (one member, or three with --nodes 3; default
# durability, no --unsafe-no-fsync) in a temporary data directory, runs bench/loadgen.py against it,
# stops it, then does the same with a fresh PhotonDB node (or cluster), and finally prints a
# side-by-side table with the ratios photon/etcd. Everything it starts is stopped and every
# temporary directory removed on exit, also on error or Ctrl-C. Run `--help` for the options.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PYTHON="${PYTHON:-python3}"

CONCURRENCY="${BENCH_CONCURRENCY:-64}"
DURATION="${BENCH_DURATION:-10}"
WARMUP="${BENCH_WARMUP:-1}"
KEYS="${BENCH_KEYS:-10000}"
VALUE_SIZE="${BENCH_VALUE_SIZE:-1024}"
OPS="${BENCH_OPS:-put,get}"
NODES="${BENCH_NODES:-1}"
TARGETS="${BENCH_TARGETS:-etcd,photon}"
NULL_CEILING="${BENCH_NULL:-1}"
NULL_SERVER="${BENCH_NULL_SERVER:-process}"
OUT="${BENCH_OUT:-}"
REPEAT="${BENCH_REPEAT:-1}"
READY_TIMEOUT="${BENCH_READY_TIMEOUT:-60}"
ETCD_SCHED="${BENCH_ETCD_SCHED:-default}"
VIA="${BENCH_VIA:-all}"
STOP_TIMEOUT=20
EXTRA_LOADGEN_ARGS=()

usage() {
    cat <<EOF
usage: $0 [options] [-- extra loadgen.py options]

  --concurrency LIST   comma-separated levels                  [BENCH_CONCURRENCY=$CONCURRENCY]
  --repeat N           rounds per level, etcd and PhotonDB alternating; the table shows
                       medians and each round's ratio          [BENCH_REPEAT=$REPEAT]
  --duration SECONDS   measured seconds per phase              [BENCH_DURATION=$DURATION]
  --warmup SECONDS     unmeasured seconds before each phase    [BENCH_WARMUP=$WARMUP]
  --keys N             keyspace size                           [BENCH_KEYS=$KEYS]
  --value-size BYTES   value size                              [BENCH_VALUE_SIZE=$VALUE_SIZE]
  --ops LIST           phases: put, get, get_stale             [BENCH_OPS=$OPS]
  --stale              add a get_stale phase (etcd: serializable range)
  --nodes 1|3          etcd members / PhotonDB nodes           [BENCH_NODES=$NODES]
  --targets LIST       which of etcd,photon to run             [BENCH_TARGETS=$TARGETS]
  --no-null            skip the client-ceiling run (null target) [BENCH_NULL=$NULL_CEILING]
                       (its server runs as a child process)    [BENCH_NULL_SERVER=$NULL_SERVER]
  --out DIR            keep the JSON results and logs in DIR   [BENCH_OUT]
  --via all|leader     all: requests spread round-robin over every member, so a follower
                       forwards two writes in three (a client behind a Service); leader:
                       every request to the current leader only, on both sides
                                                               [BENCH_VIA=$VIA]
  --etcd-sched POLICY  default, or batch: run etcd under SCHED_BATCH too (photon-node sets
                       SCHED_BATCH on itself unless --cpu-scheduling normal)
                                                               [BENCH_ETCD_SCHED=$ETCD_SCHED]

With --nodes 3, PhotonDB endpoints come from PHOTON_ENDPOINTS (a cluster you started) or from
'photonctl dev up --nodes 3'; when neither is available the PhotonDB side is skipped.
EOF
}

while [[ $# -gt 0 ]]; do
    case "$1" in
        --concurrency) CONCURRENCY="$2"; shift 2 ;;
        --duration) DURATION="$2"; shift 2 ;;
        --repeat) REPEAT="$2"; shift 2 ;;
        --warmup) WARMUP="$2"; shift 2 ;;
        --keys) KEYS="$2"; shift 2 ;;
        --value-size) VALUE_SIZE="$2"; shift 2 ;;
        --ops) OPS="$2"; shift 2 ;;
        --stale) OPS="$OPS,get_stale"; shift ;;
        --nodes) NODES="$2"; shift 2 ;;
        --targets) TARGETS="$2"; shift 2 ;;
        --no-null) NULL_CEILING=0; shift ;;
        --out) OUT="$2"; shift 2 ;;
        --etcd-sched) ETCD_SCHED="$2"; shift 2 ;;
        --via) VIA="$2"; shift 2 ;;
        -h|--help) usage; exit 0 ;;
        --) shift; EXTRA_LOADGEN_ARGS=("$@"); break ;;
        *) echo "unknown option: $1 (see --help)" >&2; exit 2 ;;
    esac
done
if [[ "$ETCD_SCHED" != default && "$ETCD_SCHED" != batch ]]; then
    echo "--etcd-sched must be default or batch" >&2
    exit 2
fi
if [[ "$VIA" != all && "$VIA" != leader ]]; then
    echo "--via must be all or leader" >&2
    exit 2
fi
if ! [[ "$REPEAT" =~ ^[1-9][0-9]*$ ]]; then
    echo "--repeat must be a positive integer" >&2
    exit 2
fi
if [[ "$NODES" != 1 && "$NODES" != 3 ]]; then
    echo "--nodes must be 1 or 3" >&2
    exit 2
fi

log() { echo "[compare_etcd] $*" >&2; }

# -- cleanup: every process we start is recorded here and stopped on exit ---------------------
WORK="$(mktemp -d "${TMPDIR:-/tmp}/photon-bench.XXXXXX")"
PIDS=()
PHOTON_DEV_DIR=""
LOADGEN_PID=""
FAILURES=0

stop_pid() {  # SIGTERM, wait up to STOP_TIMEOUT seconds, then SIGKILL
    local pid="$1" waited=0
    kill -0 "$pid" 2>/dev/null || return 0
    kill -TERM "$pid" 2>/dev/null || true
    while kill -0 "$pid" 2>/dev/null && (( waited < STOP_TIMEOUT * 10 )); do
        sleep 0.1
        waited=$((waited + 1))
    done
    if kill -0 "$pid" 2>/dev/null; then
        log "process $pid did not stop within ${STOP_TIMEOUT}s; killing it"
        kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
}

stop_all() {
    local pid
    if [[ -n "$LOADGEN_PID" ]]; then
        stop_pid "$LOADGEN_PID"
        LOADGEN_PID=""
    fi
    for pid in "${PIDS[@]}"; do
        stop_pid "$pid"
    done
    PIDS=()
    if [[ -n "$PHOTON_DEV_DIR" ]]; then
        photon_cluster_down "$PHOTON_DEV_DIR" || true
        PHOTON_DEV_DIR=""
    fi
}

cleanup() {
    local status=$?
    trap - EXIT INT TERM
    stop_all
    if [[ -n "$OUT" ]]; then
        mkdir -p "$OUT"
        cp -r "$WORK"/results "$WORK"/logs "$OUT"/ 2>/dev/null || true
    fi
    rm -rf "$WORK"
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

mkdir -p "$WORK/results" "$WORK/logs"

# -- prerequisites -----------------------------------------------------------------------------
if [[ ",$TARGETS," == *,etcd,* ]] && ! command -v etcd >/dev/null 2>&1; then
    log "etcd is missing: installing Debian's etcd-server"
    if [[ "$(id -u)" != 0 ]]; then
        echo "etcd is not installed and this is not root: apt-get install etcd-server" >&2
        exit 1
    fi
    apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q etcd-server >/dev/null
fi
if [[ ",$TARGETS," == *,photon,* ]] && ! command -v photon-node >/dev/null 2>&1; then
    echo "photon-node is not installed: pip install -e . at the repository root" >&2
    exit 1
fi
"$PYTHON" -c 'import aiohttp' 2>/dev/null || { echo "aiohttp is missing for $PYTHON" >&2; exit 1; }

free_ports() {  # print N free loopback TCP ports
    "$PYTHON" "$HERE/free_ports.py" "$1"
}

wait_ready() {  # URL PID NAME: poll until URL answers 200, the process dies, or the deadline
    local url="$1" pid="$2" name="$3" deadline=$((SECONDS + READY_TIMEOUT))
    while (( SECONDS < deadline )); do
        if [[ -n "$pid" ]] && ! kill -0 "$pid" 2>/dev/null; then
            log "$name exited before it was ready; its log:"
            tail -n 30 "$WORK/logs/$name.log" >&2 || true
            return 1
        fi
        if curl -fsS -o /dev/null --max-time 2 "$url" 2>/dev/null; then
            return 0
        fi
        sleep 0.2
    done
    log "$name was not ready within ${READY_TIMEOUT}s"
    tail -n 30 "$WORK/logs/$name.log" >&2 || true
    return 1
}

# -- etcd ----------------------------------------------------------------------------------------
start_etcd() {  # RUN_ID; sets ENDPOINTS
    local run="$1" i cluster="" ports name
    local -a ETCD_PREFIX=()
    [[ "$ETCD_SCHED" == batch ]] && ETCD_PREFIX=(chrt --batch 0)
    local -a client_ports=() peer_ports=()
    read -r -a ports <<<"$(free_ports $((2 * NODES)))"
    for ((i = 0; i < NODES; i++)); do
        client_ports+=("${ports[$((2 * i))]}")
        peer_ports+=("${ports[$((2 * i + 1))]}")
        cluster+="${cluster:+,}e$((i + 1))=http://127.0.0.1:${peer_ports[$i]}"
    done
    ENDPOINTS=""
    for ((i = 0; i < NODES; i++)); do
        name="etcd-$run-e$((i + 1))"
        ${ETCD_PREFIX[@]+"${ETCD_PREFIX[@]}"} etcd --name "e$((i + 1))" \
            --data-dir "$WORK/$name" \
            --listen-client-urls "http://127.0.0.1:${client_ports[$i]}" \
            --advertise-client-urls "http://127.0.0.1:${client_ports[$i]}" \
            --listen-peer-urls "http://127.0.0.1:${peer_ports[$i]}" \
            --initial-advertise-peer-urls "http://127.0.0.1:${peer_ports[$i]}" \
            --initial-cluster "$cluster" \
            --initial-cluster-token "bench-$run" \
            --initial-cluster-state new \
            --logger zap --log-outputs stderr --log-level warn \
            >"$WORK/logs/$name.log" 2>&1 &
        PIDS+=("$!")
        ENDPOINTS+="${ENDPOINTS:+,}http://127.0.0.1:${client_ports[$i]}"
    done
    for ((i = 0; i < NODES; i++)); do
        wait_ready "http://127.0.0.1:${client_ports[$i]}/health" "${PIDS[$i]}" \
            "etcd-$run-e$((i + 1))"
    done
}

# -- PhotonDB ------------------------------------------------------------------------------------
# The three-node cluster comes from `photonctl dev up`: real photon-node processes on loopback,
# bootstrapped together, ready when it returns; its last line is "endpoints: URL,URL,URL".
photon_dev_available() {
    photonctl dev --help >/dev/null 2>&1
}

photon_cluster_up() {  # DIR -> prints endpoints
    # Every node's two ports free, below the ephemeral range (not only the first one).
    local base
    base="$("$PYTHON" "$HERE/free_ports.py" --base "$NODES")"
    photonctl dev up --nodes "$NODES" --dir "$1" --base-port "$base" -- \
        --log-level warning | sed -n 's/^endpoints: //p'
}

photon_cluster_down() {  # DIR
    photonctl dev down --dir "$1" >/dev/null 2>&1
}

start_photon() {  # RUN_ID; sets ENDPOINTS, or returns 1 when PhotonDB is to be skipped
    local run="$1" ports name
    name="photon-$run-n1"
    if [[ "$NODES" == 1 ]]; then
        read -r -a ports <<<"$(free_ports 2)"
        photon-node --node-id n1 --data-dir "$WORK/$name" \
            --listen "127.0.0.1:${ports[0]}" --peer-listen "127.0.0.1:${ports[1]}" \
            --log-level warning \
            >"$WORK/logs/$name.log" 2>&1 &
        PIDS+=("$!")
        ENDPOINTS="http://127.0.0.1:${ports[0]}"
        wait_ready "$ENDPOINTS/health/ready" "$!" "$name"
        return 0
    fi
    if [[ -n "${PHOTON_ENDPOINTS:-}" ]]; then
        log "using the PhotonDB cluster at PHOTON_ENDPOINTS (not started or reset by this script)"
        ENDPOINTS="$PHOTON_ENDPOINTS"
        return 0
    fi
    if ! photon_dev_available; then
        log "'photonctl dev' is not available yet: skipping the PhotonDB $NODES-node run"
        log "(set PHOTON_ENDPOINTS=URL,URL,URL to benchmark a cluster started by other means)"
        return 1
    fi
    PHOTON_DEV_DIR="$WORK/photon-$run"
    mkdir -p "$PHOTON_DEV_DIR"
    ENDPOINTS="$(photon_cluster_up "$PHOTON_DEV_DIR")"
    if [[ -z "$ENDPOINTS" ]]; then
        log "'photonctl dev up' printed no endpoints: skipping PhotonDB; the nodes' last words:"
        tail -n 5 "$PHOTON_DEV_DIR"/*.log >&2 || true
        return 1
    fi
}

# -- runs ----------------------------------------------------------------------------------------
server_pids() {  # the server processes this script started, comma-separated (may be empty)
    local pids="${PIDS[*]:-}"
    if [[ -n "$PHOTON_DEV_DIR" && -f "$PHOTON_DEV_DIR/cluster.json" ]]; then
        pids="$("$PYTHON" -c 'import json, sys
print(" ".join(str(n["pid"]) for n in json.load(open(sys.argv[1]))["nodes"]))' \
            "$PHOTON_DEV_DIR/cluster.json")"
    fi
    echo "${pids// /,}"
}

loadgen() {  # TARGET CONCURRENCY OUTFILE [ENDPOINTS]
    local target="$1" concurrency="$2" outfile="$3" endpoints="${4:-}" args pids
    args=(--target "$target" --concurrency "$concurrency" --duration "$DURATION"
        --warmup "$WARMUP" --keys "$KEYS" --value-size "$VALUE_SIZE" --ops "$OPS" --json)
    [[ -n "$endpoints" ]] && args+=(--endpoints "$endpoints")
    # CPU per request of every server process (all threads), read from /proc by the client.
    pids="$(server_pids)"
    [[ "$target" != null && -n "$pids" ]] && args+=(--server-pids "$pids")
    # The null server in its own process, like the real servers: the client keeps its core.
    [[ "$target" == null ]] && args+=(--null-server "$NULL_SERVER")
    log "loadgen: $target, concurrency $concurrency, ${DURATION}s per phase ($OPS)"
    # In the background and waited for, so that a signal interrupts the wait and the trap runs
    # at once (bash defers traps while a foreground command runs).
    "$PYTHON" "$HERE/loadgen.py" "${args[@]}" ${EXTRA_LOADGEN_ARGS[@]+"${EXTRA_LOADGEN_ARGS[@]}"} \
        >"$outfile" &
    LOADGEN_PID=$!
    if ! wait "$LOADGEN_PID"; then
        log "loadgen against $target reported failure (mostly errors); see the table and logs"
        FAILURES=$((FAILURES + 1))
    fi
    LOADGEN_PID=""
}

via() {  # TARGET ENDPOINTS -> the endpoints the load goes to (--via)
    if [[ "$VIA" == leader && "$1" != null && "$2" == *,* ]]; then
        "$PYTHON" "$HERE/leader.py" "$1" "$2"
    else
        echo "$2"
    fi
}

IFS=',' read -r -a LEVELS <<<"$CONCURRENCY"
log "work directory $WORK; nodes $NODES; requests via $VIA; concurrency ${CONCURRENCY}; etcd scheduling ${ETCD_SCHED}; $(etcd --version 2>/dev/null | head -n 1 || true)"
for c in "${LEVELS[@]}"; do
    if [[ "$NULL_CEILING" == 1 ]]; then
        loadgen null "$c" "$WORK/results/null-c$c.json"
    fi
    # Rounds alternate the two targets, so a slow spell of the host falls on both alike.
    for (( r = 1; r <= REPEAT; r++ )); do
        if [[ ",$TARGETS," == *,etcd,* ]]; then
            start_etcd "c$c-r$r"
            load_endpoints="$(via etcd "$ENDPOINTS")"  # set -e stops here if no member leads
            loadgen etcd "$c" "$WORK/results/etcd-c$c-r$r.json" "$load_endpoints"
            stop_all
            rm -rf "$WORK"/etcd-*
        fi
        if [[ ",$TARGETS," == *,photon,* ]]; then
            if start_photon "c$c-r$r"; then
                load_endpoints="$(via photon "$ENDPOINTS")"
                loadgen photon "$c" "$WORK/results/photon-c$c-r$r.json" "$load_endpoints"
            fi
            stop_all
            rm -rf "$WORK"/photon-*
        fi
    done
done

echo
echo "PhotonDB vs etcd: $NODES node(s) each, requests via $VIA, ${VALUE_SIZE} B values, ${KEYS} keys," \
    "${DURATION}s per phase after ${WARMUP}s warm-up, ${REPEAT} round(s), all on loopback on" \
    "$(nproc) cores"
"$PYTHON" "$HERE/report.py" "$WORK"/results/*.json
if (( FAILURES > 0 )); then
    log "$FAILURES load run(s) failed; the server logs are kept with --out DIR"
    exit 1
fi
