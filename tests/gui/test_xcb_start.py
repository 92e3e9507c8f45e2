"""The real app starts on a real X server (Xvfb) with Qt's xcb platform, not offscreen.

The rest of the suite runs offscreen, which needs none of the xcb libraries: this test is the one that
notices a missing ``libxcb-*`` package (Qt's own "Could not load the Qt platform plugin" message is in
the failure).  Without Xvfb it skips and says why, except in CI (``CI=true``), where it fails.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LAUNCHER = ROOT / "tests" / "app_screenshot.py"
SCREEN = (1400, 900)


def unresolved_xcb_libraries() -> str:
    """What ``ldd`` says is missing for PySide6's xcb platform plugin (empty when nothing is)."""
    import PySide6

    plugin = Path(PySide6.__file__).parent / "Qt" / "plugins" / "platforms" / "libqxcb.so"
    if not plugin.exists() or shutil.which("ldd") is None:
        return ""
    listing = subprocess.run(["ldd", str(plugin)], capture_output=True, text=True).stdout
    missing = sorted({line.split()[0] for line in listing.splitlines() if "not found" in line})
    return f"ldd {plugin.name}: not found: {', '.join(missing)}" if missing else ""


@pytest.fixture
def x_display(tmp_path: Path) -> Iterator[str]:
    """A private Xvfb server; yields its DISPLAY (":N")."""
    xvfb = shutil.which("Xvfb")
    if xvfb is None:
        why = "Xvfb is not installed (bash packaging/dev.sh test installs it on Debian/Ubuntu: package xvfb)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI must start the app on a real X server, but {why}", pytrace=False)
        pytest.skip(why)
    read_end, write_end = os.pipe()
    server = subprocess.Popen(
        [
            xvfb,
            "-displayfd",
            str(write_end),
            "-screen",
            "0",
            f"{SCREEN[0]}x{SCREEN[1]}x24",
            "-nolisten",
            "tcp",
        ],
        pass_fds=(write_end,),
        stdout=subprocess.DEVNULL,
        stderr=(tmp_path / "xvfb.log").open("wb"),
    )
    os.close(write_end)
    try:
        with os.fdopen(read_end) as announced:
            number = announced.readline().strip()  # Xvfb writes the display number once it accepts clients
        if not number:
            pytest.fail(f"Xvfb did not start: {(tmp_path / 'xvfb.log').read_text(errors='replace')}")
        yield f":{number}"
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_the_app_starts_on_a_real_x_server(x_display: str, tmp_path: Path) -> None:
    shot = tmp_path / "window.png"
    env = dict(os.environ, DISPLAY=x_display, QT_QPA_PLATFORM="xcb", CRATE_HOME=str(tmp_path / "home"))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env.pop("WAYLAND_DISPLAY", None)
    done = subprocess.run(
        [sys.executable, str(LAUNCHER), str(shot), "--library", str(tmp_path / "library.sqlite")],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert done.returncode == 0, (
        f"the app did not start on xcb (exit {done.returncode}):\n{done.stderr}\n{unresolved_xcb_libraries()}"
    )
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["platform"] == "xcb"
    width, height = report["screenshot"]
    assert width >= 400 and height >= 300, report

    from PySide6.QtGui import QImage

    image = QImage(str(shot))
    assert (image.width(), image.height()) == (width, height)
    # Read back from the X server: a drawn window has many colours, an unmapped one is one flat colour.
    colours = {image.pixel(x, y) for x in range(0, width, 7) for y in range(0, height, 7)}
    assert len(colours) > 20, f"the screenshot is almost flat ({len(colours)} colours): nothing was drawn"
    saved = os.environ.get("CRATE_SCREENSHOT_DIR")  # CI keeps the picture as an artefact
    if saved:
        Path(saved).mkdir(parents=True, exist_ok=True)
        shutil.copy2(shot, Path(saved) / "xcb-main-window.png")
