#!/usr/bin/env bash
# Print the bin dir (kubectl, helm, ...) that build.sh cached, without building anything:
# the running local cluster's, else the newest cached version; nothing if there is none.
#   export PATH="$PATH:$(hack/localk8s/tools.sh)"
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
if [ -f "$LK8S_RUN/bin" ] && [ -x "$(cat "$LK8S_RUN/bin")/kubectl" ]; then cat "$LK8S_RUN/bin"; exit 0; fi
root=${PHOTON_CACHE:-$HOME/.cache/photondb}/localk8s
v=$(ls -1 "$root" 2>/dev/null | grep -E '^v[0-9]+\.[0-9]+\.[0-9]+$' | sort -V | tail -1 || true)
if [ -n "$v" ] && [ -x "$root/$v/bin/kubectl" ]; then echo "$root/$v/bin"; fi
