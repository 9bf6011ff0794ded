#!/usr/bin/env bash
# Bring up a real single-node Kubernetes (etcd, kube-apiserver, kube-controller-manager,
# kube-scheduler, containerd, kubelet, kube-proxy) from the binaries build.sh cached,
# inside a private network namespace with no route off this machine.
#
#   sudo hack/localk8s/up.sh            # prints the admin kubeconfig path on stdout
#   KUBECONFIG=$(hack/localk8s/up.sh) kubectl get nodes
#   hack/localk8s/down.sh
#
# Env: LOCALK8S_RUN (state dir, default /var/tmp/photondb-localk8s), LOCALK8S_BIN (bin dir,
# default: build.sh's output), LOCALK8S_NO_DNS=1 (skip CoreDNS), LOCALK8S_IMAGE_TARS (space-separated `docker save` / OCI tars
# to import into the node's containerd), LOCALK8S_NO_PROXY=1 (skip kube-proxy),
# LOCALK8S_NO_STORAGE=1 (no local-path-provisioner / StorageClass `standard`).
# Requires root and Debian's containerd runc containernetworking-plugins iptables openssl gcc.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

[ "$(id -u)" = 0 ] || lk8s_die "must run as root"
for c in containerd containerd-shim-runc-v2 runc ctr iptables nsenter openssl gcc ip; do
  command -v "$c" >/dev/null || lk8s_die "missing $c (apt-get install -y containerd runc containernetworking-plugins iptables conntrack openssl gcc)"
done
[ -x /usr/lib/cni/bridge ] || lk8s_die "missing /usr/lib/cni/bridge (apt-get install -y containernetworking-plugins)"
if [ -e "$LK8S_RUN/pids" ] || [ -e "/run/netns/$LK8S_NETNS" ]; then
  # idempotent: a healthy cluster is reused, a broken/stale one (crash, reboot) torn down first
  if [ -f "$LK8S_RUN/bin" ] && [ -f "$LK8S_RUN/admin.kubeconfig" ] \
     && "$(cat "$LK8S_RUN/bin")/kubectl" --kubeconfig="$LK8S_RUN/admin.kubeconfig" --request-timeout=5s \
          get node "$LK8S_NODE" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null | grep -qx True; then
    lk8s_log "cluster already up and node $LK8S_NODE Ready; reusing it (down.sh to start afresh)"
    echo "$LK8S_RUN/admin.kubeconfig"
    exit 0
  fi
  lk8s_log "found a stale or unhealthy cluster ($LK8S_RUN, netns $LK8S_NETNS): tearing it down first"
  "$LK8S_DIR/down.sh"
fi

BIN=${LOCALK8S_BIN:-$("$LK8S_DIR/build.sh")}
for b in etcd kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kubectl; do
  [ -x "$BIN/$b" ] || lk8s_die "missing $BIN/$b (run build.sh)"
done
KUBECTL=$BIN/kubectl
T0=$(date +%s)
R=$LK8S_RUN P=$LK8S_RUN/pki
mkdir -p "$R"/{pids,logs,pki,cni/net.d,cni-ipam,kubelet,pod-logs,containerd,images}
echo "$BIN" >"$R/bin"

start() { # name cmd... : start in the node netns, in the background, pid to pids/name
  local n=$1; shift
  lk8s_log "starting $n"
  setsid nsenter --net="/run/netns/$LK8S_NETNS" -- "$@" >"$R/logs/$n.log" 2>&1 </dev/null &
  echo $! >"$R/pids/$n"
}
wait_for() { # what timeout-s cmd...
  local what=$1 t=$2; shift 2
  local i=0
  until "$@" >/dev/null 2>&1; do
    i=$((i + 1)); [ "$i" -le "$((t * 2))" ] || lk8s_die "timed out waiting for $what (see $R/logs)"
    sleep 0.5
  done
  lk8s_log "$what ready after $(( $(date +%s) - T0 ))s"
}

