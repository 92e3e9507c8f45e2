#!/usr/bin/env bash
# Set up Crate from a source checkout and run it, or its tests.
#
#   bash packaging/dev.sh app [ARGS...]    install into ./.venv and start the app
#   bash packaging/dev.sh test [PYTEST ARGS...]   install with the test extras and run the test suite
#   bash packaging/dev.sh cli [ARGS...]    install and run crate-cli
#   bash packaging/dev.sh bench SCRIPT [ARGS...]   install with the test extras and FluidSynth, run a
#                                          benchmark script (tests/benchmarks/...)
#
# Works on a fresh Debian/Ubuntu or macOS machine with Python 3.11+.  On Debian/Ubuntu it installs
# the system libraries Qt's desktop (xcb) platform and Chromaprint need, python3-venv, and for `test` Xvfb and xauth,
# when they are missing (as root, or through sudo when that works without a password), and says which;
# everything else comes from PyPI into ./.venv ($CRATE_VENV; $CRATE_PYTHON picks the interpreter).
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

# Debian/Ubuntu packages for the shared libraries PySide6's wheels do not bundle, as soname:package.
# The list is what `ldd` reports for Qt's xcb platform plugin (plugins/platforms/libqxcb.so), the Qt
# libraries it loads (libQt6XcbQpa, Gui, Widgets, DBus, OpenGL) and its GL integrations
# (plugins/xcbglintegrations), on PySide6 6.12, minus what every Debian system has (libc, zlib...).
# After the venv is installed, check_qt_xcb runs ldd on the installed plugin again and installs
# (or names) anything this list missed.
qt_libraries=(
  libxcb.so.1:libxcb1 libX11.so.6:libx11-6 libX11-xcb.so.1:libx11-xcb1
  libxcb-cursor.so.0:libxcb-cursor0 libxcb-icccm.so.4:libxcb-icccm4 libxcb-image.so.0:libxcb-image0
  libxcb-keysyms.so.1:libxcb-keysyms1 libxcb-randr.so.0:libxcb-randr0
  libxcb-render.so.0:libxcb-render0 libxcb-render-util.so.0:libxcb-render-util0
  libxcb-shape.so.0:libxcb-shape0 libxcb-shm.so.0:libxcb-shm0 libxcb-sync.so.1:libxcb-sync1
  libxcb-util.so.1:libxcb-util1 libxcb-xfixes.so.0:libxcb-xfixes0 libxcb-xkb.so.1:libxcb-xkb1
  libxcb-glx.so.0:libxcb-glx0 libxcb-xinerama.so.0:libxcb-xinerama0 libxcb-xinput.so.0:libxcb-xinput0
  libxkbcommon.so.0:libxkbcommon0 libxkbcommon-x11.so.0:libxkbcommon-x11-0
  libEGL.so.1:libegl1 libGL.so.1:libgl1 libfontconfig.so.1:libfontconfig1 libfreetype.so.6:libfreetype6
  libdbus-1.so.3:libdbus-1-3 libglib-2.0.so.0:libglib2.0-0
)
# Other native libraries the app loads at run time: Chromaprint, for acoustic fingerprints (duplicates by
# recording, relinking moved files; through pyacoustid, which finds it with ctypes).
app_libraries=(libchromaprint.so.1:libchromaprint1)
# The tests start the app on a virtual X server (tests/gui/test_xcb_start.py): program:package.
test_programs=(Xvfb:xvfb xauth:xauth)
# The benchmarks render music from MIDI with a sampled General MIDI SoundFont (render_dj_set.py).
bench_programs=(fluidsynth:fluidsynth /usr/share/sounds/sf2/FluidR3_GM.sf2:fluid-soundfont-gm)

