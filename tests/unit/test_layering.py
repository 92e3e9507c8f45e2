"""The core stays free of Qt, and the GUI free of peewee: checked statically and at run time."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CORE_PACKAGES = ("domain", "store", "library", "analysis", "rename", "crates", "cli")


def test_import_contracts_hold() -> None:
    lint_imports = shutil.which("lint-imports") or str(Path(sys.executable).with_name("lint-imports"))
    result = subprocess.run([lint_imports], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Contracts: 3 kept, 0 broken" in result.stdout, result.stdout


def modules_loaded_by(imports: str) -> set[str]:
    """The modules a fresh interpreter has loaded after running ``imports``."""
    code = f"{imports}\nimport sys\nprint(' '.join(sys.modules))\n"
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    return set(result.stdout.split())


def test_importing_every_core_module_loads_no_qt() -> None:
    modules = sorted(
        ".".join(path.relative_to(ROOT).with_suffix("").parts)
        for package in CORE_PACKAGES
        for path in (ROOT / "crate_app" / package).rglob("*.py")
    )
    loaded = modules_loaded_by(
        f"import importlib\nfor name in {modules!r}:\n    importlib.import_module(name)"
    )
    bad = sorted(m for m in loaded if m.split(".")[0] in ("PySide6", "shiboken6"))
    heavy = sorted(m for m in loaded if m in ("librosa.beat", "numba"))
    assert not bad and not heavy, f"core modules pulled in Qt or librosa at import: {bad} {heavy}"


def test_code_is_clean_under_ruff() -> None:
    ruff = shutil.which("ruff") or str(Path(sys.executable).with_name("ruff"))
    result = subprocess.run([ruff, "check", "crate_app", "tests"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_window_loads_no_analysis_library() -> None:
    # The window only drives analysis processes: numpy, PyAV and librosa stay out of its memory.
    loaded = modules_loaded_by("import crate_app.gui.app, crate_app.gui.main_window")
    assert "crate_app.gui.main_window" in loaded
    heavy = sorted(m for m in loaded if m.split(".")[0] in ("numpy", "av", "librosa", "numba"))
    assert not heavy, f"the window imported analysis libraries: {heavy}"