# ------------------------------------------------------------------ 1. network namespace
lk8s_log "network namespace $LK8S_NETNS"
ip netns add "$LK8S_NETNS"
ip link add "$LK8S_VETH_HOST" type veth peer name "$LK8S_VETH_NODE"
ip link set "$LK8S_VETH_NODE" netns "$LK8S_NETNS"
ip addr add "$LK8S_HOST_IP/30" dev "$LK8S_VETH_HOST"
ip link set "$LK8S_VETH_HOST" up
lk8s_in ip link set lo up
lk8s_in ip addr add "$LK8S_NODE_IP/30" dev "$LK8S_VETH_NODE"
lk8s_in ip link set "$LK8S_VETH_NODE" up
# un-DNATed ClusterIP traffic (and connect() to a ClusterIP from a node process, which needs
# a route before kube-proxy's OUTPUT DNAT) goes to a bridge with no ports and dies there
lk8s_in ip link add kube-svc type bridge
lk8s_in ip link set kube-svc up
lk8s_in ip route add "$LK8S_SVC_CIDR" dev kube-svc
# host -> pods and host -> Services go through the veth (both end inside the netns)
ip route replace "$LK8S_POD_CIDR" via "$LK8S_NODE_IP" dev "$LK8S_VETH_HOST"
ip route replace "$LK8S_SVC_CIDR" via "$LK8S_NODE_IP" dev "$LK8S_VETH_HOST"
# no default route in the netns, on purpose. Belt and braces: drop anything the node would
# forward out of the veth that is not addressed to the host end.
lk8s_in iptables -N LOCALK8S-GUARD
lk8s_in iptables -A LOCALK8S-GUARD -o "$LK8S_VETH_NODE" ! -d "$LK8S_HOST_IP" -j DROP
lk8s_in iptables -I FORWARD 1 -j LOCALK8S-GUARD
lk8s_in sysctl -qw net.ipv4.ip_forward=1
lk8s_in sysctl -qw net.bridge.bridge-nf-call-iptables=1 2>/dev/null \
  || lk8s_log "warning: net.bridge.bridge-nf-call-iptables not settable in the netns"
# global knobs the kubelet / many pods want; remember the old values for down.sh
: >"$R/sysctl.orig"
for k in fs.inotify.max_user_instances fs.inotify.max_user_watches kernel.panic kernel.panic_on_oops vm.overcommit_memory; do
  echo "$k=$(sysctl -n "$k")" >>"$R/sysctl.orig"
done
sysctl -qw fs.inotify.max_user_instances=512 fs.inotify.max_user_watches=524288

# ------------------------------------------------------------------ 2. PKI + kubeconfigs
lk8s_log "certificates"
ossl() { openssl "$@" 2>>"$R/logs/openssl.log"; }
ossl req -x509 -new -newkey rsa:2048 -nodes -days 3650 -subj /CN=localk8s-ca -keyout "$P/ca.key" -out "$P/ca.crt"
cert() { # name CN O SAN
  ossl req -new -newkey rsa:2048 -nodes -subj "/CN=$2${3:+/O=$3}" -keyout "$P/$1.key" -out "$P/$1.csr"
  { printf 'keyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth,clientAuth\n'
    [ -z "${4:-}" ] || printf 'subjectAltName=%s\n' "$4"; } >"$P/$1.ext"
  ossl x509 -req -in "$P/$1.csr" -CA "$P/ca.crt" -CAkey "$P/ca.key" -CAcreateserial -days 3650 \
    -sha256 -extfile "$P/$1.ext" -out "$P/$1.crt"
}
cert apiserver kube-apiserver "" "IP:127.0.0.1,IP:$LK8S_NODE_IP,IP:$LK8S_SVC_IP,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
cert apiserver-kubelet-client kube-apiserver-kubelet-client system:masters
cert admin admin system:masters
cert kcm system:kube-controller-manager
cert sched system:kube-scheduler
cert kubelet "system:node:$LK8S_NODE" system:nodes "DNS:$LK8S_NODE,IP:$LK8S_NODE_IP"
cert proxy system:kube-proxy
ossl genrsa -out "$P/sa.key" 2048
ossl rsa -in "$P/sa.key" -pubout -out "$P/sa.pub"
mkkc() { # file cert server
  local f=$1
  "$KUBECTL" config set-cluster local --server="$3" --certificate-authority="$P/ca.crt" --embed-certs --kubeconfig="$f" >/dev/null
  "$KUBECTL" config set-credentials u --client-certificate="$P/$2.crt" --client-key="$P/$2.key" --embed-certs --kubeconfig="$f" >/dev/null
  "$KUBECTL" config set-context default --cluster=local --user=u --kubeconfig="$f" >/dev/null
  "$KUBECTL" config use-context default --kubeconfig="$f" >/dev/null
}
for n in kcm sched kubelet proxy; do mkkc "$R/$n.kubeconfig" "$n" https://127.0.0.1:6443; done
mkkc "$R/admin.kubeconfig" admin "https://$LK8S_NODE_IP:6443"      # for the host (via the veth)
mkkc "$R/admin-node.kubeconfig" admin https://127.0.0.1:6443        # inside the netns
K() { "$KUBECTL" --kubeconfig="$R/admin.kubeconfig" "$@"; }

