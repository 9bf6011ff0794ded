#!/usr/bin/env bash
# Make sure python3 (3.11 or 3.12) with venv support is present, installing Debian's packages if
# we are root on a Debian machine that lacks them. Everything else comes from PyPI into .venv.
set -euo pipefail
need_apt=()
if ! command -v python3 >/dev/null 2>&1; then
  need_apt+=(python3)
fi
if ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
  need_apt+=(python3-venv)
fi
if ((${#need_apt[@]})); then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo ">> installing ${need_apt[*]} from Debian"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}"
  else
    echo "error: please install ${need_apt[*]} (Python 3.11 with venv support)" >&2
    exit 1
  fi
fi
python3 - <<'PY'
import sys
if not (3, 11) <= sys.version_info[:2] < (3, 13):
    sys.exit(f"error: PhotonDB needs Python 3.11 or 3.12, found {sys.version.split()[0]}")
PY
