"""Watched folders with the real watchdog observer on real files: new files appear, deleted ones go
missing, renames keep their track; bursts are one batch; the watch limit falls back to rescans."""

from __future__ import annotations

import errno
import os
import shutil
from pathlib import Path

import pytest
from audiofactory import write_audio

from crate_app.hygiene.watch import ChangeBatcher
from crate_app.library.scanner import scan_paths
from crate_app.services.jobs import JobRunner
from crate_app.services.scan_service import ScanService
from crate_app.services.watch_service import WatchService
from crate_app.store.library import open_library


def test_batcher_waits_for_quiet_and_never_longer_than_the_limit() -> None:
    now = [0.0]
    batcher = ChangeBatcher(quiet=1.0, longest=5.0, clock=lambda: now[0])
    batcher.add("/a", "/b")
    now[0] = 0.5
    batcher.add("/a")
    assert batcher.take() == []  # still busy
    now[0] = 1.6
    assert batcher.take() == ["/a", "/b"] and batcher.pending() == 0
    handed = []
    for step in range(12):  # a copy that never pauses is still handed out, after 5 s
        now[0] = 10 + step * 0.5
        batcher.add(f"/f{step}")
        handed.append(len(batcher.take()))
    assert handed == [0] * 10 + [11, 0]


def test_stopping_while_the_watches_are_still_being_set_leaves_no_watch_behind(
    tmp_path: Path, monkeypatch
) -> None:
    """The window can close while the watch job is still scheduling folders on its thread: stop()
    then must neither fail (it once joined an observer not started yet) nor leave watches running."""
    import threading

    from watchdog.observers.api import BaseObserver

    from crate_app.hygiene.watch import FolderWatcher

    folders = [tmp_path / f"f{n}" for n in range(3)]
    for folder in folders:
        folder.mkdir()
    scheduling, go_on = threading.Event(), threading.Event()
    schedule = BaseObserver.schedule

    def slow_schedule(self, handler, path, recursive=False, **kwargs):
        scheduling.set()
        go_on.wait(10)
        return schedule(self, handler, path, recursive=recursive, **kwargs)

    monkeypatch.setattr(BaseObserver, "schedule", slow_schedule)
    watcher = FolderWatcher()
    failed: list[object] = []
    setter = threading.Thread(target=lambda: failed.append(watcher.start([str(f) for f in folders])))
    setter.start()
    assert scheduling.wait(10)
    observer = watcher._observer
    watcher.stop()  # while the first folder is being scheduled
    go_on.set()
    setter.join(10)
    assert failed == [[]] and watcher.watched == []
    assert not observer.is_alive() and not observer.emitters
    assert watcher.start([str(folders[0])]) == [] and watcher._observer is None  # stopped for good


@pytest.fixture
def watched(qtbot, tmp_path: Path):
    root = tmp_path / "music"
    write_audio(root / "old.mp3", {"artist": "A", "title": "Old"})
    library = open_library(tmp_path / "lib.sqlite")
    scan_paths(library, [root], workers=0)
    runner = JobRunner()
    scans = ScanService(runner, library)
    scans.workers = 0
    service = WatchService(scans, library)
    with qtbot.waitSignal(service.watching, timeout=10_000) as blocker:
        service.start()
    assert blocker.args[0] == [str(root)]
    yield library, root, service
    service.stop()
    runner.shutdown()
    library.close()


def _wait_for(qtbot, library, sql: str, expected: object, timeout: int = 15_000) -> None:
    qtbot.waitUntil(lambda: library.execute(sql).fetchone()[0] == expected, timeout=timeout)


def test_new_deleted_and_renamed_files_reach_the_library(qtbot, watched) -> None:
    library, root, _service = watched
    old_id = library.execute("SELECT id FROM tracks").fetchone()[0]
    staging = root.parent / "staging"
    for i in range(20):
        write_audio(staging / f"new {i}.mp3", {"artist": "A", "title": f"New {i}"})
    shutil.move(staging, root / "dropped")  # a folder arrives at once
    _wait_for(qtbot, library, "SELECT COUNT(*) FROM tracks WHERE status = 'ok'", 21)
    (root / "dropped" / "new 0.mp3").unlink()
    _wait_for(qtbot, library, "SELECT COUNT(*) FROM tracks WHERE status = 'missing'", 1)
    os.rename(root / "old.mp3", root / "dropped" / "renamed.mp3")
    _wait_for(
        qtbot, library, f"SELECT path FROM tracks WHERE id = {old_id}", str(root / "dropped" / "renamed.mp3")
    )
    assert library.execute("SELECT COUNT(*) FROM tracks").fetchone()[0] == 21  # the rename kept its track


def test_watch_limit_falls_back_to_periodic_rescans_and_says_so(qtbot, tmp_path: Path, monkeypatch) -> None:
    from watchdog.observers import Observer

    def refuse(*_args, **_kwargs):
        raise OSError(errno.ENOSPC, "inotify watch limit reached")

    monkeypatch.setattr(Observer, "schedule", refuse)
    root = tmp_path / "music"
    root.mkdir()
    library = open_library(tmp_path / "lib.sqlite")
    library.add_root(str(root))
    runner = JobRunner()
    service = WatchService(ScanService(runner, library), library)
    with qtbot.waitSignal(service.limited) as blocker:
        service.start()
    assert "limit" in blocker.args[0] and "rescans" in blocker.args[0]
    assert service.fallback.isActive()
    service.stop()
    runner.shutdown()
    library.close()