# ------------------------------------------------------------------ 3. etcd + control plane
start etcd "$BIN/etcd" --name=default --data-dir="$R/etcd" \
  --listen-client-urls=http://127.0.0.1:2379 --advertise-client-urls=http://127.0.0.1:2379 \
  --listen-peer-urls=http://127.0.0.1:2380 --initial-advertise-peer-urls=http://127.0.0.1:2380 \
  --initial-cluster=default=http://127.0.0.1:2380 --listen-metrics-urls=http://127.0.0.1:2381 \
  --unsafe-no-fsync --auto-compaction-retention=1 --quota-backend-bytes=2147483648
wait_for etcd 30 lk8s_in python3 -c 'import urllib.request as u;assert b"true" in u.urlopen("http://127.0.0.1:2379/health",timeout=1).read()'

start kube-apiserver "$BIN/kube-apiserver" --etcd-servers=http://127.0.0.1:2379 \
  --bind-address=0.0.0.0 --secure-port=6443 --advertise-address="$LK8S_NODE_IP" \
  --tls-cert-file="$P/apiserver.crt" --tls-private-key-file="$P/apiserver.key" --client-ca-file="$P/ca.crt" \
  --kubelet-client-certificate="$P/apiserver-kubelet-client.crt" --kubelet-client-key="$P/apiserver-kubelet-client.key" \
  --kubelet-preferred-address-types=InternalIP,Hostname \
  --service-account-issuer=https://kubernetes.default.svc.cluster.local \
  --service-account-key-file="$P/sa.pub" --service-account-signing-key-file="$P/sa.key" \
  --service-cluster-ip-range="$LK8S_SVC_CIDR" \
  --authorization-mode=Node,RBAC --enable-admission-plugins=NodeRestriction \
  --allow-privileged=true --enable-aggregator-routing=true --profiling=false
wait_for kube-apiserver 120 K get --raw /readyz

start kube-controller-manager "$BIN/kube-controller-manager" --kubeconfig="$R/kcm.kubeconfig" \
  --authentication-kubeconfig="$R/kcm.kubeconfig" --authorization-kubeconfig="$R/kcm.kubeconfig" \
  --bind-address=127.0.0.1 --leader-elect=false \
  --root-ca-file="$P/ca.crt" --service-account-private-key-file="$P/sa.key" \
  --use-service-account-credentials=true \
  --cluster-signing-cert-file="$P/ca.crt" --cluster-signing-key-file="$P/ca.key" \
  --service-cluster-ip-range="$LK8S_SVC_CIDR"
start kube-scheduler "$BIN/kube-scheduler" --kubeconfig="$R/sched.kubeconfig" \
  --authentication-kubeconfig="$R/sched.kubeconfig" --authorization-kubeconfig="$R/sched.kubeconfig" \
  --bind-address=127.0.0.1 --leader-elect=false

# ------------------------------------------------------------------ 4. containerd + images
sed "s#<RUN>#$R#g; s#<PAUSE>#$LK8S_PAUSE_IMAGE#g" >"$R/containerd.toml" <<'EOF'
version = 2
root  = "<RUN>/containerd/root"
state = "<RUN>/containerd/state"
[grpc]
  address = "<RUN>/containerd/containerd.sock"
[plugins."io.containerd.internal.v1.opt"]
  path = "<RUN>/containerd/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "<PAUSE>"
  netns_mounts_under_state_dir = true
  disable_apparmor = true
  # this sandbox lacks CAP_SYS_RESOURCE: lowering oom_score_adj (pause: -998, Guaranteed
  # pods: -997) fails with "can't get final child's PID from pipe: EOF"; clamp to ours
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir  = "/usr/lib/cni"
    conf_dir = "<RUN>/cni/net.d"
