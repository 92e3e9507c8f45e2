#!/usr/bin/env bash
# Make an unsigned disk image holding Crate.app and a link to /Applications (macOS, hdiutil).
#
#   bash packaging/macos/make_dmg.sh dist/Crate.app dist/Crate-0.1.0.dmg
#
# Unsigned: the first time, users open it with right-click > Open (or allow it in System Settings >
# Privacy & Security).
set -euo pipefail
app="${1:?usage: make_dmg.sh PATH/Crate.app OUT.dmg}"
out="${2:?usage: make_dmg.sh PATH/Crate.app OUT.dmg}"
[ -d "$app" ] || { echo "make_dmg: no app bundle at $app" >&2; exit 1; }
staging="$(mktemp -d)"
trap 'rm -rf "$staging"' EXIT
ditto "$app" "$staging/$(basename "$app")"
ln -s /Applications "$staging/Applications"
rm -f "$out"
hdiutil create -volname Crate -srcfolder "$staging" -fs HFS+ -format UDZO -ov "$out"
