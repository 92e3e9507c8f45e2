#!/usr/bin/env bash
# Smoke check of the Linux app: build the bundle, its .tar.gz and .deb (packaging/build.py), then start
# the built binary offscreen with --self-test twice (first launch: numba compiles; second: its cache is
# reused).  Fails loudly unless both runs report "ok": true.  Needs the ./.venv that dev.sh makes.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
python="${CRATE_VENV:-$PWD/.venv}/bin/python"
"$python" -c "import PyInstaller" 2>/dev/null || "$python" -m pip install --quiet -e ".[packaging]"
started=$(date +%s)
QT_QPA_PLATFORM=offscreen timeout 1200 "$python" packaging/build.py --smoke "$@"
echo "smoke: build and self-test took $(($(date +%s) - started)) s"
