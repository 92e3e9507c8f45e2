"""Planning renames over a real library: selection, sidecars, paths taken on disk or in the library."""

from __future__ import annotations

from pathlib import Path

from crate_app.domain.track import ScannedFile, TagInfo, TrackStatus
from crate_app.rename import executor
from crate_app.rename.batch import (
    RenameRequest,
    find_sidecars,
    is_case_insensitive,
    plan_for_tracks,
    select_tracks,
)
from crate_app.store import writer
from crate_app.store.library import open_library


def make_library(tmp_path: Path, tracks: list[tuple[str, str, str]]):
    root = tmp_path / "music"
    root.mkdir()
    library = open_library(tmp_path / "lib.sqlite")
    library.add_root(str(root))
    items = []
    for name, artist, title in tracks:
        path = root / name
        path.write_bytes(name.encode() * 20)
        items.append(
            ScannedFile(
                str(path), path.stat().st_size, path.stat().st_mtime, TagInfo(artist=artist, title=title)
            )
        )
    writer.upsert_scanned(library, items)
    return library, root


def test_sidecars_with_the_same_stem_are_found(tmp_path: Path) -> None:
    for name in ("mix.mp3", "mix.cue", "mix.LRC", "mix.en.lrc", "mixtape.cue", "mix.jpg"):
        (tmp_path / name).write_text("x")
    found = [Path(p).name for p in find_sidecars(str(tmp_path / "mix.mp3"))]
    assert found == ["mix.LRC", "mix.cue", "mix.en.lrc"]


def test_sidecars_move_with_their_track(tmp_path: Path) -> None:
    library, root = make_library(tmp_path, [("a.mp3", "Artist", "Song")])
    (root / "a.cue").write_text("FILE a.mp3")
    request = RenameRequest("{artist}/{title}", carry_sidecars=True)
    plan = plan_for_tracks(library, select_tracks(library), request)
    result = executor.run_batch(library, executor.start_batch(library, plan))
    assert (result.moved, result.sidecars, result.failed) == (1, 1, 0)
    assert (root / "Artist" / "Song.cue").read_text() == "FILE a.mp3"
    assert (root / "Artist" / "Song.mp3").exists()


def test_a_path_held_by_a_missing_library_entry_is_not_reused(tmp_path: Path) -> None:
    library, root = make_library(tmp_path, [("a.mp3", "X", "Song"), ("gone.mp3", "Y", "Old")])
    gone = library.track_by_path(str(root / "gone.mp3"))
    (root / "gone.mp3").rename(root / "elsewhere.bin")
    writer.set_status(library, [gone.id], TrackStatus.MISSING)
    # The missing track's row still says root/gone.mp3: planning "a" onto that name must not take it.
    with library.write() as conn:
        conn.execute("UPDATE tracks SET path = ? WHERE id = ?", (str(root / "Song.mp3"), gone.id))
    plan = plan_for_tracks(library, select_tracks(library), RenameRequest("{title}"))
    assert [Path(m.dst).name for m in plan.moves] == ["Song (2).mp3"]  # the missing track is not selected
    result = executor.run_batch(library, executor.start_batch(library, plan))
    assert result.failed == 0 and (root / "Song (2).mp3").exists()


def test_case_sensitivity_probe(tmp_path: Path) -> None:
    folder = tmp_path / "Music"
    folder.mkdir()
    expected = (tmp_path / "music").exists()  # true only where the filesystem ignores case
    assert is_case_insensitive(str(folder)) is expected
