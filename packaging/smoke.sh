#!/usr/bin/env bash
# Smoke check of the Linux app: build the bundle, its .tar.gz and .deb (packaging/build.py: it fails on
# a licence Crate cannot ship or a dangling symbolic link in the bundle), then start the built binary
# with --self-test offscreen twice (a first launch and a second one) and once
# on Xvfb with Qt's xcb platform.  Fails loudly unless every run reports "ok": true.  Needs the ./.venv
# that dev.sh makes.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
python="${CRATE_VENV:-$PWD/.venv}/bin/python"
"$python" -c "import PyInstaller" 2>/dev/null || "$python" -m pip install --quiet -e ".[packaging]"
started=$(date +%s)
QT_QPA_PLATFORM=offscreen timeout 1200 "$python" packaging/build.py --smoke "$@"
echo "smoke: build and self-test took $(($(date +%s) - started)) s"