# apt-get install the packages named in "$@" (with the reason after a colon), saying what it installs.
apt_install() {
  (($#)) || return 0
  local packages=() reasons=() entry
  for entry in "$@"; do
    packages+=("${entry%%:*}")
    reasons+=("${entry%%:*} (${entry##*:})")
  done
  say "installing system packages: ${reasons[*]}"
  if ! command -v apt-get >/dev/null 2>&1; then
    say "no apt-get here: install the packages that provide these yourself"
    return 1
  fi
  # Lock::Timeout: wait for another apt (unattended upgrades) instead of failing at once.
  if ! { as_root apt-get -o DPkg::Lock::Timeout=600 update -qq &&
    as_root env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq \
      --no-install-recommends "${packages[@]}"; } >/dev/null; then
    say "could not install ${packages[*]} (needs root or sudo); install them and run this again"
    exit 1
  fi
}

# Before the venv: the listed Qt libraries, Python's venv, and for the tests Xvfb.
install_system_packages() {
  command -v apt-get >/dev/null 2>&1 || return 0
  local wanted=() entry known
  known="$( (ldconfig -p 2>/dev/null || /sbin/ldconfig -p 2>/dev/null || true) | awk 'NR > 1 {print $1}')"
  for entry in "${qt_libraries[@]}" "${app_libraries[@]}"; do
    grep -qxF "${entry%%:*}" <<<"$known" || wanted+=("${entry##*:}:${entry%%:*}")
  done
  if ! "$python" -c 'import venv, ensurepip' >/dev/null 2>&1; then
    wanted+=("python3-venv:venv")
  fi
  if [ "$mode" = test ] || [ "$mode" = bench ]; then
    for entry in "${test_programs[@]}"; do
      command -v "${entry%%:*}" >/dev/null 2>&1 || wanted+=("${entry##*:}:${entry%%:*}")
    done
  fi
  if [ "$mode" = bench ]; then
    for entry in "${bench_programs[@]}"; do
      command -v "${entry%%:*}" >/dev/null 2>&1 || [ -e "${entry%%:*}" ] || wanted+=("${entry##*:}:${entry%%:*}")
    done
  fi
  apt_install "${wanted[@]}"
}

# After the venv: ldd on the installed xcb plugin; install what the list maps, name what it cannot.
check_qt_xcb() {
  [ "$(uname -s)" = Linux ] || return 0
  local plugin missing soname entry package wanted=() unknown=()
  plugin="$("$venv/bin/python" -c 'import pathlib, PySide6; print(pathlib.Path(PySide6.__file__).parent / "Qt/plugins/platforms/libqxcb.so")')"
  [ -f "$plugin" ] || return 0
  missing="$(ldd "$plugin" 2>/dev/null | awk '/not found/ {print $1}' | sort -u)"
  [ -n "$missing" ] || return 0
  for soname in $missing; do
    package=""
    for entry in "${qt_libraries[@]}"; do
      [ "${entry%%:*}" = "$soname" ] && package="${entry##*:}"
    done
    if [ -n "$package" ]; then wanted+=("$package:$soname"); else unknown+=("$soname"); fi
  done
  if ((${#wanted[@]})) && command -v apt-get >/dev/null 2>&1; then
    apt_install "${wanted[@]}"
  else
    unknown+=("${wanted[@]##*:}")
  fi
  if ((${#unknown[@]})); then
    say "Qt's xcb platform (the desktop window) needs these libraries, which are missing: ${unknown[*]}"
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
{ [ "$mode" = test ] || [ "$mode" = bench ]; } && extras="[test]"
stamp="$venv/.crate-installed$extras"
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  say "installing Crate and its dependencies (the first time takes a few minutes)"
  "$venv/bin/python" -m pip install --quiet --upgrade pip
  "$venv/bin/python" -m pip install --quiet -e ".$extras"
  touch "$stamp"
fi
check_qt_xcb

case "$mode" in
  app) exec "$venv/bin/python" -m crate_app "$@" ;;
  cli) exec "$venv/bin/crate-cli" "$@" ;;
  bench) exec "$venv/bin/python" "$@" ;;
  # Two workers, whole files each (module fixtures stay in one process): the suite waits on real
  # processes, audio and timers much of the time, so two workers on two cores nearly halve it. Files go
  # in collection order (conftest puts slow tests first), not largest-first: a slow file left for
  # last ran alone on one worker. A worker that crashes ends the run (reported as a failure with the
  # test it was running): with a replacement worker, pytest-xdist's file scheduling once waited forever.
  test) export QT_QPA_PLATFORM=offscreen
        exec "$venv/bin/python" -m pytest -n "${CRATE_TEST_WORKERS:-2}" --dist loadfile --no-loadscope-reorder \
            --max-worker-restart=0 "$@" ;;
  *) say "unknown mode '$mode' (app, cli, test or bench)"; exit 2 ;;
esac
