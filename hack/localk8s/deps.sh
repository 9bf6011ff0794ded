#!/usr/bin/env bash
# Install (once) the Debian packages the local cluster and the image build need. Idempotent:
# packages already installed are skipped without touching apt. Needs root on Debian.
#
#   hack/localk8s/deps.sh            # cluster + image build
#   hack/localk8s/deps.sh cluster    # only what up.sh/down.sh need
#   hack/localk8s/deps.sh images     # only what images.sh needs
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

CLUSTER_PKGS="containerd runc containernetworking-plugins iptables conntrack iproute2 util-linux openssl gcc libc6-dev curl"
IMAGE_PKGS="docker.io debootstrap"
case "${1:-all}" in
  cluster) want=$CLUSTER_PKGS ;;
  images) want=$IMAGE_PKGS ;;
  all) want="$CLUSTER_PKGS $IMAGE_PKGS" ;;
  *) lk8s_die "usage: deps.sh [all|cluster|images]" ;;
esac

missing=()
for p in $want; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
command -v go >/dev/null || [ -x /usr/local/go/bin/go ] || lk8s_die "no Go toolchain (build.sh builds Kubernetes from the Go module proxy)"
if ((${#missing[@]} == 0)); then
  lk8s_log "deps: all Debian packages present"
  exit 0
fi
[ "$(id -u)" = 0 ] || lk8s_die "missing ${missing[*]}: run as root (apt-get install -y ${missing[*]})"
command -v apt-get >/dev/null || lk8s_die "missing ${missing[*]} and no apt-get: install them by hand"
lk8s_log "deps: installing ${missing[*]} from Debian"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# services are not started by the packages here (no systemd / policy-rc.d): images.sh and
# up.sh start their own private dockerd/containerd instances
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
lk8s_log "deps: installed"
