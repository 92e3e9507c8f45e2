"""BPM/key write-back: every tag system round-trips, and a failed write leaves the file untouched."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import av
import mutagen
import numpy as np
import pytest
from audiofactory import tone, write_audio

from crate_app.domain.keys import Key, KeyNotation
from crate_app.library import tag_writer
from crate_app.library.tag_writer import TagWriteError, format_bpm_text, write_bpm_key

A_MINOR = Key(9, minor=True).code
F_SHARP_MAJOR = Key(6, minor=False).code


def _write_aiff(path: Path) -> Path:
    with av.open(str(path), mode="w", format="aiff") as container:
        stream = container.add_stream("pcm_s16be", rate=44100)
        stream.layout = "mono"
        samples = tone(1.0, 44100, channels=1)
        frame = av.AudioFrame.from_ndarray(samples, format="fltp", layout="mono")
        frame.sample_rate = 44100
        for packet in stream.encode(frame):
            container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return path


def _read_bpm_key(path: Path) -> tuple[object, str | None]:
    audio = mutagen.File(path)
    tags = audio.tags
    if hasattr(tags, "getall"):  # ID3
        return tags.getall("TBPM")[0].text[0], tags.getall("TKEY")[0].text[0]
    if "tmpo" in tags:  # MP4
        return tags["tmpo"][0], bytes(tags["----:com.apple.iTunes:initialkey"][0]).decode()
    value = tags["BPM"]
    key = tags["INITIALKEY"]
    if isinstance(value, list):  # Vorbis comments
        return value[0], key[0]
    return str(value), str(key)  # APEv2


@pytest.mark.parametrize("fmt", ["mp3", "flac", "m4a", "ogg", "opus", "wav", "aiff"])
def test_round_trip_on_generated_files(tmp_path: Path, fmt: str) -> None:
    path = tmp_path / f"track.{fmt}"
    if fmt == "aiff":
        _write_aiff(path)
    elif fmt == "opus":
        write_audio(path, {"title": "t"}, rate=48000)
    else:
        write_audio(path, {"title": "keep me", "bpm": 99, "key": "Dm"})
    before = mutagen.File(path).info

    write_bpm_key(path, 123.456, A_MINOR, KeyNotation.CAMELOT)

    bpm, key = _read_bpm_key(path)
    assert bpm == (123 if fmt == "m4a" else "123.46")
    assert key == "8A"
    after = mutagen.File(path).info
    assert after.length == pytest.approx(before.length)
    assert getattr(after, "sample_rate", None) == getattr(before, "sample_rate", None)
    assert after.channels == before.channels
    assert not [p for p in tmp_path.iterdir() if p.name != path.name]  # no temporary copy left behind
    # Other tags survive and the audio still decodes.
    if fmt not in ("aiff", "opus"):
        tags = mutagen.File(path).tags
        if hasattr(tags, "getall"):
            title = tags.getall("TIT2")[0].text
        else:
            title = tags["\xa9nam"] if fmt == "m4a" else tags["TITLE"]
        assert title == ["keep me"]
    with av.open(str(path)) as container:
        assert sum(frame.samples for frame in container.decode(audio=0)) > 0


@pytest.mark.parametrize(
    ("notation", "expected"),
    [(KeyNotation.CAMELOT, "2B"), (KeyNotation.OPEN_KEY, "7d"), (KeyNotation.MUSICAL, "F#")],
)
def test_key_follows_the_chosen_notation(tmp_path: Path, notation: KeyNotation, expected: str) -> None:
    path = write_audio(tmp_path / "a.flac")
    write_bpm_key(path, 128.0, F_SHARP_MAJOR, notation)
    assert _read_bpm_key(path) == ("128", expected)


@pytest.mark.parametrize(
    "name", ["full.ape", "full.wv", "full.mpc", "full.aiff", "full.wav", "full.alac.m4a"]
)
def test_round_trip_on_third_party_files(testdata: Path, tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    shutil.copyfile(testdata / "tags" / "mediafile" / name, path)
    write_bpm_key(path, 174.0, A_MINOR, KeyNotation.MUSICAL)
    bpm, key = _read_bpm_key(path)
    assert bpm in ("174", 174)
    assert key == "Am"
    assert mutagen.File(path, easy=True) is not None


def test_none_leaves_that_tag_alone(tmp_path: Path) -> None:
    path = write_audio(tmp_path / "a.mp3", {"bpm": "100", "key": "Dm"})
    write_bpm_key(path, None, A_MINOR, KeyNotation.MUSICAL)
    assert _read_bpm_key(path) == ("100", "Am")
    write_bpm_key(path, 101.5, None)
    assert _read_bpm_key(path) == ("101.5", "Am")


def test_symlink_is_followed_not_replaced(tmp_path: Path) -> None:
    real = write_audio(tmp_path / "real.ogg")
    link = tmp_path / "link.ogg"
    link.symlink_to(real)
    write_bpm_key(link, 90.0, A_MINOR)
    assert link.is_symlink()
    assert _read_bpm_key(real) == ("90", "8A")


def test_failed_verification_leaves_original_byte_identical(tmp_path: Path, monkeypatch) -> None:
    path = write_audio(tmp_path / "a.mp3", {"title": "x", "bpm": "100"})
    original = path.read_bytes()

    def wrong_read_back(*args, **kwargs):
        raise TagWriteError("BPM read back as '1', not '2'; file left unchanged")

    monkeypatch.setattr(tag_writer, "_verify", wrong_read_back)
    with pytest.raises(TagWriteError, match="left unchanged"):
        write_bpm_key(path, 128.0, A_MINOR)
    assert path.read_bytes() == original
    assert [p.name for p in tmp_path.iterdir()] == ["a.mp3"]


def test_failed_save_leaves_original_byte_identical(tmp_path: Path, monkeypatch) -> None:
    path = write_audio(tmp_path / "a.flac", {"title": "x"})
    original = path.read_bytes()

    def broken_save(self, *args, **kwargs):
        # Damage the temporary copy the way a crash half-way through a save would.
        with open(self.filename, "r+b") as handle:
            handle.truncate(100)
        raise OSError("disk full")

    monkeypatch.setattr(mutagen.flac.FLAC, "save", broken_save)
    with pytest.raises(TagWriteError, match="disk full"):
        write_bpm_key(path, 128.0, A_MINOR)
    assert path.read_bytes() == original
    assert [p.name for p in tmp_path.iterdir()] == ["a.flac"]


def test_changed_stream_properties_are_refused(tmp_path: Path, monkeypatch) -> None:
    path = write_audio(tmp_path / "a.ogg")
    original = path.read_bytes()
    real_info = tag_writer._stream_info
    calls = []

    def drifting_info(audio):
        calls.append(audio)
        info = real_info(audio)
        return info if len(calls) == 1 else dataclasses.replace(info, length=info.length + 1)

    monkeypatch.setattr(tag_writer, "_stream_info", drifting_info)
    with pytest.raises(TagWriteError, match="audio stream"):
        write_bpm_key(path, 128.0, A_MINOR)
    assert path.read_bytes() == original


@pytest.mark.parametrize("content", [b"", b"this is not audio at all\n" * 10])
def test_not_audio_raises_and_keeps_file(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "song.mp3"
    path.write_bytes(content)
    with pytest.raises(TagWriteError):
        write_bpm_key(path, 120.0, A_MINOR)
    assert path.read_bytes() == content
    assert [p.name for p in tmp_path.iterdir()] == ["song.mp3"]


def test_unsupported_format_and_missing_file(testdata: Path, tmp_path: Path) -> None:
    path = tmp_path / "a.wma"
    shutil.copyfile(testdata / "tags" / "mediafile" / "full.wma", path)
    original = path.read_bytes()
    with pytest.raises(TagWriteError, match="ASF"):
        write_bpm_key(path, 120.0, A_MINOR)
    assert path.read_bytes() == original
    with pytest.raises(TagWriteError, match="not found"):
        write_bpm_key(tmp_path / "missing.mp3", 120.0, A_MINOR)


@pytest.mark.parametrize("bpm", [0.0, -5.0, float("nan"), float("inf"), 5000.0])
def test_invalid_bpm(tmp_path: Path, bpm: float) -> None:
    with pytest.raises(ValueError):
        write_bpm_key(tmp_path / "x.mp3", bpm, None)


def test_bpm_text() -> None:
    assert [format_bpm_text(b) for b in (124.0, 123.45, 123.4, 99.999)] == ["124", "123.45", "123.4", "100"]


def test_generated_audio_is_real(tmp_path: Path) -> None:
    # Guards the fixtures above: a 1 s stereo tone really is audio with a non-zero signal.
    path = write_audio(tmp_path / "a.wav")
    with av.open(str(path)) as container:
        data = np.concatenate([f.to_ndarray().reshape(-1) for f in container.decode(audio=0)])
    assert np.abs(data).max() > 0.05
