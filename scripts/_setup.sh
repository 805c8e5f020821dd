# shellcheck shell=bash
# Shared by scripts/demo and scripts/test: system packages when missing, then a virtualenv.
# Usage: install_system_packages PKG...; make_venv EXTRAS
set -euo pipefail

install_system_packages() {
  (($# == 0)) && return 0
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "installing Debian packages: $*"
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "$@"
}

python_missing_packages() {
  local python=${PYTHON:-python3}
  command -v "$python" >/dev/null || { echo python3 python3-venv; return; }
  "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
    || { echo "yizhan needs Python 3.11 or newer" >&2; exit 1; }
  "$python" -c 'import ensurepip, venv' 2>/dev/null || echo python3-venv
}

make_venv() {
  local extras=$1
  [ -x .venv/bin/python ] || "${PYTHON:-python3}" -m venv .venv
  .venv/bin/python -m pip install -q --upgrade pip
  # No byte-compiling of every installed file (about a third of a fresh install's time
  # here): Python compiles what it imports on first use anyway.
  .venv/bin/python -m pip install -q --no-compile -e ".${extras}"
}
