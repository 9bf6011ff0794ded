# shellcheck shell=bash
# Shared settings for up.sh / down.sh (sourced, not run).
#
# Network design (see NOTES.md): the whole "node" -- etcd, the control plane, containerd,
# kubelet, kube-proxy and every pod -- lives in ONE network namespace that up.sh creates.
# That namespace has no uplink and no default route: its only links are lo, a veth to the
# host (10.250.0.1 <-> 10.250.0.2/30), the CNI bridge cni0 and a port-less bridge that
# swallows un-DNATed Service traffic. Nothing inside can address anything off this machine
# (an image pull or a DNS lookup fails at once with "network is unreachable").

LK8S_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
LK8S_RUN=${LOCALK8S_RUN:-/var/tmp/photondb-localk8s}      # per-cluster state, rm -rf on down
LK8S_NETNS=${LOCALK8S_NETNS:-photondb-lk8s}
LK8S_NODE=${LOCALK8S_NODE:-e2e-node}
LK8S_NODE_IP=10.250.0.1          # netns end of the veth; apiserver advertise address
LK8S_HOST_IP=10.250.0.2          # host end of the veth
LK8S_VETH_HOST=lk8s-host
LK8S_VETH_NODE=lk8s-node
LK8S_POD_CIDR=10.244.0.0/24
LK8S_SVC_CIDR=10.96.0.0/16
LK8S_SVC_IP=10.96.0.1
LK8S_PAUSE_IMAGE=localk8s/pause:3.10   # built locally by up.sh (mkimage.py), never pulled
LK8S_PROBE_IMAGE=localk8s/lk8s-probe:dev   # probe/ + storage helper, built by up.sh

lk8s_log() { printf '[localk8s %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
lk8s_die() { lk8s_log "ERROR: $*"; exit 1; }
# run a command inside the node's network namespace, in the HOST mount namespace
# (not `ip netns exec`: it remounts /sys privately, which hides /sys/fs/cgroup and would
# give kubelet and containerd different views of the volume mounts)
lk8s_in() { nsenter --net="/run/netns/$LK8S_NETNS" -- "$@"; }
