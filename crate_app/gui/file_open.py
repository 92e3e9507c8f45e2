"""Files and folders handed to Crate by the desktop (dropped on its icon in the macOS Dock/Finder)."""

from __future__ import annotations

from typing import Protocol

from PySide6.QtCore import QEvent, QObject


class _AcceptsPaths(Protocol):
    def add_paths(self, paths: list[str]) -> None: ...


class FileOpenForwarder(QObject):
    """An application event filter: macOS delivers dropped files as FileOpen events; add them like a drop.

    (Linux and Windows pass them as command-line arguments instead: ``crate PATH...``.)
    """

    def __init__(self, window: QObject) -> None:
        super().__init__(window)
        self._window: _AcceptsPaths = window  # type: ignore[assignment]

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # Qt override
        if event.type() == QEvent.Type.FileOpen:
            path = event.file()  # type: ignore[attr-defined]
            if path:
                self._window.add_paths([path])
                return True
        return False
