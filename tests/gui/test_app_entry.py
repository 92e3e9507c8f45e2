"""How the desktop hands Crate files: command-line paths (Linux/Windows) and FileOpen events (macOS)."""

from __future__ import annotations

from PySide6.QtCore import QObject
from PySide6.QtGui import QFileOpenEvent
from PySide6.QtWidgets import QApplication

from crate_app.gui.app import parse_args
from crate_app.gui.file_open import FileOpenForwarder


class RecordingWindow(QObject):
    def __init__(self) -> None:
        super().__init__()
        self.added: list[list[str]] = []

    def add_paths(self, paths: list[str]) -> None:
        self.added.append(paths)


def test_paths_on_the_command_line_are_parsed() -> None:
    args = parse_args(["--library", "/tmp/x.sqlite", "/music/a", "/music/b.mp3"])
    assert args.paths == ["/music/a", "/music/b.mp3"] and not args.self_test
    assert parse_args(["--self-test"]).self_test


def test_file_open_events_are_added_like_a_drop(qapp: QApplication) -> None:
    window = RecordingWindow()
    forwarder = FileOpenForwarder(window)
    qapp.installEventFilter(forwarder)
    try:
        QApplication.sendEvent(qapp, QFileOpenEvent("/music/dropped folder"))
    finally:
        qapp.removeEventFilter(forwarder)
    assert window.added == [["/music/dropped folder"]]
