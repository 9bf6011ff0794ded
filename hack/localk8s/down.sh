#!/usr/bin/env bash
# Tear down what up.sh started: only processes whose PIDs up.sh recorded, the containerd
# shims and pod processes of THIS cluster, its mounts, cgroups, network namespace, host
# routes/veth, the sysctls it changed, and its state dir. Safe to run twice.
set -uo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
[ "$(id -u)" = 0 ] || lk8s_die "must run as root"
R=$LK8S_RUN

alive() { # pid: running and not a zombie
  [ -r "/proc/$1/stat" ] || return 1
  [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" != Z ]
}
stop_pid() { # name
  local f=$R/pids/$1 pid i
  [ -f "$f" ] || return 0
  pid=$(cat "$f")
  if alive "$pid"; then
    lk8s_log "stopping $1 ($pid)"
    kill -TERM "$pid" 2>/dev/null
    for i in $(seq 1 40); do alive "$pid" || break; sleep 0.25; done
    alive "$pid" && { lk8s_log "killing $1 ($pid)"; kill -KILL "$pid" 2>/dev/null; }
  fi
  rm -f "$f"
}

# 1. node agents first, so nothing restarts pods while we clean up
stop_pid kube-proxy
stop_pid kubelet

# 2. pod processes: everything in the kubelet's kubepods cgroups, then this containerd's shims
kill_cgroup_procs() {
  local d
  for d in /sys/fs/cgroup/*/kubepods; do
    [ -d "$d" ] || continue
    find "$d" -name cgroup.procs -exec cat {} + 2>/dev/null
  done | sort -u
}
pods=$(kill_cgroup_procs)
if [ -n "$pods" ]; then
  lk8s_log "killing $(echo "$pods" | wc -l) pod processes"
  # shellcheck disable=SC2086
  kill -KILL $pods 2>/dev/null
  sleep 0.5
fi
for pid in $(pgrep -f "containerd-shim.*-address $R/containerd/containerd.sock" || true); do
  lk8s_log "killing shim $pid"; kill -KILL "$pid" 2>/dev/null
done
stop_pid containerd

# 3. the kubelet's cgroups, deepest first (kernel refuses rmdir of non-empty ones)
for d in /sys/fs/cgroup/*/kubepods; do
  [ -d "$d" ] || continue
  find "$d" -depth -type d -exec rmdir {} \; 2>/dev/null
  [ -d "$d" ] && lk8s_log "warning: could not remove $d (processes left?)"
done

# 4. control plane
for n in local-path-provisioner coredns kube-scheduler kube-controller-manager kube-apiserver etcd; do stop_pid "$n"; done

# 5. mounts under the state dir (container rootfs, netns bind mounts, kubelet volumes)
if [ -d "$R" ]; then
  awk -v r="$R" 'index($2, r) == 1 {print $2}' /proc/mounts | sort -r | while read -r m; do
    umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || lk8s_log "warning: cannot unmount $m"
  done
fi

# 6. network: deleting the namespace removes cni0, kube-svc, the veth pair and all the
#    KUBE-*/LOCALK8S-GUARD iptables rules, which live only inside it
ip route del "$LK8S_POD_CIDR" via "$LK8S_NODE_IP" 2>/dev/null
ip route del "$LK8S_SVC_CIDR" via "$LK8S_NODE_IP" 2>/dev/null
if [ -e "/run/netns/$LK8S_NETNS" ]; then
  lk8s_log "deleting network namespace $LK8S_NETNS"
  ip netns del "$LK8S_NETNS"
fi
ip link del "$LK8S_VETH_HOST" 2>/dev/null

# 7. sysctls changed by up.sh / the kubelet (kernel.panic*, vm.overcommit_memory)
if [ -f "$R/sysctl.orig" ]; then
  while IFS= read -r kv; do sysctl -qw "$kv" || true; done <"$R/sysctl.orig"
fi

# 8. anything still running from the state dir is a leak: report, do not guess
left=$(pgrep -f "$R/" || true)
[ -z "$left" ] || lk8s_log "warning: processes still referencing $R: $left"
rm -rf "$R"
lk8s_log "down"
