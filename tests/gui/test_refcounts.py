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


MEASURE = """
import sys
from PySide6.QtCore import QObject
probe = QObject()
before = sys.getrefcount(None)
for _ in range(100):
    probe.setObjectName("x")
lost = before - sys.getrefcount(None)
from crate_app.services.refcounts import singletons_protected  # importing services applies the guard
print(lost, singletons_protected())
"""


def test_the_guard_is_applied_only_where_references_are_really_lost() -> None:
    result = subprocess.run([sys.executable, "-c", MEASURE], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    lost, applied = result.stdout.split()
    # Python 3.11 with PySide6 6.12: 100 lost, guard applied; 3.12+ (immortal None): 0 lost, not applied.
    assert applied == str(int(lost) >= 50), result.stdout
