"""Whether another DJ program runs on this computer (exports refuse to write under a running program
that rewrites its files from memory)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path


def process_names() -> list[str]:
    """The names of the processes running on this computer (empty when they cannot be listed)."""
    names: list[str] = []
    try:
        if sys.platform.startswith("linux"):
            for pid in os.listdir("/proc"):
                if pid.isdigit():
                    try:
                        names.append(Path(f"/proc/{pid}/comm").read_text().strip())
                    except OSError:
                        continue
        elif sys.platform == "win32":
            names = subprocess.run(
                ["tasklist"], capture_output=True, text=True, timeout=10
            ).stdout.splitlines()
        else:
            names = subprocess.run(
                ["ps", "-A", "-o", "comm="], capture_output=True, text=True, timeout=10
            ).stdout.splitlines()
    except (OSError, subprocess.SubprocessError):
        return []
    return names


def program_running(words: Iterable[str], unless: Iterable[str] = ("crate",)) -> bool:
    """Whether a process name contains one of ``words`` (and none of ``unless``), case ignored."""
    words, unless = [w.lower() for w in words], [w.lower() for w in unless]
    for name in process_names():
        lowered = name.lower()
        if any(w in lowered for w in words) and not any(u in lowered for u in unless):
            return True
    return False
