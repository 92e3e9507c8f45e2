"""Rating and colour in file tags: written where library.rating_tags says (read back raw with mutagen),
read from what other apps write, and imported by a rescan without wiping the library's values."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import mutagen
import pytest
from audiofactory import write_audio
from mutagen.id3 import ID3, POPM

from crate_app.library import tag_edit
from crate_app.library.rating_tags import (
    MP4_COLOR,
    MP4_RATING,
    TRAKTOR_OWNER,
    WMP_OWNER,
    color_from_text,
    stars_from_popm,
    stars_from_text,
)
from crate_app.library.scanner import scan_paths
from crate_app.library.tag_edit import write_tag_fields
from crate_app.library.tags import read_tags
from crate_app.store import writer


def _raw(path: Path) -> tuple[object, object]:
    """(rating, colour) exactly as stored in the file, read with mutagen alone."""
    tags = mutagen.File(path).tags
    if isinstance(tags, ID3):
        popm = tags.get(f"POPM:{WMP_OWNER}")
        color = tags.get("TXXX:COLOR")
        return (popm.rating if popm else None), (color.text[0] if color else None)
    if path.suffix == ".m4a":
        rating, color = tags.get(MP4_RATING), tags.get(MP4_COLOR)
        return (bytes(rating[0]).decode() if rating else None), (bytes(color[0]).decode() if color else None)
    return (tags.get("RATING") or [None])[0], (tags.get("COLOR") or [None])[0]


@pytest.mark.parametrize(
    ("fmt", "stored"),
    [("mp3", 196), ("wav", 196), ("flac", "80"), ("ogg", "80"), ("m4a", "80")],
)
def test_rating_and_colour_are_written_where_the_table_says(tmp_path: Path, fmt: str, stored) -> None:
    path = write_audio(tmp_path / f"t.{fmt}", {"title": "Keep", "genre": "House"})
    write_tag_fields(path, {"rating": 4, "color": "aqua"})
    assert _raw(path) == (stored, "aqua")
    found = read_tags(path)
    assert (found.rating, found.color, found.title, found.genre) == (4, "aqua", "Keep", "House")

    write_tag_fields(path, {"rating": None, "color": ""})  # unrated, no colour: the tags go
    assert _raw(path) == (None, None)
    assert (read_tags(path).rating, read_tags(path).color) == (None, None)


def test_other_apps_popm_frames_are_read_and_kept_in_step(tmp_path: Path) -> None:
    path = write_audio(tmp_path / "t.mp3", {"title": "x"})
    tags = ID3(path)
    tags.add(POPM(email=TRAKTOR_OWNER, rating=153, count=7))  # Traktor's 3 stars, with a play count
    tags.save(path)
    assert read_tags(path).rating == 3

    write_tag_fields(path, {"rating": 5})
    tags = ID3(path)
    assert (tags[f"POPM:{WMP_OWNER}"].rating, tags[f"POPM:{TRAKTOR_OWNER}"].rating) == (255, 255)
    assert tags[f"POPM:{TRAKTOR_OWNER}"].count == 7

    write_tag_fields(path, {"rating": None})
    tags = ID3(path)
    assert f"POPM:{WMP_OWNER}" not in tags
    assert (tags[f"POPM:{TRAKTOR_OWNER}"].rating, tags[f"POPM:{TRAKTOR_OWNER}"].count) == (0, 7)
    assert read_tags(path).rating is None


def test_scales_and_colours_from_other_writers() -> None:
    assert [stars_from_popm(b) for b in (0, 1, 64, 128, 196, 255)] == [None, 1, 2, 3, 4, 5]
    assert [stars_from_popm(b) for b in (13, 54, 118, 186, 242)] == [1, 2, 3, 4, 5]  # MediaMonkey halves
    assert [stars_from_popm(b, TRAKTOR_OWNER) for b in (51, 102, 153, 204, 255)] == [1, 2, 3, 4, 5]
    assert [stars_from_text(t) for t in ("3", "60", "100", "4.0", "0", "", "abc", "999")] == [
        3, 3, 5, 4, None, None, None, None,
    ]  # fmt: skip
    assert [color_from_text(t) for t in ("Red", "turquoise", "#FF0000", "0x0000ff", "mauve", "")] == [
        "red", "aqua", "red", "blue", None, None,
    ]  # fmt: skip


def test_a_rating_write_that_fails_leaves_the_file_byte_identical(tmp_path: Path, monkeypatch) -> None:
    path = write_audio(tmp_path / "t.flac", {"title": "x"})
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    with pytest.raises(ValueError, match="0-5 stars"):
        write_tag_fields(path, {"rating": 6})
    with pytest.raises(ValueError, match="unknown colour"):
        write_tag_fields(path, {"color": "mauve"})
    real_write = tag_edit._write

    def write_then_fail(audio, changes) -> None:
        real_write(audio, changes)  # the copy holds the rating...
        with open(audio.filename, "r+b") as handle:  # ...then the disk fills up
            handle.truncate(100)
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(tag_edit, "_write", write_then_fail)
    with pytest.raises(OSError, match="No space"):
        write_tag_fields(path, {"rating": 2, "color": "red"})
    assert hashlib.sha256(path.read_bytes()).hexdigest() == digest
    assert [p.name for p in tmp_path.iterdir()] == ["t.flac"]


def test_a_rescan_imports_rating_and_colour_but_never_wipes_them(tmp_path: Path, library) -> None:
    music = tmp_path / "music"
    tagged = write_audio(music / "tagged.mp3", {"title": "a"})
    plain = write_audio(music / "plain.flac", {"title": "b"})
    write_tag_fields(tagged, {"rating": 2, "color": "green"})
    scan_paths(library, [str(music)])
    first, second = library.track_by_path(str(tagged)), library.track_by_path(str(plain))
    assert (first.rating, first.color) == (2, "green")
    assert (second.rating, second.color) == (None, "")

    writer.set_rating(library, [second.id], 5)  # set in Crate only (say the file could not be written)
    writer.set_color(library, [second.id], "blue")
    write_tag_fields(tagged, {"rating": 4, "title": "a2"})  # another app rates the file anew
    os.utime(plain, (1, 1))  # both files look changed
    scan_paths(library, [str(music)])
    first, second = library.track_by_path(str(tagged)), library.track_by_path(str(plain))
    assert (first.rating, first.color, first.title) == (4, "green", "a2")
    assert (second.rating, second.color) == (5, "blue")  # a file without the tags keeps the library's
