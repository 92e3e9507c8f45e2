"""Exports and imports of other DJ programs' files as background jobs (progress, cancel, one result)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from crate_app.exchange.exporter import export
from crate_app.exchange.importer import import_file
from crate_app.exchange.paths import PathMapper
from crate_app.services.jobs import Job, JobRunner
from crate_app.store.library import Library


@dataclass(frozen=True, slots=True)
class ExchangeRequest:
    """One export or import as the dialog asks for it."""

    direction: str  # "export" | "import"
    kind: str  # rekordbox, traktor, serato, engine, m3u8
    path: Path
    mapper: PathMapper
    crate_paths: tuple[str, ...] = ()
    options: dict[str, object] = field(default_factory=dict)  # writer options (export)
    add_unknown: bool = True  # import: add files the library does not know yet
    prefer: str = "crate"  # import: whose BPM/key/grid/cues win where both have one
    partial: bool = False  # import: what can be read of a damaged file (the report names the rest)


class ExchangeJob(Job):
    def __init__(self, library: Library, request: ExchangeRequest) -> None:
        super().__init__(f"{request.direction.capitalize()} {request.kind}")
        self.library = library
        self.request = request

    def work(self) -> object:
        r = self.request
        if r.direction == "export":
            return export(
                self.library, r.kind, r.path, crate_paths=r.crate_paths, mapper=r.mapper, options=r.options,
                progress=self.emit_progress, should_stop=self.should_stop,
            )  # fmt: skip
        return import_file(
            self.library, r.kind, r.path, mapper=r.mapper, add_unknown=r.add_unknown, prefer=r.prefer,
            partial=r.partial, progress=self.emit_progress, should_stop=self.should_stop,
        )  # fmt: skip


class ExchangeService(QObject):
    """Runs one exchange job at a time on the window's runner."""

    progress = Signal(object)  # Progress
    finished = Signal(object)  # ExportReport | ImportReport
    failed = Signal(str)
    running_changed = Signal(bool)

    def __init__(self, runner: JobRunner, library: Library, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.runner = runner
        self.library = library
        self.job: ExchangeJob | None = None

    def set_library(self, library: Library) -> None:
        self.library = library

    @property
    def running(self) -> bool:
        return self.job is not None

    def start(self, request: ExchangeRequest) -> None:
        if self.job is not None:
            raise RuntimeError("an export or import is already running")
        self.job = ExchangeJob(self.library, request)
        self.job.signals.progress.connect(self.progress)
        self.job.signals.finished.connect(self.finished)
        self.job.signals.failed.connect(self.failed)
        self.job.signals.cancelled.connect(self._on_job_cancelled)
        self.job.signals.ended.connect(self._on_job_ended)
        self.runner.start(self.job)
        self.running_changed.emit(True)

    def cancel(self) -> None:
        if self.job is not None:
            self.job.cancel()

    def _on_job_cancelled(self) -> None:
        self.failed.emit("cancelled: nothing was changed")

    def _on_job_ended(self, job: object) -> None:
        self.job = None
        self.running_changed.emit(False)
