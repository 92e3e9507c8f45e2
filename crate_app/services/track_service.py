"""The selected track for the player strip and the track panel: its record, overview waveform, cues,
cover art and crates, and the corrections the user makes to it (BPM, key, first beat, cues).

Covers are read with mutagen on a worker thread, scaled to a thumbnail and kept on disk (JPEG, under
the cache folder, pruned to a size cap) and in a small in-memory cache; the waveform and cues are two
indexed lookups (well under a millisecond).
"""

from __future__ import annotations

import hashlib
import os
import time
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QBuffer, QByteArray, QObject, Qt, Signal
from PySide6.QtGui import QImage

from crate_app.domain.beatgrid import tap_tempo
from crate_app.domain.cues import CuePoint, sorted_cues, with_hot_cue
from crate_app.domain.keys import KeyNotation
from crate_app.domain.track import TrackRecord
from crate_app.domain.waveform import StoredWaveform, parse_waveform
from crate_app.library.cover import embedded_picture
from crate_app.services.jobs import FunctionJob, Job, JobRunner
from crate_app.store import writer
from crate_app.store.cues import cues_of, replace_cues
from crate_app.store.library import Library
from crate_app.store.waveforms import waveform_of

THUMBNAIL_PIXELS = 240
MEMORY_COVERS = 48  # thumbnails kept in memory (about 240x240x4 bytes each: ~11 MB at most)
DISK_CACHE_BYTES = 200 * 1024 * 1024  # thumbnails on disk, oldest removed beyond this


class CoverCache:
    """Thumbnails of embedded covers: memory (LRU) -> disk (JPEG files, size-capped) -> the file's tags."""

    def __init__(
        self, folder: Path, disk_cap: int = DISK_CACHE_BYTES, memory_cap: int = MEMORY_COVERS
    ) -> None:
        self.folder = folder
        self.disk_cap = disk_cap
        self.memory_cap = memory_cap
        self.memory: OrderedDict[str, QImage | None] = OrderedDict()
        self._writes = 0

    def key(self, path: str, mtime: float, size: int) -> str:
        return hashlib.sha1(f"{path}\0{mtime}\0{size}".encode("utf-8", "surrogateescape")).hexdigest()

    def cached(self, key: str) -> tuple[bool, QImage | None]:
        """(known, image) from memory only: cheap enough for the GUI thread."""
        if key in self.memory:
            self.memory.move_to_end(key)
            return True, self.memory[key]
        return False, None

    def load(self, key: str, path: str) -> QImage | None:
        """The thumbnail from disk, or read from the file and stored (any thread)."""
        file = self.folder / key[:2] / f"{key}.jpg"
        marker = file.with_suffix(".none")
        image: QImage | None = None
        if file.is_file():
            image = QImage(str(file))
            os.utime(file)  # recently used: pruned last
        elif not marker.exists():
            data = embedded_picture(path)
            if data is not None:
                picture = QImage.fromData(QByteArray(data))
                if not picture.isNull():
                    image = picture.scaled(
                        THUMBNAIL_PIXELS, THUMBNAIL_PIXELS, Qt.AspectRatioMode.KeepAspectRatio,
                        Qt.TransformationMode.SmoothTransformation,
                    )  # fmt: skip
            self._store(file, marker, image)
        return None if image is None or image.isNull() else image

    def remember(self, key: str, image: QImage | None) -> None:
        self.memory[key] = image
        self.memory.move_to_end(key)
        while len(self.memory) > self.memory_cap:
            self.memory.popitem(last=False)

    def _store(self, file: Path, marker: Path, image: QImage | None) -> None:
        try:
            file.parent.mkdir(parents=True, exist_ok=True)
            if image is None:
                marker.touch()
            else:
                buffer = QBuffer()
                buffer.open(QBuffer.OpenModeFlag.WriteOnly)
                image.save(buffer, "JPEG", 85)
                temporary = file.with_suffix(".tmp")
                temporary.write_bytes(bytes(buffer.data()))
                os.replace(temporary, file)
        except OSError:
            return  # a cache that cannot be written is only slower
        self._writes += 1
        if self._writes % 50 == 1:
            self.prune()

    def prune(self) -> int:
        """Remove the least recently used thumbnails beyond the disk cap; returns the bytes kept."""
        entries = []
        for root, _dirs, names in os.walk(self.folder):
            for name in names:
                full = os.path.join(root, name)
                try:
                    stat = os.stat(full)
                except OSError:
                    continue
                entries.append((stat.st_mtime, stat.st_size, full))
        total = sum(size for _, size, _ in entries)
        for _mtime, size, full in sorted(entries):
            if total <= self.disk_cap:
                break
            try:
                os.unlink(full)
                total -= size
            except OSError:
                pass
        return total


