"""Background audio hashing: a pass over the library's real files that can be paused, is held by other
work, and is started by the window after a scan."""

from __future__ import annotations

import shutil
from pathlib import Path

from audiofactory import write_audio, write_tags

from crate_app.hygiene import hashing
from crate_app.library.scanner import scan_paths
from crate_app.services.hash_service import HashService
from crate_app.services.jobs import JobState


def _music(root: Path) -> None:
    write_audio(root / "a.mp3", {"artist": "A", "title": "One"})
    shutil.copy(root / "a.mp3", root / "a copy.mp3")
    write_tags(root / "a copy.mp3", {"artist": "B", "title": "Two"})
    write_audio(root / "b.flac", {"artist": "C", "title": "Three"})


def _hashed(library) -> dict[str, str]:
    return dict(library.execute(
        "SELECT t.filename, h.audio_hash FROM track_hashes h JOIN tracks t ON t.id = h.track_id"
    ).fetchall())  # fmt: skip


def test_a_pass_waits_while_paused_or_held_and_hashes_every_track(qtbot, library, tmp_path: Path) -> None:
    _music(tmp_path / "music")
    scan_paths(library, [tmp_path / "music"], workers=0)
    service = HashService(library)
    try:
        service.set_paused(True)
        job = service.start()
        assert job is not None
        qtbot.waitUntil(lambda: job.state is JobState.PAUSED, timeout=5_000)
        assert _hashed(library) == {}  # paused before its first file
        assert library.execute("SELECT COUNT(*) FROM track_tag_keys").fetchone()[0] == 0  # nor any key
        service.hold("scan")
        service.set_paused(False)
        assert service.is_waiting and job.is_paused  # still held by the scan
        with qtbot.waitSignal(service.finished, timeout=20_000) as blocker:
            service.release("scan")
        summary = blocker.args[0]
        assert (summary.hashed, summary.failed, summary.cancelled) == (3, 0, False)
        hashes = _hashed(library)
        assert set(hashes) == {"a.mp3", "a copy.mp3", "b.flac"}
        assert hashes["a.mp3"] == hashes["a copy.mp3"] != hashes["b.flac"]  # tags do not count
        qtbot.waitUntil(lambda: not service.is_running, timeout=5_000)
        assert hashing.tracks_to_hash(library) == []
        # The keys of duplicates by tags were made by the pass, not left to the first search.
        assert library.execute("SELECT COUNT(*) FROM track_tag_keys").fetchone()[0] == 3
    finally:
        service.shutdown()
    assert service.start() is None  # never after shutdown


def test_the_window_hashes_after_a_scan_and_the_status_bar_pauses_it(
    qtbot, make_window, library, tmp_path: Path
) -> None:
    window = make_window(library)
    hashing_service, status = window.hygiene.hashing, window.hygiene.hashing_status
    status.pause_button.click()  # the user pauses hashing: the pass after the scan waits
    assert hashing_service.user_paused and status.pause_button.text() == "Resume"
    _music(tmp_path / "music")
    with qtbot.waitSignal(window.scan_service.finished, timeout=20_000):
        window.scan_service.scan([str(tmp_path / "music")])
    qtbot.waitUntil(
        lambda: hashing_service.job is not None and hashing_service.job.state is JobState.PAUSED
        and status.isVisible() and "(paused)" in status.label.text(),
        timeout=20_000,
    )  # fmt: skip
    assert library.count() == 3 and _hashed(library) == {}
    status.pause_button.click()  # Resume
    qtbot.waitUntil(lambda: len(_hashed(library)) == 3 and not hashing_service.is_running, timeout=20_000)
    qtbot.waitUntil(lambda: not status.isVisible(), timeout=5_000)
