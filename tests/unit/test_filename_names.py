"""Untagged files: artist and title come from the file name, stored in the library so that the table,
search and sort agree; a library made before gets them by its migration; renaming such a file outside
Crate is still recognised as a move."""

from __future__ import annotations

import os
from pathlib import Path

from audiofactory import melody, write_audio

from crate_app.domain.search import parse_query
from crate_app.domain.track import names_from_filename, with_filename_names
from crate_app.library.scanner import rescan_library, scan_paths
from crate_app.store import schema


def test_names_from_file_names() -> None:
    cases = {
        "Artist - Title.mp3": ("Artist", "Title"),
        "01 - Artist - Title (Extended Mix).flac": ("Artist", "Title (Extended Mix)"),
        "01. Intro.mp3": ("", "Intro"),
        "808 State - Pacific State.mp3": ("808 State", "Pacific State"),  # a number that is a name
        "Artist_-_Title.mp3": ("Artist", "Title"),
        "Daft Punk \u2013 One More Time.m4a": ("Daft Punk", "One More Time"),
        "track01.wav": ("", "track01"),
        "Hyphen-ated-name.mp3": ("", "Hyphen-ated-name"),
    }
    assert {name: names_from_filename(name) for name in cases} == cases
    assert with_filename_names("Artist", None, "Artist - Title.mp3") == ("Artist", "Title")
    assert with_filename_names("Someone", "", "Other - Title.mp3") == ("Someone", "Other - Title")
    assert with_filename_names("", "Tagged", "Other - Title.mp3") == ("", "Tagged")  # tags win


def test_untagged_files_are_named_searched_and_sorted_by_their_file_names(tmp_path: Path, library) -> None:
    music = tmp_path / "music"
    write_audio(music / "Zed - Alpha.mp3")  # no tags at all
    write_audio(music / "b.flac", {"artist": "Mid", "title": "Beta"})
    write_audio(music / "01 - Gamma.ogg", {"artist": "Anna"})  # an artist, no title
    scan_paths(library, [str(music)])
    rows = {
        os.path.basename(t.path): (t.artist, t.title) for t in library.tracks_by_ids(library.iter_track_ids())
    }
    assert rows == {
        "Zed - Alpha.mp3": ("Zed", "Alpha"),
        "b.flac": ("Mid", "Beta"),
        "01 - Gamma.ogg": ("Anna", "Gamma"),
    }
    assert library.count(parse_query("artist:zed title:alpha")) == 1
    assert library.count(parse_query("alpha")) == 1  # the search index has it too
    by_artist = library.tracks_by_ids(list(library.iter_track_ids(sort="artist")))
    assert [t.artist for t in by_artist] == ["Anna", "Mid", "Zed"]


def test_the_migration_names_tracks_scanned_before(tmp_path: Path, library) -> None:
    music = tmp_path / "music"
    write_audio(music / "Zed - Alpha.mp3")
    scan_paths(library, [str(music)])
    library.execute("UPDATE tracks SET artist = '', title = ''")  # as an older Crate stored it
    schema._migration_names_from_file_names(library.db)
    (track,) = library.tracks_by_ids(library.iter_track_ids())
    assert (track.artist, track.title) == ("Zed", "Alpha")
    assert library.count(parse_query("alpha")) == 1


def test_renaming_an_untagged_file_outside_crate_keeps_its_track(tmp_path: Path, library) -> None:
    music = tmp_path / "music"
    first = write_audio(music / "Zed - Alpha.mp3", samples=melody(1, 4, 22050), rate=22050)
    write_audio(music / "other.mp3", samples=melody(2, 4, 22050), rate=22050)
    scan_paths(library, [str(music)], workers=0)
    track_id = library.track_by_path(str(first)).id
    library.execute("UPDATE tracks SET rating = 3 WHERE id = ?", (track_id,))
    renamed = music / "sub" / "Zed - Alpha (edit).mp3"
    renamed.parent.mkdir()
    os.rename(first, renamed)
    summary = rescan_library(library, workers=0)
    assert (summary.moved, summary.added, summary.missing) == (1, 0, 0)
    (track,) = library.tracks_by_ids([track_id])
    assert (track.path, track.title, track.rating) == (str(renamed), "Alpha (edit)", 3)
