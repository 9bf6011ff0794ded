#!/usr/bin/env bash
# The one-command demo (`make demo`): on a fresh Debian machine, as root,
#   1. installs the Debian packages it needs            (hack/localk8s/deps.sh)
#   2. builds or reuses the Kubernetes binaries          (hack/localk8s/build.sh; first run long)
#   3. starts the local single-node cluster              (hack/localk8s/up.sh)
#   4. builds the node and operator images, loads them   (hack/localk8s/images.sh)
#   5. installs the operator with Helm                   (charts/photon-operator)
#   6. creates a 3-node PhotonCluster                    (k8s/examples/basic.yaml), waits for Ready
#   7. writes and reads a key through the client Service
#   8. shows `kubectl get photon -o wide`, the members the nodes report, and metrics
# Re-running it is cheap: every step reuses what is already there. The cluster stays up at the
# end; `make cluster-down` removes it.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
ROOT=$(cd "$LK8S_DIR/../.." && pwd)
cd "$ROOT"
T0=$(date +%s)
STEP=0
step() { STEP=$((STEP + 1)); printf '\n\033[1m==> [%d/8 +%ss] %s\033[0m\n' "$STEP" "$(($(date +%s) - T0))" "$*" >&2; }
say() { printf '    %s\n' "$*" >&2; }
[ "$(id -u)" = 0 ] || lk8s_die "the demo starts a local Kubernetes node: run it as root"

CHART=${OPERATOR_CHART:-charts/photon-operator}
EXAMPLE=${DEMO_EXAMPLE:-k8s/examples/basic.yaml}
NS_OP=${OPERATOR_NAMESPACE:-photondb-system}
RELEASE=${OPERATOR_RELEASE:-photon-operator}
TAG=${IMAGE_TAG:-$(sed -n 's/^version = "\(.*\)"/\1/p' pyproject.toml)}

step "Debian packages (containerd, runc, CNI plugins, iptables, docker.io for the image build, debootstrap)"
"$LK8S_DIR/deps.sh" all

step "Kubernetes binaries (cached in ${PHOTON_CACHE:-$HOME/.cache/photondb}/localk8s)"
if [ -z "$("$LK8S_DIR/tools.sh")" ]; then
  say "first run: compiling etcd, Kubernetes, CoreDNS and the storage provisioner from the Go"
  say "module proxy -- about 15 minutes on 2 cores, once; later runs take a second"
fi
BIN=$("$LK8S_DIR/build.sh")
export PATH="$BIN:$PATH"

step "local cluster (single node, private network namespace, StorageClass 'standard')"
KUBECONFIG=$("$LK8S_DIR/up.sh")
export KUBECONFIG
kubectl get nodes -o wide >&2

step "images photondb/node:$TAG and photondb/operator:$TAG (first run: Debian base ~2 min)"
IMAGE_TAG=$TAG "$LK8S_DIR/images.sh" all

step "operator (helm upgrade --install $RELEASE $CHART)"
[ -d "$CHART" ] || lk8s_die "no Helm chart at $CHART yet; the cluster and images are ready (KUBECONFIG=$KUBECONFIG)"
helm upgrade --install "$RELEASE" "$CHART" --namespace "$NS_OP" --create-namespace \
  --set image.repository="${OPERATOR_IMAGE:-photondb/operator}" --set image.tag="$TAG" \
  --set image.pullPolicy=IfNotPresent --wait --timeout 5m >&2
kubectl -n "$NS_OP" get pods >&2

step "a 3-node PhotonCluster ($EXAMPLE)"
[ -f "$EXAMPLE" ] || lk8s_die "no $EXAMPLE yet; the operator is installed (KUBECONFIG=$KUBECONFIG)"
kubectl apply -f "$EXAMPLE" >&2
read -r NAME NS < <(kubectl get -f "$EXAMPLE" -o json | python3 -c '
import json, sys
d = json.load(sys.stdin)
for o in d.get("items", [d]):
    if o["kind"] == "PhotonCluster":
        print(o["metadata"]["name"], o["metadata"].get("namespace") or "default"); break
')
[ -n "${NAME:-}" ] || lk8s_die "no PhotonCluster in $EXAMPLE"
say "waiting for photoncluster/$NAME in namespace $NS to become Ready (pods start, elect a leader)"
if ! kubectl -n "$NS" wait --for=condition=Ready "photoncluster/$NAME" --timeout=10m >&2; then
  kubectl -n "$NS" get photonclusters,statefulsets,pods,pvc -o wide >&2 || true
  lk8s_die "photoncluster/$NAME did not become Ready; see: kubectl -n $NS describe photoncluster/$NAME"
fi
kubectl -n "$NS" get pods,pvc -o wide >&2

step "use it: a write and a read through the client Service"
SVC=$(kubectl -n "$NS" get svc -l "photondb.io/cluster=$NAME" -o json | python3 -c '
import json, sys
svcs = [s for s in json.load(sys.stdin)["items"] if s["spec"].get("clusterIP") not in (None, "None")]
svcs.sort(key=lambda s: (all(p["port"] != 7700 for p in s["spec"]["ports"]), s["metadata"]["name"]))
print(svcs[0]["metadata"]["name"] if svcs else "")
')
[ -n "$SVC" ] || lk8s_die "no client Service labelled photondb.io/cluster=$NAME in $NS"
PF_LOG=$(mktemp)
kubectl -n "$NS" port-forward --address 127.0.0.1 "svc/$SVC" :7700 >"$PF_LOG" 2>&1 &
PF=$!
trap 'kill $PF 2>/dev/null || true; rm -f "$PF_LOG"' EXIT
PORT=""
for _ in $(seq 1 50); do
  PORT=$(sed -n 's/^Forwarding from 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$PF_LOG" | head -1)
  [ -n "$PORT" ] && break
  sleep 0.2
done
[ -n "$PORT" ] || lk8s_die "kubectl port-forward svc/$SVC failed: $(cat "$PF_LOG")"
URL=http://127.0.0.1:$PORT
say "PUT $URL/kv/demo%2Fgreeting  (kubectl port-forward svc/$SVC)"
say "  -> $(curl -sS --fail-with-body -m 10 -X PUT --data-binary "hello from the demo" "$URL/kv/demo%2Fgreeting")"
say "GET $URL/kv/demo%2Fgreeting"
say "  -> $(curl -sS --fail-with-body -m 10 "$URL/kv/demo%2Fgreeting")"

step "what Kubernetes and the metrics say"
kubectl -n "$NS" get photon -o wide >&2
kubectl -n "$NS" get "photoncluster/$NAME" -o json | python3 -c '
import json, sys
for m in json.load(sys.stdin).get("status", {}).get("members", []):
    print("    member %(name)s  raft=%(raftRole)s  version=%(version)s  ready=%(ready)s" % m)
' >&2
curl -sS -m 10 "$URL/_metrics" \
  | grep -E '^photon_(build_info|node_ready|storage_revision|kv_requests_total)' | head -12 | sed 's/^/    /' >&2

cat >&2 <<EOF

Done in $(($(date +%s) - T0))s. The cluster keeps running; go on with:

  export KUBECONFIG=$KUBECONFIG
  export PATH="\$PATH:$BIN"
  kubectl -n $NS get photon,pods,pvc              # the cluster and its volumes
  kubectl -n $NS port-forward svc/$SVC 7700:7700  # then: .venv/bin/photonctl put/get/scan/status
  kubectl -n $NS edit photoncluster/$NAME        # e.g. change the replica count and watch it scale
  make e2e                                        # the end-to-end suite against this cluster
  make cluster-down                               # stop everything and remove it
EOF
