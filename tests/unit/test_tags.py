"""Tag reading on real files: the shared test data (tinytag, mediafile) and files we tag ourselves."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import mutagen
import pytest
from audiofactory import write_audio
from mutagen.apev2 import APEv2
from mutagen.asf import ASF
from mutagen.id3 import ID3, TXXX

from crate_app.domain.keys import parse_key
from crate_app.library import tags as tags_module
from crate_app.library.tags import (
    TagReadError,
    clean_text,
    parse_bpm,
    parse_number,
    parse_year,
    read_tags,
    scan_file,
)

MEDIAFILE_FULL = (
    "aiff",
    "alac.m4a",
    "ape",
    "dsf",
    "flac",
    "m4a",
    "mp3",
    "mpc",
    "ogg",
    "opus",
    "wav",
    "wma",
    "wv",
)
# full.* files whose tags hold only the basic fields (beets writes fewer frames into WAV).
BASIC_ONLY = {"wav"}


def code(text: str) -> int:
    key = parse_key(text)
    assert key is not None
    return key.code


@pytest.mark.parametrize("suffix", MEDIAFILE_FULL)
def test_mediafile_full_files_give_the_expected_tags(testdata: Path, suffix: str) -> None:
    info = read_tags(testdata / "tags" / "mediafile" / f"full.{suffix}")
    assert (info.title, info.artist, info.album, info.genre) == (
        "full",
        "the artist",
        "the album",
        "the genre",
    )
    assert info.track_no == 2
    assert info.year == 2001
    assert info.duration is not None and 0 < info.duration < 2
    assert info.sample_rate and info.channels
    if suffix not in BASIC_ONLY:
        assert info.disc_no == 4
        assert info.bpm == 6.0
        assert info.label == "the label"
        assert info.comment == "the comments"


def test_formats_and_codecs_come_from_the_content(testdata: Path) -> None:
    folder = testdata / "tags" / "mediafile"
    found = {
        suffix: read_tags(folder / f"full.{suffix}") for suffix in ("alac.m4a", "m4a", "opus", "wv", "wma")
    }
    assert (found["alac.m4a"].format, found["alac.m4a"].codec) == ("m4a", "alac")
    assert (found["m4a"].format, found["m4a"].codec) == ("m4a", "aac")
    assert found["opus"].sample_rate == 48000
    assert found["wv"].format == "wv" and found["wv"].bitrate  # bitrate derived from size when absent
    assert found["wma"].format == "wma"


def _tinytag_expectations(testdata: Path) -> dict[str, dict]:
    return json.loads((testdata / "tags" / "tinytag" / "EXPECTED_tinytag_TEST_FILES.json").read_text())


# Durations the two readers measure differently, on purpose (tiny truncated samples are skipped too).
DURATION_DISAGREES = {
    "id3_frames.mp3",  # tinytag believes the TLEN frame (4.5 s); mutagen measures the audio (3.4 s)
    "mp3_audio.wav",  # MP3 inside WAV without a usable byte rate: mutagen cannot time it
}


# Tags tinytag finds where mutagen does not look (XMP, a damaged ID3 chunk, Speex 'author'), and a FLAC
# with a stray ID3 tag in front whose Vorbis comments (which we read, as FLAC players do) say otherwise.
TAGS_READ_DIFFERENTLY = {
    "xmp_data.aiff", "id3_header_with_a_zero_byte.wav", "no_bitrate.spx", "with_padded_id3_header2.flac",
}  # fmt: skip


def _values(text: str | None) -> list[str]:
    """Our multi-valued tags are joined with '; '; tinytag keeps one of the values."""
    return text.split("; ") if text else []


def test_tinytag_samples_match_expected_values_where_mutagen_reads_them(testdata: Path) -> None:
    folder = testdata / "tags" / "tinytag"
    compared = dict.fromkeys(
        ("title", "artist", "album", "genre", "year", "track", "duration", "samplerate"), 0
    )
    readable = 0
    for name, expected in _tinytag_expectations(testdata).items():
        try:
            info = read_tags(folder / name)
        except TagReadError:
            continue
        readable += 1
        if name in TAGS_READ_DIFFERENTLY:
            continue
        for field, ours in (("title", info.title), ("artist", info.artist), ("album", info.album),
                            ("genre", info.genre)):  # fmt: skip
            if expected.get(field) and "\x00" not in expected[field]:
                assert expected[field].strip() in _values(ours), (name, field, ours)
                compared[field] += 1
        if expected.get("year") and expected["year"][:4].isdigit():
            assert info.year == int(expected["year"][:4]), name
            compared["year"] += 1
        if isinstance(expected.get("track"), int) and expected["track"] > 0:
            assert info.track_no == expected["track"], name
            compared["track"] += 1
        if expected.get("duration", 0) >= 1.0 and name not in DURATION_DISAGREES:
            assert info.duration == pytest.approx(expected["duration"], rel=0.05), name
            compared["duration"] += 1
        if expected.get("samplerate") and not name.endswith(".opus"):
            assert info.sample_rate == expected["samplerate"], name
            compared["samplerate"] += 1
    assert readable >= 150, readable
    # Meaningful only if many files had each field (tags mutagen leaves out, like XMP, are not compared).
    assert all(count >= 15 for count in compared.values()), compared


def test_riff_info_tags_and_compressed_wav_duration(testdata: Path) -> None:
    folder = testdata / "tags" / "tinytag"
    riff = read_tags(folder / "riff_extra_zero.wav")
    assert (riff.title, riff.artist, riff.album, riff.year, riff.track_no) == (
        "Mission Bass", "B.O.S.E.", "808 Bass Express", 1996, 3,
    )  # fmt: skip
    adpcm = read_tags(folder / "adpcm.wav")
    assert adpcm.codec == "adpcm" and adpcm.duration == pytest.approx(12.08, rel=0.01)


def test_every_sample_file_reads_or_fails_with_a_plain_reason(testdata: Path) -> None:
    reasons: dict[str, str] = {}
    for folder in ("tinytag", "mediafile"):
        for path in sorted((testdata / "tags" / folder).iterdir()):
            if path.suffix in (".json", ".toml"):
                continue
            try:
                read_tags(path)
            except TagReadError as exc:
                reasons[path.name] = exc.reason
    assert len(reasons) >= 50, "the malformed samples should not all read as audio"
    for name, reason in reasons.items():
        assert reason and "\n" not in reason and len(reason) < 90, (name, reason)
        assert "Error" not in reason and "Traceback" not in reason, (name, reason)
    assert reasons["empty_file.mp3"] == "the file is empty (0 bytes)"
    assert reasons["invalid_file_larger.mp3"].startswith("not a valid MP3 file")
    assert reasons["invalid_file.flac"].startswith("not a valid FLAC file")
    assert reasons["mp4_invalid_size_zero.m4a"].startswith("not a valid MP4/M4A file")
    assert reasons["multi_stream.ogv"].startswith("no audio stream found")
    assert reasons["zero_value_properties.wav"] == "no audio stream found"
    assert reasons["there_is_no_such_ext.bogus"] == "not an audio format Crate can read"


def test_os_errors_become_plain_reasons(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(TagReadError, match="vanished"):
        read_tags(tmp_path / "nothing.mp3")
    with pytest.raises(TagReadError, match="folder, not a file"):
        read_tags(tmp_path)

    # chmod cannot block root, so the refusal is simulated where the module opens files.
    def refuse(*args: object, **kwargs: object) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(tags_module, "open", refuse, raising=False)
    with pytest.raises(TagReadError) as caught:
        read_tags(tmp_path / "x.mp3")
    assert caught.value.reason == "permission denied"
    assert scan_file(str(tmp_path / "x.mp3"), 10, 1.0).error == "permission denied"


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their permissions")
def test_unreadable_file_really_on_disk(tmp_path: Path) -> None:
    path = write_audio(tmp_path / "locked.mp3", {"title": "x"})
    path.chmod(0)
    try:
        with pytest.raises(TagReadError, match="permission denied"):
            read_tags(path)
    finally:
        path.chmod(0o644)


@pytest.mark.parametrize("fmt", ["mp3", "flac", "m4a", "ogg", "wav"])
def test_dj_tags_written_per_format_are_read_back(tmp_path: Path, fmt: str) -> None:
    path = write_audio(
        tmp_path / f"t.{fmt}",
        {"title": "Strings of Life", "artist": "Rhythim Is Rhythim", "album": "Innovator", "genre": "Techno",
         "year": "1987-05-01", "track": "2/3", "disc": "1/2", "bpm": "128.00", "key": "Am",
         "label": "Transmat", "comment": "classic"},
    )  # fmt: skip
    info = read_tags(path)
    assert info.format == fmt
    assert (info.title, info.artist, info.album, info.genre) == (
        "Strings of Life", "Rhythim Is Rhythim", "Innovator", "Techno",
    )  # fmt: skip
    assert (info.year, info.track_no, info.disc_no) == (1987, 2, 1)
    assert info.bpm == 128.0
    assert info.key == code("8A")
    assert info.label == "Transmat" and info.comment == "classic"


def test_key_variants_other_apps_write(tmp_path: Path) -> None:
    # Vorbis KEY instead of INITIALKEY, with an Open Key value.
    flac = write_audio(tmp_path / "a.flac", {"title": "a"})
    audio = mutagen.File(flac)
    audio["KEY"] = "1m"
    audio["BPM"] = "127,5"
    audio.save()
    info = read_tags(flac)
    assert info.key == code("8A") and info.bpm == 127.5
    # ID3 TXXX:INITIALKEY when there is no TKEY.
    mp3 = write_audio(tmp_path / "a.mp3", {"title": "a"})
    id3 = ID3(mp3)
    id3.add(TXXX(encoding=3, desc="INITIALKEY", text=["F#m"]))
    id3.save(mp3)
    assert read_tags(mp3).key == code("F#m")


def test_apev2_and_wma_bpm_and_key(testdata: Path, tmp_path: Path) -> None:
    ape = tmp_path / "full.ape"
    shutil.copy(testdata / "tags" / "mediafile" / "full.ape", ape)
    tags = APEv2(ape)
    tags["BPM"] = "174.00"
    tags["INITIALKEY"] = "Ebm"
    tags.save(ape)
    info = read_tags(ape)
    assert info.bpm == 174.0 and info.key == code("Ebm")

    wma = tmp_path / "full.wma"
    shutil.copy(testdata / "tags" / "mediafile" / "full.wma", wma)
    audio = ASF(wma)
    audio["WM/BeatsPerMinute"] = "122"
    audio["WM/InitialKey"] = "10B"
    audio.save()
    info = read_tags(wma)
    assert info.bpm == 122.0 and info.key == code("10B")


def test_mp4_tempo_atom_and_freeform_key(tmp_path: Path) -> None:
    path = write_audio(tmp_path / "t.m4a", {"bpm": "140", "key": "4d"})
    info = read_tags(path)
    assert info.bpm == 140.0 and info.key == code("4d")


@pytest.mark.parametrize(
    ("text", "expected"),
    [("128", 128.0), ("128.00", 128.0), (" 6 ", 6.0), ("127,5", 127.5), ("125.456", 125.46), ("0", None),
     ("99999", None), ("-120", None), ("nan", None), ("inf", None), ("fast", None), ("", None),
     ("128\x00", 128.0)],
)  # fmt: skip
def test_parse_bpm(text: str, expected: float | None) -> None:
    assert parse_bpm([text]) == expected


def test_parse_bpm_takes_the_first_usable_value() -> None:
    assert parse_bpm(["", "junk", "124"]) == 124.0
    assert parse_bpm(None) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [("1999", 1999), ("1999-05-01", 1999), ("05/01/1999", 1999), ("2001-00-00T12:00", 2001), ("99", None),
     ("", None), (None, None), ("0000", None), ("12345", None)],
)  # fmt: skip
def test_parse_year(text: str | None, expected: int | None) -> None:
    assert parse_year(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [("2", 2), ("02", 2), ("2/3", 2), (" 7 / 12", 7), ("0", None), ("x", None), ("", None), (None, None)],
)
def test_parse_number(text: str | None, expected: int | None) -> None:
    assert parse_number(text) == expected


def test_clean_text() -> None:
    assert clean_text(["  Daft Punk\x00"]) == "Daft Punk"
    assert clean_text(["A", "B", "A"]) == "A; B"
    assert clean_text(["", "  "]) is None
    assert clean_text(None) is None
    assert clean_text(["caf\udce9"]) == "caf?"  # a lone surrogate never reaches SQLite
    assert clean_text("Björk") == "Björk"


def test_odd_encodings_never_raise(testdata: Path) -> None:
    folder = testdata / "tags" / "tinytag"
    names = ("chinese_id3.mp3", "id3v1-latin1.mp3", "utf16be.mp3", "UTF16.mp3", "utf16_no_bom.mp3",
             "id3_comment_utf_16_double_bom.mp3", "corrupt_metadata.ogg",
             "non_ascii_filename_äää.mp3")  # fmt: skip
    for name in names:
        result = scan_file(str(folder / name), (folder / name).stat().st_size, 0.0)
        assert (result.tags is None) != (result.error is None), name
        if result.tags is not None:
            for field in ("title", "artist", "album", "comment"):
                value = getattr(result.tags, field)
                assert value is None or value.encode("utf-8"), (name, field)
