"""The way to the first window stays light: no librosa or numba, and the entry points answer."""

from __future__ import annotations

import subprocess
import sys


def test_the_window_modules_do_not_import_analysis_libraries() -> None:
    code = (
        "import sys\n"
        "import crate_app.gui.app, crate_app.gui.main_window, crate_app.services.scan_service\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('librosa', 'numba', 'scipy'))\n"
        "print(heavy)\n"
        "sys.exit(1 if heavy else 0)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def test_python_m_crate_app_has_a_help() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "crate_app", "--help"], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0 and "--library" in result.stdout, result.stderr
