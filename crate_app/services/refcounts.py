"""A guard against a reference-counting bug in the PySide6 6.12 bindings on Python 3.10 and 3.11.

PySide6 6.12.0 (abi3 wheel) returns ``None`` from void methods (``setText``, ``start``,
``processEvents``...) and ``True`` from ``Signal.emit`` without taking a new reference.  From Python
3.12 on those objects are immortal and nothing happens; on 3.11 each such call takes one reference
away for good, and after a few thousand calls (a scan emits ten progress signals a second) the
interpreter aborts with "Fatal Python error: none_dealloc" or "bool_dealloc".  Measured in this repo:
``QLabel.setText`` x100 -> None refcount -100, ``Signal.emit`` x100 -> True refcount -100.

``protect_singletons()`` gives None, True and False a reserve of 2**40 references, which makes them
immortal in practice, as 3.12 does.  It is called when ``crate_app.services`` is imported, so every
Qt part of Crate (the window, services, their tests) is covered; it does nothing on 3.12+.
"""

from __future__ import annotations

import ctypes
import sys

_RESERVE = 1 << 40
_protected = False


def protect_singletons() -> bool:
    """Add the reserve once per process (Python < 3.12 only); True if it was added now."""
    global _protected
    if _protected or sys.version_info >= (3, 12) or sys.implementation.name != "cpython":
        return False
    for singleton in (None, True, False):
        # ob_refcnt is the first field of every PyObject on CPython < 3.12.
        ctypes.c_ssize_t.from_address(id(singleton)).value += _RESERVE
    _protected = True
    return True