class TrackService(QObject):
    """What the strip and the panel show of the current track, and the corrections made to it."""

    track_changed = Signal(object)  # TrackRecord | None
    waveform_changed = Signal(object)  # StoredWaveform | None
    cues_changed = Signal(list)  # list[CuePoint]
    cover_changed = Signal(object)  # QImage | None (None: no cover)
    crates_changed = Signal(list)  # names of the crates the track is in
    tracks_updated = Signal(list)  # ids whose library values changed (the table refreshes them)
    note = Signal(str)  # a short message (a failed tag write-back)

    def __init__(
        self,
        library: Library,
        runner: JobRunner,
        cover_folder: Path,
        tag_notation: Callable[[], KeyNotation | None] = lambda: None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.library = library
        self.runner = runner
        self.covers = CoverCache(cover_folder)
        self.tag_notation = tag_notation  # the notation to write BPM/key into tags with, None = do not
        self.track: TrackRecord | None = None
        self.waveform: StoredWaveform | None = None
        self.cues: list[CuePoint] = []
        self._taps: list[float] = []
        self._cover_key = ""

    # -- selection ---------------------------------------------------------------------------------
    def select(self, track_id: int | None) -> None:
        """Show ``track_id`` (None: nothing)."""
        found = self.library.tracks_by_ids([track_id]) if track_id is not None else []
        self.track = found[0] if found else None
        self._taps = []
        if self.track is None:
            self.waveform, self.cues = None, []
            self.track_changed.emit(None)
            self.waveform_changed.emit(None)
            self.cues_changed.emit([])
            self.cover_changed.emit(None)
            self.crates_changed.emit([])
            return
        data = waveform_of(self.library, self.track.id)
        try:
            self.waveform = parse_waveform(data) if data else None
        except ValueError:
            self.waveform = None
        self.cues = cues_of(self.library, self.track.id)
        self.track_changed.emit(self.track)
        self.waveform_changed.emit(self.waveform)
        self.cues_changed.emit(self.cues)
        self.crates_changed.emit(self._crates_of(self.track.id))
        self._request_cover(self.track)

    def reload(self) -> None:
        """Read the current track again (after its row changed elsewhere)."""
        if self.track is not None:
            current = self.library.tracks_by_ids([self.track.id])
            if current:
                self.track = current[0]
                self.track_changed.emit(self.track)

    def _crates_of(self, track_id: int) -> list[str]:
        try:
            from crate_app.crates import crates_of_track  # the crates core (issue 8), when it is there
        except ImportError:
            return []
        try:
            return [getattr(crate, "name", str(crate)) for crate in crates_of_track(self.library, track_id)]
        except Exception:
            return []

    def _request_cover(self, track: TrackRecord) -> None:
        key = self.covers.key(track.path, track.mtime, track.size)
        self._cover_key = key
        known, image = self.covers.cached(key)
        if known:
            self.cover_changed.emit(image)
            return
        self.cover_changed.emit(None)
        path = track.path

        def read(_job: Job) -> tuple[str, QImage | None]:
            return key, self.covers.load(key, path)

        job = FunctionJob(read, "cover")
        job.signals.finished.connect(self._on_cover_job_finished)
        self.runner.start(job, priority=1)

    def prefetch_covers(self, tracks: list[TrackRecord]) -> None:
        """Read the covers of the rows around the selection ahead, so that moving on shows them at once."""
        for track in tracks:
            key = self.covers.key(track.path, track.mtime, track.size)
            if self.covers.cached(key)[0]:
                continue
            path = track.path

            def read(_job: Job, key: str = key, path: str = path) -> tuple[str, QImage | None]:
                return key, self.covers.load(key, path)

            job = FunctionJob(read, "cover")
            job.signals.finished.connect(self._on_cover_job_finished)
            self.runner.start(job, priority=0)

    def _on_cover_job_finished(self, result: tuple[str, QImage | None]) -> None:
        key, image = result
        self.covers.remember(key, image)
        if key == self._cover_key:
            self.cover_changed.emit(image)

    # -- corrections ---------------------------------------------------------------------------------
    def set_bpm(self, bpm: float | None) -> None:
        """The user's BPM (locked); None goes back to the analysis's."""
        if self.track is None:
            return
        writer.correct_bpm(self.library, [self.track.id], bpm)
        self._changed(write_back=True)

    def multiply_bpm(self, factor: float) -> None:
        if self.track is not None and self.track.bpm:
            self.set_bpm(self.track.bpm * factor)

    def tap(self, now: float | None = None) -> float | None:
        """One tap of tap tempo; sets the BPM from four taps on, returns the tempo so far."""
        self._taps.append(time.monotonic() if now is None else now)
        self._taps = self._taps[-32:]
        bpm = tap_tempo(self._taps)
        if bpm is not None and len(self._taps) >= 4 and self._taps[-1] - self._taps[-4] < 6.0:
            self.set_bpm(round(bpm, 2))
        return bpm

    def set_key(self, key_code: int | None, *, unlock: bool = False) -> None:
        if self.track is None:
            return
        writer.correct_key(self.library, [self.track.id], key_code, unlock=unlock)
        self._changed(write_back=True)

    def set_first_beat(self, seconds: float | None) -> None:
        if self.track is None:
            return
        writer.correct_first_beat(self.library, self.track.id, seconds)
        self._changed()

    def nudge_first_beat(self, milliseconds: float) -> None:
        if self.track is not None:
            self.set_first_beat(max(0.0, (self.track.first_beat or 0.0) + milliseconds / 1000.0))

    def set_rating(self, rating: int | None) -> None:
        if self.track is not None:
            writer.set_rating(self.library, [self.track.id], rating)
            self._changed()

    def set_color(self, color: str) -> None:
        if self.track is not None:
            writer.set_color(self.library, [self.track.id], color)
            self._changed()

    # -- cues ------------------------------------------------------------------------------------------
    def snap(self, position: float) -> float:
        from crate_app.services.player_service import grid_of

        grid = grid_of(self.track)
        return round(grid.snap(position) if grid else position, 4)

    def set_hot_cue(self, number: int, position: float) -> None:
        if self.track is not None:
            self._save_cues(with_hot_cue(self.cues, number, self.snap(position)))

    def add_memory_cue(self, position: float) -> None:
        if self.track is not None:
            self._save_cues([*self.cues, CuePoint("memory", None, self.snap(position))])

    def add_loop(self, start: float, end: float) -> CuePoint | None:
        if self.track is None:
            return None
        start, end = self.snap(start), self.snap(end)
        if end <= start:
            return None
        loop = CuePoint("loop", None, start, end)
        self._save_cues([*self.cues, loop])
        return loop

    def edit_cue(self, old: CuePoint, new: CuePoint | None) -> None:
        """Rename, recolour or (``new`` None) delete a cue."""
        kept = [c for c in self.cues if c != old]
        self._save_cues(kept if new is None else [*kept, new])

    def hot_cue(self, number: int) -> CuePoint | None:
        return next((c for c in self.cues if c.kind == "hot" and c.number == number), None)

    def _save_cues(self, cues: list[CuePoint]) -> None:
        assert self.track is not None
        self.cues = sorted_cues(cues)
        replace_cues(self.library, self.track.id, self.cues)
        self.cues_changed.emit(self.cues)

    def _changed(self, *, write_back: bool = False) -> None:
        assert self.track is not None
        self.reload()
        self.tracks_updated.emit([self.track.id])
        notation = self.tag_notation() if write_back else None
        if notation is not None:
            self._write_back(self.track, notation)

    def _write_back(self, track: TrackRecord, notation: KeyNotation) -> None:
        from crate_app.library.tag_writer import write_bpm_key

        def write(_job: Job) -> str:
            try:
                write_bpm_key(track.path, track.bpm, track.key, notation)
            except Exception as error:  # TagWriteError, ValueError: the file is unchanged
                return f"BPM/key not written into the file: {error}"
            return ""

        job = FunctionJob(write, "write BPM and key")
        job.signals.finished.connect(self._on_write_back_finished)
        self.runner.start(job)

    def _on_write_back_finished(self, message: str) -> None:
        if message:
            self.note.emit(message)
