"""A guard against a reference-counting bug in the PySide6 6.12 bindings on Python 3.10 and 3.11.

PySide6 6.12.0 (abi3 wheel) returns ``None`` from void methods (``setText``, ``start``,
``processEvents``...) and ``True`` from ``Signal.emit`` without taking a new reference.  From Python
3.12 on those objects are immortal and nothing happens; on 3.11 each such call takes one reference
away for good, and after a few thousand calls (a scan emits ten progress signals a second) the
interpreter aborts with "Fatal Python error: none_dealloc" or "bool_dealloc".  Measured in this repo:
``QLabel.setText`` x100 -> None refcount -100, ``Signal.emit`` x100 -> True refcount -100.

``protect_singletons()`` gives None, True and False a reserve of 2**40 references, which makes them
immortal in practice, as 3.12 does.  It is called when ``crate_app.services`` is imported, so every
Qt part of Crate (the window, services, their tests) is covered.  It does nothing on 3.12+, and on
3.10/3.11 only when a probe of a few calls shows the installed PySide6 losing references (a PySide6
release with the bug fixed, or another interpreter, is left alone).
"""

from __future__ import annotations

import ctypes
import sys

_RESERVE = 1 << 40
_protected = False


PROBE_CALLS = 16


def singletons_lose_references(calls: int = PROBE_CALLS) -> bool:
    """Whether a void Qt method and ``Signal.emit`` take references to None and True away (measured)."""
    from PySide6.QtCore import QObject, Signal

    class _Probe(QObject):
        probed = Signal()

    probe = _Probe()
    none_before, true_before = sys.getrefcount(None), sys.getrefcount(True)
    for _ in range(calls):
        probe.setObjectName("probe")  # void: returns None
        probe.probed.emit()  # returns True
    lost = max(none_before - sys.getrefcount(None), true_before - sys.getrefcount(True))
    return lost >= calls // 2


def protect_singletons() -> bool:
    """Add the reserve once per process, where needed (see the module docstring); True if added now."""
    global _protected
    if _protected or sys.version_info >= (3, 12) or sys.implementation.name != "cpython":
        return False
    if not singletons_lose_references():
        return False
    for singleton in (None, True, False):
        # ob_refcnt is the first field of every PyObject on CPython < 3.12.
        ctypes.c_ssize_t.from_address(id(singleton)).value += _RESERVE
    _protected = True
    return True


def singletons_protected() -> bool:
    """Whether this process gave None, True and False their reserve."""
    return _protected
