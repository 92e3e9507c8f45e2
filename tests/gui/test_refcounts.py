"""Crate's Qt code survives PySide6's lost references to None and True on Python < 3.12."""

from __future__ import annotations

import subprocess
import sys

LOOP = """
import sys
{guard}
from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QApplication, QLabel

class Emitter(QObject):
    happened = Signal(int)

app = QApplication([])
label, emitter = QLabel(), Emitter()
for n in range(100_000):
    label.setText("x")  # returns None
    emitter.happened.emit(n)  # returns True
print("alive")
"""


def run(guard: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", LOOP.format(guard=guard)], capture_output=True, text=True, timeout=120
    )


def test_a_hundred_thousand_void_calls_and_emits_do_not_abort_the_interpreter() -> None:
    result = run("import crate_app.services")
    assert result.returncode == 0 and "alive" in result.stdout, result.stderr[-2000:]
