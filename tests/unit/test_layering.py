"""The core stays free of Qt, and the GUI free of peewee: checked statically and at run time."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CORE_PACKAGES = ("domain", "store", "library", "analysis", "rename", "cli")


def test_import_contracts_hold() -> None:
    lint_imports = shutil.which("lint-imports") or str(Path(sys.executable).with_name("lint-imports"))
    result = subprocess.run([lint_imports], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Contracts: 3 kept, 0 broken" in result.stdout, result.stdout


def test_importing_every_core_module_loads_no_qt() -> None:
    modules = sorted(
        ".".join(path.relative_to(ROOT).with_suffix("").parts)
        for package in CORE_PACKAGES
        for path in (ROOT / "crate_app" / package).rglob("*.py")
    )
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('PySide6', 'shiboken6'))\n"
        "heavy = sorted(m for m in sys.modules if m in ('librosa.beat', 'numba'))\n"
        "print(bad, heavy)\n"
        "sys.exit(1 if bad or heavy else 0)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, (
        f"core modules pulled in Qt or librosa at import: {result.stdout}{result.stderr}"
    )


def test_code_is_clean_under_ruff() -> None:
    ruff = shutil.which("ruff") or str(Path(sys.executable).with_name("ruff"))
    result = subprocess.run([ruff, "check", "crate_app", "tests"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_window_loads_no_analysis_library() -> None:
    # The window only drives analysis processes: numpy, PyAV and librosa stay out of its memory.
    code = (
        "import sys, crate_app.gui.app, crate_app.gui.main_window\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('numpy', 'av', 'librosa', 'numba'))\n"
        "print(heavy)\n"
        "sys.exit(1 if heavy else 0)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, f"the window imported analysis libraries: {result.stdout}{result.stderr}"
