"""The template language: fields, formats, fallbacks, folders, braces, and errors with positions."""

from __future__ import annotations

import pytest

from crate_app.domain.errors import TemplateError
from crate_app.domain.keys import KeyNotation, parse_key
from crate_app.domain.track import TrackRecord
from crate_app.rename.template import FIELD_NAMES, compile_template, format_bpm

A_MINOR = parse_key("Am").code  # type: ignore[union-attr]


def full_track(**changes: object) -> TrackRecord:
    values: dict[str, object] = dict(
        id=1,
        path="/music/in/01 whatever.MP3",
        artist="Artist",
        title="Title",
        album="Album",
        albumartist="Album Artist",
        genre="Techno",
        year=1999,
        track_no=7,
        disc_no=2,
        bpm=127.5,
        key=A_MINOR,
        label="Label",
    )
    values.update(changes)
    return TrackRecord(**values)  # type: ignore[arg-type]


def render(template: str, track: TrackRecord | None = None, **kwargs: KeyNotation) -> tuple[str, ...]:
    return compile_template(template).render(track or full_track(), **kwargs)


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{artist} - {title}", ("Artist - Title",)),
        ("{albumartist}/{album}/{track:02} {title}", ("Album Artist", "Album", "07 Title")),
        ("{genre} {year} {disc}-{track:03} {label}", ("Techno 1999 2-007 Label",)),
        ("{bpm} {bpm:.0f} {bpm:06.2f}", ("127.5 128 127.50",)),
        ("{camelot} {key}", ("8A 8A",)),
        ("{ext}/{title}", ("MP3", "Title")),
        ("{title}.{ext}", ("Title",)),  # the extension is always kept, so a trailing .{ext} is redundant
        ("{title}.{ext}.bak", ("Title.MP3.bak",)),
        ("{{{title}}}", ("{Title}",)),
        ("}}{{", ("}{",)),
        ("plain", ("plain",)),
        ("{ artist }", ("Artist",)),
        ("folder\\{title}", ("folder", "Title")),
        ("{title:>8}", ("   Title",)),
        ("{title}\u00a0\u2013 {artist}", ("Title\u00a0\u2013 Artist",)),  # any printable text is fine
    ],
)
def test_rendering(template: str, expected: tuple[str, ...]) -> None:
    assert render(template) == expected


def test_key_uses_the_given_notation_and_camelot_stays_camelot() -> None:
    assert render("{key}|{camelot}".replace("|", " "), key_notation=KeyNotation.MUSICAL) == ("Am 8A",)
    assert render("{key}", key_notation=KeyNotation.OPEN_KEY) == ("1m",)


def test_fallbacks_take_the_first_field_with_a_value_then_the_literal() -> None:
    template = "{albumartist|artist|Unknown Artist}"
    assert render(template) == ("Album Artist",)
    assert render(template, full_track(albumartist=None)) == ("Artist",)
    assert render(template, full_track(albumartist="  ", artist="")) == ("Unknown Artist",)
    assert render("{track|disc:02}", full_track(track_no=None)) == ("02",)


def test_missing_values_render_empty() -> None:
    bare = TrackRecord(id=1, path="/music/noext")
    assert render("[{artist}] [{bpm}] [{key}] [{track:02}] [{ext}] [{year}]", bare) == ("[] [] [] [] [] []",)
    assert render("{year} {track}", full_track(year=0, track_no=0)) == (" ",)  # 0 means unknown in tags


def test_values_are_not_split_into_folders() -> None:
    assert render("{artist}/{title}", full_track(artist="AC/DC", title="a\\b")) == ("AC/DC", "a\\b")


def test_every_documented_field_is_known_and_listed() -> None:
    template = compile_template(" ".join(f"{{{name}}}" for name in FIELD_NAMES))
    assert template.fields == set(FIELD_NAMES)
    assert set(FIELD_NAMES) == {
        "artist", "title", "album", "albumartist", "genre", "year", "track", "disc", "bpm", "key", "camelot",
        "label", "ext",
    }  # fmt: skip


def test_bpm_formatting() -> None:
    assert [format_bpm(b) for b in (128.0, 127.5, 174.25, 99.999)] == ["128", "127.5", "174.25", "100"]


@pytest.mark.parametrize(
    ("template", "position", "words"),
    [
        ("", 0, "empty"),
        ("   ", 0, "empty"),
        ("{artist", 0, "never closed"),
        ("ab {title", 3, "never closed"),
        ("a}b", 1, "without '{'"),
        ("{art{ist}", 4, "inside a field"),
        ("{artst}", 1, "unknown field 'artst'"),
        ("x {title} {  nope }", 13, "unknown field 'nope'"),
        ("{artst|title}", 1, "unknown field"),
        ("{}", 1, "missing"),
        ("{artist|}", 8, "missing"),
        ("{track:zz}", 7, "cannot be used"),
        ("{title:.1f}", 7, "cannot be used for text"),
        ("{artist|Unknown:d}", 16, "cannot be used"),
        ("{track:0999}", 7, "more than"),
        ("{artist}/", 8, "file name must follow"),
        ("/{title}", 0, "starts with '/'"),
        ("{artist}//{title}", 9, "folder name is missing"),
        ("{artist}/ /{title}", 10, "folder name is missing"),
        ("../{title}", 0, "'..'"),
        ("{artist}/./{title}", 9, "'..'"),
        ("a:b", 1, "not allowed"),
        ("{title}?", 7, "not allowed"),
        ("{artist|Un:known}", 11, "cannot be used"),
        ("{artist|Un*known}", 10, "not allowed in a fallback"),
        ("a\x00b", 1, "not allowed"),
        (".{ext}", 0, "file name is missing"),
        ("{artist}/.{ext}", 9, "file name is missing"),
    ],
)
def test_errors_report_their_position(template: str, position: int, words: str) -> None:
    with pytest.raises(TemplateError) as caught:
        compile_template(template)
    assert caught.value.position == position, str(caught.value)
    assert words in str(caught.value)


def test_many_renders_are_fast() -> None:
    import time

    template = compile_template(
        "{albumartist|artist|Unknown}/{album}/{track:02} - {title} [{bpm:.0f} {camelot}]"
    )
    track = full_track()
    started = time.process_time()
    for _ in range(20_000):
        template.render(track)
    assert time.process_time() - started < 1.0  # 100,000 tracks in a few seconds with room to spare
