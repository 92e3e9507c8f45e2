"""A plain ``pip install`` (a wheel, not the checkout) still has the window icon."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

from crate_app import paths

ROOT = Path(__file__).resolve().parents[2]


def test_the_wheel_carries_the_icon_where_window_icon_looks(tmp_path: Path) -> None:
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", str(ROOT), "-w", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert built.returncode == 0, built.stderr
    (wheel,) = tmp_path.glob("crate_app-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert any(name.endswith(".data/data/share/crate/crate.svg") for name in names)
    assert "crate_app/paths.py" in names and not any(name.startswith("resources/") for name in names)


def test_window_icon_prefers_the_checkout_then_the_installed_copy(tmp_path: Path, monkeypatch) -> None:
    assert paths.window_icon() == ROOT / "resources" / "crate.svg"  # a checkout (or the bundle)
    installed = tmp_path / "venv"
    (installed / "share" / "crate").mkdir(parents=True)
    (installed / "share" / "crate" / "crate.svg").write_text("<svg/>")
    elsewhere = tmp_path / "site-packages" / "crate_app" / "paths.py"  # no resources/ beside it
    monkeypatch.setattr(paths, "__file__", str(elsewhere))
    monkeypatch.setattr(sys, "prefix", str(installed))
    assert paths.window_icon() == installed / "share" / "crate" / "crate.svg"
    monkeypatch.setattr(sys, "prefix", str(tmp_path / "empty"))
    assert paths.window_icon() is None