EOF
sed "s#<RUN>#$R#g; s#<POD_CIDR>#$LK8S_POD_CIDR#g" >"$R/cni/net.d/10-bridge.conflist" <<'EOF'
{"cniVersion": "1.0.0", "name": "localk8s",
 "plugins": [
   {"type": "bridge", "bridge": "cni0", "isGateway": true, "ipMasq": false, "hairpinMode": true,
    "ipam": {"type": "host-local", "ranges": [[{"subnet": "<POD_CIDR>"}]],
             "routes": [{"dst": "0.0.0.0/0"}], "dataDir": "<RUN>/cni-ipam"}},
   {"type": "portmap", "capabilities": {"portMappings": true}}]}
EOF
start containerd containerd --config "$R/containerd.toml"
CTR=(ctr --address "$R/containerd/containerd.sock" -n k8s.io)
wait_for containerd 30 "${CTR[@]}" version

# the sandbox (pause) image: a static C binary (like upstream build/pause) in a one-layer
# image written by mkimage.py -- no Docker, no registry
PAUSE_TAR=$R/images/pause.tar
cat >"$R/images/pause.c" <<'EOF'
#include <signal.h>
#include <stddef.h>
#include <sys/wait.h>
#include <unistd.h>
static void down(int s) { (void)s; _exit(0); }
static void reap(int s) { (void)s; while (waitpid(-1, NULL, WNOHANG) > 0) {} }
int main(void) {
  struct sigaction a = {0}, r = {0};
  a.sa_handler = down; sigaction(SIGINT, &a, NULL); sigaction(SIGTERM, &a, NULL);
  r.sa_handler = reap; r.sa_flags = SA_NOCLDSTOP; sigaction(SIGCHLD, &r, NULL);
  for (;;) pause();
}
EOF
gcc -Os -Wall -Werror -static -s -o "$R/images/pause" "$R/images/pause.c"
python3 "$LK8S_DIR/mkimage.py" "$PAUSE_TAR" "$LK8S_PAUSE_IMAGE" --add "$R/images/pause:/pause" \
  --entrypoint '["/pause"]' --user 65535:65535
# the probe/helper image: a static Go binary (probe/), twice: /lk8s-probe (self-test and e2e
# client: serve/get/tcp/resolve/sleep) and /lk8s-volume (the storage provisioner's helper)
GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-buildvcs=false "${GO:-/usr/local/go/bin/go}" -C "$LK8S_DIR/probe" build \
  -trimpath -ldflags='-s -w' -o "$R/images/lk8s-probe" . || lk8s_die "probe build failed"
python3 "$LK8S_DIR/mkimage.py" "$R/images/probe.tar" "$LK8S_PROBE_IMAGE" --add "$R/images/lk8s-probe:/lk8s-probe" \
  --add "$R/images/lk8s-probe:/lk8s-volume" --entrypoint '["/lk8s-probe"]'
for tarball in "$PAUSE_TAR" "$R/images/probe.tar" ${LOCALK8S_IMAGE_TARS:-}; do
  lk8s_log "importing $tarball"
  "${CTR[@]}" images import --all-platforms --digests --snapshotter=overlayfs "$tarball" >>"$R/logs/ctr-import.log" 2>&1 \
    || lk8s_die "ctr import of $tarball failed (see $R/logs/ctr-import.log)"
done

# ------------------------------------------------------------------ 5. cluster DNS (optional)
# CoreDNS as a node process bound to the node IP (no kube-dns Service, no pod); it answers
# only cluster.local and reverse zones: no `forward`, so no query ever leaves the node.
CLUSTER_DNS=""
if [ -x "$BIN/coredns" ] && [ "${LOCALK8S_NO_DNS:-0}" != 1 ]; then
  cat >"$R/Corefile" <<EOF
.:53 {
    bind $LK8S_NODE_IP
    errors
    ready 127.0.0.1:8181
    kubernetes cluster.local in-addr.arpa ip6.arpa {
        kubeconfig $R/admin-node.kubeconfig
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
    }
    cache 30
}
EOF
  start coredns "$BIN/coredns" -conf "$R/Corefile"
  wait_for coredns 60 lk8s_in python3 -c 'import urllib.request as u;u.urlopen("http://127.0.0.1:8181/ready",timeout=1)'
  CLUSTER_DNS="clusterDNS: [\"$LK8S_NODE_IP\"]"
else
  lk8s_log "no coredns in $BIN (or LOCALK8S_NO_DNS=1): pods get no cluster DNS"
fi

