"""The selected track for the player strip and the track panel: its record, overview waveform, cues,
cover art and crates, and the corrections the user makes to it (BPM, key, first beat, rating, colour,
cues).  Each correction is one command on an undo stack (the window's, shared with the crate and tag
edits): undo puts back the track's value as it was, locked or not.

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
from PySide6.QtGui import QImage, QUndoCommand, QUndoStack

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


CorrectionState = object  # what one corrected field of a track was: see TrackService._state
_FILE_FIELDS = ("bpm", "key", "rating", "color")  # corrections that are also written into the file
_MERGING_ID = 1301  # QUndoCommand.id() of corrections that merge with the next one (taps, nudges)


def apply_correction(library: Library, track_id: int, field: str, state: CorrectionState) -> None:
    """Put one field of a track back into ``state`` (as ``TrackService._state`` read it)."""
    if field == "bpm":
        bpm, locked = state  # type: ignore[misc]
        writer.correct_bpm(library, [track_id], bpm if locked else None)
    elif field == "key":
        key, locked = state  # type: ignore[misc]
        writer.correct_key(library, [track_id], key, unlock=not locked)
    elif field == "first_beat":
        first_beat, locked = state  # type: ignore[misc]
        writer.correct_first_beat(library, track_id, first_beat if locked else None)
    elif field == "rating":
        writer.set_rating(library, [track_id], state)  # type: ignore[arg-type]
    elif field == "color":
        writer.set_color(library, [track_id], state)  # type: ignore[arg-type]
    elif field == "cues":
        replace_cues(library, track_id, list(state))  # type: ignore[call-overload]
    else:
        raise ValueError(f"not a correction: {field}")


class _CorrectionCommand(QUndoCommand):
    """One correction of one track on the undo stack (already applied when pushed)."""

    def __init__(
        self, service: TrackService, track_id: int, field: str, before: object, after: object, text: str,
        merging: bool,
    ) -> None:  # fmt: skip
        super().__init__(text)
        self.service = service
        self.track_id, self.field, self.before, self.after = track_id, field, before, after
        self.merging = merging
        self._applied = True

    def redo(self) -> None:  # Qt override
        if self._applied:
            self._applied = False  # pushed after it was made: nothing to do the first time
            return
        self.service._restore(self.track_id, self.field, self.after)

    def undo(self) -> None:  # Qt override
        self.service._restore(self.track_id, self.field, self.before)

    def id(self) -> int:  # Qt override: taps and nudges of one track become one step
        return _MERGING_ID if self.merging else -1

    def mergeWith(self, other: QUndoCommand) -> bool:  # Qt override
        if not (isinstance(other, _CorrectionCommand) and other.merging):
            return False
        if (other.track_id, other.field) != (self.track_id, self.field):
            return False
        self.after = other.after
        return True


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
        undo_stack: QUndoStack | None = None,
    ) -> None:
        super().__init__(parent)
        self.library = library
        self.undo_stack = undo_stack if undo_stack is not None else QUndoStack(self)
        self.runner = runner
        self.covers = CoverCache(cover_folder)
        self.tag_notation = tag_notation  # the notation to write BPM/key into tags with, None = do not
        self.track: TrackRecord | None = None
        self.waveform: StoredWaveform | None = None
        self.cues: list[CuePoint] = []
        self._taps: list[float] = []
        self._cover_key = ""
        self._file_writes: dict[int, set[str]] = {}  # track id -> fields to write into its file
        self._file_write_job: Job | None = None

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
    def set_bpm(self, bpm: float | None, *, merging: bool = False) -> None:
        """The user's BPM (locked); None goes back to the analysis's."""
        text = "Unlock BPM" if bpm is None else f"Set BPM to {bpm:g}"
        self._correct("bpm", text, lambda ids: writer.correct_bpm(self.library, ids, bpm), merging)

    def multiply_bpm(self, factor: float) -> None:
        if self.track is not None and self.track.bpm:
            self.set_bpm(self.track.bpm * factor)

    def tap(self, now: float | None = None) -> float | None:
        """One tap of tap tempo; sets the BPM from four taps on, returns the tempo so far."""
        self._taps.append(time.monotonic() if now is None else now)
        self._taps = self._taps[-32:]
        bpm = tap_tempo(self._taps)
        if bpm is not None and len(self._taps) >= 4 and self._taps[-1] - self._taps[-4] < 6.0:
            self.set_bpm(round(bpm, 2), merging=True)  # taps in a row are one undo step
        return bpm

    def set_key(self, key_code: int | None, *, unlock: bool = False) -> None:
        text = "Unlock key" if unlock else "Set key"
        self._correct(
            "key", text, lambda ids: writer.correct_key(self.library, ids, key_code, unlock=unlock), False
        )

    def set_first_beat(self, seconds: float | None, *, merging: bool = False) -> None:
        text = "Unlock first beat" if seconds is None else "Move first beat"

        def change(ids: list[int]) -> None:
            writer.correct_first_beat(self.library, ids[0], seconds)

        self._correct("first_beat", text, change, merging)

    def nudge_first_beat(self, milliseconds: float) -> None:
        """Move the first beat; nudges in a row are one undo step."""
        if self.track is not None:
            self.set_first_beat(
                max(0.0, (self.track.first_beat or 0.0) + milliseconds / 1000.0), merging=True
            )

    def set_rating(self, rating: int | None) -> None:
        self._correct("rating", "Set rating", lambda ids: writer.set_rating(self.library, ids, rating), False)

    def set_color(self, color: str) -> None:
        self._correct("color", "Set colour", lambda ids: writer.set_color(self.library, ids, color), False)

    def _state(self, field: str) -> CorrectionState:
        """The current track's ``field`` as ``apply_correction`` puts it back."""
        track = self.track
        assert track is not None
        if field == "cues":
            return tuple(self.cues)
        if field in ("bpm", "key", "first_beat"):
            return getattr(track, field), getattr(track, f"{field}_locked")
        return getattr(track, field)

    def _correct(self, field: str, text: str, change: Callable[[list[int]], None], merging: bool) -> None:
        """Make a correction of the current track (``change(ids)`` raises ValueError for a value that
        makes no sense: then nothing changes) and put it on the undo stack."""
        if self.track is None:
            return
        track = self.track
        before = self._state(field)
        change([track.id])
        self._changed(track.id, write_back=field)
        after = self._state(field)
        if after != before:
            title = track.title or os.path.basename(track.path)
            command = _CorrectionCommand(
                self, track.id, field, before, after, f"{text} of \u201c{title}\u201d", merging
            )
            self.undo_stack.push(command)

    def _restore(self, track_id: int, field: str, state: CorrectionState) -> None:
        """Undo or redo a correction (of any track, shown or not)."""
        try:
            apply_correction(self.library, track_id, field, state)
        except Exception as error:  # a library that is gone or busy: say so, never crash in an undo
            self.note.emit(f"Could not undo or redo the change: {error}")
            return
        if field == "cues" and self.track is not None and self.track.id == track_id:
            self.cues = list(state)  # type: ignore[call-overload]
            self.cues_changed.emit(self.cues)
        self._changed(track_id, write_back=field)

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
        new = sorted_cues(cues)

        def change(ids: list[int]) -> None:
            replace_cues(self.library, ids[0], new)
            self.cues = new
            self.cues_changed.emit(self.cues)

        self._correct("cues", "Edit cues", change, False)

    def _changed(self, track_id: int, *, write_back: str = "") -> None:
        """After ``track_id`` changed in the library: show it, and write the changed field into the file
        (rating and colour always, as the tag editor does; BPM and key when the option says so)."""
        if self.track is not None and self.track.id == track_id:
            self.reload()
        self.tracks_updated.emit([track_id])
        if write_back in _FILE_FIELDS:
            self._file_writes.setdefault(track_id, set()).add(write_back)
            self._start_file_write()

    def _start_file_write(self) -> None:
        """One file write at a time, with the track's values as they are when it starts: writes of the
        same file never race, and the last one written is the library's latest value."""
        if self._file_write_job is not None or not self._file_writes:
            return
        track_id = next(iter(self._file_writes))
        fields = self._file_writes.pop(track_id)
        track = self.library.track_by_id(track_id)
        notation = self.tag_notation()
        if track is None or (notation is None and not fields & {"rating", "color"}):
            self._start_file_write()
            return
        library = self.library

        def write(_job: Job) -> str:
            from crate_app.library.tag_edit import write_tag_fields
            from crate_app.library.tag_writer import write_bpm_key

            try:
                if notation is not None and fields & {"bpm", "key"}:
                    write_bpm_key(track.path, track.bpm, track.key, notation)
                user = {name: getattr(track, name) for name in ("rating", "color") if name in fields}
                if user:
                    write_tag_fields(track.path, user)
                    stat = os.stat(track.path)  # the library knows the file as it is now
                    writer.update_tag_fields(library, [(track.id, {}, stat.st_size, stat.st_mtime)])
            except Exception as error:  # TagWriteError, ValueError, OSError: the file is unchanged
                what = "BPM/key" if fields & {"bpm", "key"} else "Rating/colour"
                return f"{what} not written into the file: {error}"
            return ""

        job = FunctionJob(write, "write tags")
        job.signals.finished.connect(self._on_write_back_finished)
        job.signals.failed.connect(self._on_write_back_finished)
        self._file_write_job = job
        self.runner.start(job)

    def _on_write_back_finished(self, message: str) -> None:
        self._file_write_job = None
        if message:
            self.note.emit(message)
        self._start_file_write()
