#!/usr/bin/env bash
# Set up Crate from a source checkout and run it, or its tests.
#
#   bash packaging/dev.sh app [ARGS...]    install into ./.venv and start the app
#   bash packaging/dev.sh test [PYTEST ARGS...]   install with the test extras and run the test suite
#   bash packaging/dev.sh cli [ARGS...]    install and run crate-cli
#
# Works on a fresh Debian/Ubuntu or macOS machine with Python 3.11+.  On Debian/Ubuntu it installs
# the few system libraries Qt and Python's venv need when they are missing (as root, or through
# sudo when that works without a password); everything else comes from PyPI into ./.venv.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"
mode="${1:-app}"
[ $# -gt 0 ] && shift

say() { printf 'crate: %s\n' "$*" >&2; }

find_python() {
  for candidate in "${CRATE_PYTHON:-}" python3.13 python3.12 python3.11 python3; do
    [ -n "$candidate" ] || continue
    if command -v "$candidate" >/dev/null 2>&1 &&
      "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
      command -v "$candidate"
      return 0
    fi
  done
  return 1
}

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"
  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then sudo "$@"
  else return 1
  fi
}

# System libraries: Qt's xcb/offscreen platforms link these; venv needs python3-venv on Debian.
install_system_packages() {
  command -v apt-get >/dev/null 2>&1 || return 0
  local wanted=()
  local lib
  for lib in libEGL.so.1:libegl1 libGL.so.1:libgl1 libxkbcommon.so.0:libxkbcommon0 \
    libfontconfig.so.1:libfontconfig1 libdbus-1.so.3:libdbus-1-3 libglib-2.0.so.0:libglib2.0-0 \
    libxkbcommon-x11.so.0:libxkbcommon-x11-0 libxcb-cursor.so.0:libxcb-cursor0; do
    ldconfig -p 2>/dev/null | grep -q "${lib%%:*}" || wanted+=("${lib##*:}")
  done
  if ! "$python" -c 'import venv, ensurepip' >/dev/null 2>&1; then
    wanted+=("python3-venv")
  fi
  ((${#wanted[@]})) || return 0
  say "installing system packages: ${wanted[*]}"
  if ! { as_root apt-get update -qq && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${wanted[@]}"; } >/dev/null; then
    say "could not install ${wanted[*]} (needs root or sudo); install them and run this again"
    exit 1
  fi
}

python="$(find_python)" || { say "Python 3.11 or newer is needed (set CRATE_PYTHON to its path)"; exit 1; }
install_system_packages

venv="${CRATE_VENV:-$here/.venv}"
if [ ! -x "$venv/bin/python" ]; then
  say "creating a virtual environment in $venv"
  "$python" -m venv "$venv"
fi
extras=""
[ "$mode" = test ] && extras="[test]"
stamp="$venv/.crate-installed$extras"
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  say "installing Crate and its dependencies (the first time takes a few minutes)"
  "$venv/bin/python" -m pip install --quiet --upgrade pip
  "$venv/bin/python" -m pip install --quiet -e ".$extras"
  touch "$stamp"
fi

case "$mode" in
  app) exec "$venv/bin/python" -m crate_app "$@" ;;
  cli) exec "$venv/bin/crate-cli" "$@" ;;
  test) export QT_QPA_PLATFORM=offscreen; exec "$venv/bin/python" -m pytest "$@" ;;
  *) say "unknown mode '$mode' (app, cli or test)"; exit 2 ;;
esac