# ------------------------------------------------------------------ 6. kubelet
cat >"$R/kubelet.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
failCgroupV1: false
cgroupDriver: cgroupfs
containerRuntimeEndpoint: unix://$R/containerd/containerd.sock
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: $P/ca.crt}
authorization: {mode: Webhook}
clusterDomain: cluster.local
$CLUSTER_DNS
resolvConf: ""                    # never hand the host's resolver to pods
failSwapOn: false
imageGCHighThresholdPercent: 100
evictionHard: {nodefs.available: "0%", nodefs.inodesFree: "0%", imagefs.available: "0%"}
serializeImagePulls: false
healthzBindAddress: 127.0.0.1
podLogsDir: $R/pod-logs
EOF
start kubelet "$BIN/kubelet" --config="$R/kubelet.yaml" --kubeconfig="$R/kubelet.kubeconfig" \
  --hostname-override="$LK8S_NODE" --node-ip="$LK8S_NODE_IP" --root-dir="$R/kubelet" \
  --cert-dir="$R/kubelet/pki"

# ------------------------------------------------------------------ 7. kube-proxy
if [ "${LOCALK8S_NO_PROXY:-0}" != 1 ]; then
  start kube-proxy "$BIN/kube-proxy" --kubeconfig="$R/proxy.kubeconfig" --hostname-override="$LK8S_NODE" \
    --cluster-cidr="$LK8S_POD_CIDR" --proxy-mode=iptables --conntrack-max-per-core=0 \
    --conntrack-tcp-timeout-established=0s --conntrack-tcp-timeout-close-wait=0s \
    --metrics-bind-address=127.0.0.1:10249 --healthz-bind-address=127.0.0.1:10256
fi

# ------------------------------------------------------------------ 8. storage
# rancher's local-path-provisioner (build.sh) as a node process: a PVC of StorageClass
# `standard` (the default) gets a hostPath PV in $R/volumes/<pv>, made and removed by a
# helper pod running /lk8s-volume from the local probe image (no shell, no registry image).
# Volumes live under the state dir, so down.sh removes them with the cluster.
start_storage() {
  mkdir -p "$R/volumes" "$R/lpp"
  K apply -f - >/dev/null <<EOF
apiVersion: v1
kind: Namespace
metadata: {name: local-path-storage}
---
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: standard
  annotations: {storageclass.kubernetes.io/is-default-class: "true"}
provisioner: rancher.io/local-path
volumeBindingMode: WaitForFirstConsumer
reclaimPolicy: Delete
EOF
  cat >"$R/lpp/config.json" <<EOF
{"nodePathMap": [{"node": "DEFAULT_PATH_FOR_NON_LISTED_NODES", "paths": ["$R/volumes"]}],
 "setupCommand": "/lk8s-volume", "teardownCommand": "/lk8s-volume"}
EOF
  cat >"$R/lpp/helperPod.yaml" <<EOF
apiVersion: v1
kind: Pod
metadata: {name: helper-pod}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: helper-pod
    image: $LK8S_PROBE_IMAGE
    imagePullPolicy: Never
    env: [{name: LK8S_VOLUME_ROOT, value: "$R/volumes"}]
EOF
  wait_for "ServiceAccount local-path-storage/default" 60 K -n local-path-storage get sa default
  start local-path-provisioner "$BIN/local-path-provisioner" --debug start \
    --kubeconfig "$R/admin-node.kubeconfig" --namespace local-path-storage \
    --service-account-name default --provisioner-name rancher.io/local-path \
    --config "$R/lpp/config.json" --helper-pod-file "$R/lpp/helperPod.yaml" --helper-image "$LK8S_PROBE_IMAGE"
}

node_ready() { K get node "$LK8S_NODE" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' | grep -qx True; }
wait_for "node $LK8S_NODE Ready" 180 node_ready
wait_for "default ServiceAccount" 60 K get sa default -n default
if [ -x "$BIN/local-path-provisioner" ] && [ "${LOCALK8S_NO_STORAGE:-0}" != 1 ]; then
  start_storage
else
  lk8s_log "no local-path-provisioner in $BIN (or LOCALK8S_NO_STORAGE=1): no StorageClass"
fi
lk8s_log "cluster up in $(( $(date +%s) - T0 ))s; KUBECONFIG=$R/admin.kubeconfig (kubectl: $KUBECTL)"
echo "$R/admin.kubeconfig"
