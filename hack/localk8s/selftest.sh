#!/usr/bin/env bash
# Self-test of a cluster started by up.sh: real pods from a locally built image, pod->pod,
# pod->Service, pod->apiserver Service, cluster DNS, host->pod, host->Service, and that the
# node network namespace has no way off the machine. Sends traffic only inside the node
# netns and over its veth. Ends with "N passed, M failed"; exit 1 if anything failed.
set -uo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
R=$LK8S_RUN
[ -f "$R/bin" ] || lk8s_die "no cluster at $R (run up.sh)"
BIN=$(cat "$R/bin")
export KUBECONFIG=$R/admin.kubeconfig
K() { "$BIN/kubectl" "$@"; }
NS=lk8s-selftest
PASS=0 FAIL=0
check() { # description cmd...   (retried for up to ~10 s: kube-proxy/DNS sync lags a little)
  local d=$1; shift
  local out i
  for i in $(seq 1 10); do
    if out=$("$@" 2>&1); then
      PASS=$((PASS + 1)); lk8s_log "ok   $d: $(echo "$out" | tail -1)"; [ "$i" = 1 ] || lk8s_log "     (after $i tries)"; return 0
    fi
    sleep 1
  done
  FAIL=$((FAIL + 1)); lk8s_log "FAIL $d: $(echo "$out" | tail -3 | tr '\n' ' ')"
}

# probe image: built and imported by up.sh
IMG=$LK8S_PROBE_IMAGE

K delete ns "$NS" --ignore-not-found --wait=true >/dev/null
K create ns "$NS" >/dev/null
K -n "$NS" apply -f - >/dev/null <<EOF
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: srv}
spec:
  serviceName: srv-hl
  replicas: 2
  selector: {matchLabels: {app: srv}}
  template:
    metadata: {labels: {app: srv}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - {name: srv, image: $IMG, imagePullPolicy: Never, args: [serve], ports: [{containerPort: 8080}],
         readinessProbe: {httpGet: {path: /, port: 8080}, periodSeconds: 1}}
---
apiVersion: v1
kind: Service
metadata: {name: srv}
spec: {selector: {app: srv}, ports: [{port: 80, targetPort: 8080}]}
---
apiVersion: v1
kind: Service
metadata: {name: srv-hl}
spec: {clusterIP: None, selector: {app: srv}, ports: [{port: 8080}]}
---
apiVersion: v1
kind: Pod
metadata: {name: client}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - {name: c, image: $IMG, imagePullPolicy: Never, args: [sleep]}
EOF
t0=$(date +%s)
check "pods Ready" K -n "$NS" wait --for=condition=Ready pod/client pod/srv-0 pod/srv-1 --timeout=120s
lk8s_log "pods ready after $(( $(date +%s) - t0 ))s"
POD1=$(K -n "$NS" get pod srv-1 -o jsonpath='{.status.podIP}')
SVC=$(K -n "$NS" get svc srv -o jsonpath='{.spec.clusterIP}')
X() { K -n "$NS" exec client -- /lk8s-probe "$@"; }
check "pod -> pod IP $POD1" X get "http://$POD1:8080/"
check "pod -> Service ClusterIP $SVC" X get "http://$SVC/"
check "pod -> apiserver via kubernetes Service" X tcp "$LK8S_SVC_IP:443"
check "host -> pod IP (via veth)" curl -sf -m 3 "http://$POD1:8080/"
check "host -> Service ClusterIP (via veth)" curl -sf -m 3 "http://$SVC/"
check "kubectl logs (apiserver -> kubelet)" K -n "$NS" logs srv-0 --tail=1
if [ -f "$R/Corefile" ]; then
  check "DNS: Service name" X get "http://srv.$NS.svc.cluster.local/"
  check "DNS: StatefulSet pod name" X get "http://srv-0.srv-hl.$NS.svc.cluster.local:8080/"
  check "DNS: short name via search path" X resolve srv
  nodns() { ! X resolve example.org; }
  check "DNS: no names outside the cluster resolve" nodns
fi
if K get storageclass standard >/dev/null 2>&1; then
  K -n "$NS" apply -f - >/dev/null <<EOF
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data}
spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 16Mi}}}
---
apiVersion: v1
kind: Pod
metadata: {name: vol}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - {name: c, image: $IMG, imagePullPolicy: Never, args: [sleep], volumeMounts: [{name: d, mountPath: /data}]}
  volumes: [{name: d, persistentVolumeClaim: {claimName: data}}]
EOF
  check "PVC of the default StorageClass binds, pod with it Ready" K -n "$NS" wait --for=condition=Ready pod/vol --timeout=120s
  pvdir() { local pv; pv=$(K -n "$NS" get pvc data -o jsonpath='{.spec.volumeName}'); ls -d "$R/volumes/${pv}_${NS}_data"; }
  check "its PV is a directory under $R/volumes" pvdir
fi
noroute() { [ -z "$(lk8s_in ip route show default)" ]; }
check "node netns has no default route" noroute
# `ip route get` asks the kernel, sends nothing: off-machine addresses must be unreachable
unreach() { ! lk8s_in ip route get 192.0.2.1 >/dev/null 2>&1 && ! lk8s_in ip route get 1.1.1.1 >/dev/null 2>&1; }
check "off-machine addresses unreachable from the node" unreach

K delete ns "$NS" --wait=false >/dev/null
echo "selftest: $PASS passed, $FAIL failed"
[ "$FAIL" = 0 ]
