"""Tag editing: a multi-track edit writes only the touched field (checked by re-reading the files),
undo and redo restore, a failed write leaves the file byte-identical and says why."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from audiofactory import write_audio

from crate_app.domain.search import parse_query
from crate_app.library import tag_edit
from crate_app.library.scanner import scan_paths
from crate_app.library.tags import read_tags
from crate_app.services.jobs import JobRunner
from crate_app.services.tag_edit_service import TagEditService, plan_edit


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def tagged(tmp_path: Path, library):
    paths = []
    for i, fmt in enumerate(("mp3", "flac", "m4a", "ogg")):
        paths.append(
            write_audio(
                tmp_path / "music" / f"{i}.{fmt}",
                {
                    "title": f"Title {i}",
                    "artist": f"Artist {i}",
                    "album": "Album",
                    "genre": "House",
                    "year": 2001,
                },
            )
        )
    scan_paths(library, [str(tmp_path / "music")])
    return paths


def _run(qtbot, service: TagEditService, start) -> object:
    with qtbot.waitSignal(service.finished, timeout=30_000) as blocker:
        assert start()
    return blocker.args[0]


def test_multi_track_edit_touches_only_the_chosen_field_and_undo_restores(qtbot, library, tagged) -> None:
    runner = JobRunner(1)
    service = TagEditService(runner, library)
    tracks = library.tracks_by_ids(library.iter_track_ids())
    before = {p: read_tags(p) for p in tagged}
    outcome = _run(qtbot, service, lambda: service.edit(tracks, {"genre": "Techno", "rating": 4}))
    assert not outcome.failures and len(outcome.done) == 4
    for path in tagged:
        after = read_tags(path)
        assert (after.genre, after.rating) == ("Techno", 4)  # the rating is in the file too
        for name in ("title", "artist", "album", "year", "track_no", "comment", "label", "albumartist"):
            assert getattr(after, name) == getattr(before[path], name), name
    rows = library.tracks_by_ids(library.iter_track_ids())
    assert {(r.genre, r.rating) for r in rows} == {("Techno", 4)}
    assert library.count(parse_query("genre:techno rating:4")) == 4

    _run(qtbot, service, service.undo)
    for path in tagged:
        assert (read_tags(path).genre, read_tags(path).rating) == ("House", None)
    assert {(r.genre, r.rating) for r in library.tracks_by_ids(library.iter_track_ids())} == {("House", None)}
    _run(qtbot, service, service.redo)
    assert {read_tags(p).genre for p in tagged} == {"Techno"}
    runner.shutdown()


def test_plan_edit_skips_values_already_there_and_refuses_nonsense(library, tagged) -> None:
    tracks = library.tracks_by_ids(library.iter_track_ids())
    assert plan_edit(tracks, {"album": "Album"}) == []
    assert [c.after for c in plan_edit(tracks[:1], {"album": "New", "artist": tracks[0].artist})] == [
        {"album": "New"}
    ]
    with pytest.raises(ValueError, match="whole number"):
        plan_edit(tracks, {"year": "nineteen"})
    with pytest.raises(ValueError, match="cannot edit"):
        plan_edit(tracks, {"bitrate": 3})


def test_a_write_that_fails_midway_leaves_the_file_byte_identical(
    qtbot, library, tagged, monkeypatch
) -> None:
    victim = tagged[1]  # the FLAC
    original = _digest(victim)

    real_write = tag_edit._write

    def write_then_break(audio, changes) -> None:
        real_write(audio, changes)  # the copy is tagged and saved...
        if audio.filename.endswith(".flac"):
            with open(audio.filename, "r+b") as handle:  # ...then the disk fills up halfway through
                handle.truncate(100)
            raise OSError(28, "No space left on device")

    monkeypatch.setattr(tag_edit, "_write", write_then_break)
    runner = JobRunner(1)
    service = TagEditService(runner, library)
    tracks = library.tracks_by_ids(library.iter_track_ids())
    outcome = _run(qtbot, service, lambda: service.edit(tracks, {"title": "Changed"}))
    assert [Path(path) for path, _ in outcome.failures] == [victim]
    assert "No space left on device" in outcome.failures[0][1]
    assert _digest(victim) == original
    assert sorted(p.name for p in victim.parent.iterdir()) == sorted(p.name for p in tagged)  # no copy left
    assert read_tags(tagged[0]).title == "Changed" and library.track_by_path(str(victim)).title == "Title 1"
    runner.shutdown()


def test_rating_and_colour_reach_the_library_when_a_file_cannot_be_written(qtbot, library, tagged) -> None:
    runner = JobRunner(1)
    service = TagEditService(runner, library)
    tracks = library.tracks_by_ids(library.iter_track_ids())
    gone = Path(tracks[0].path)
    gone.unlink()
    outcome = _run(qtbot, service, lambda: service.edit(tracks, {"rating": 5, "color": "pink"}))
    assert [Path(path) for path, _ in outcome.failures] == [gone]
    assert "kept in the library only" in outcome.failures[0][1]
    assert {(r.rating, r.color) for r in library.tracks_by_ids(library.iter_track_ids())} == {(5, "pink")}
    assert {(read_tags(p).rating, read_tags(p).color) for p in tagged if p != gone} == {(5, "pink")}
    _run(qtbot, service, service.undo)  # undo puts the library back, the vanished file or not
    assert {(r.rating, r.color) for r in library.tracks_by_ids(library.iter_track_ids())} == {(None, "")}
    assert {read_tags(p).rating for p in tagged if p != gone} == {None}
    runner.shutdown()
