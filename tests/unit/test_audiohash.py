"""The audio hash ignores tags: a re-tagged copy hashes the same, other audio does not (real files)."""

from __future__ import annotations

import shutil
from pathlib import Path

import mutagen
import pytest
from audiofactory import tone, write_audio
from mutagen.apev2 import APEv2
from mutagen.id3 import ID3, TIT2, TPE1
from mutagen.wave import WAVE

from crate_app.library.audiohash import AudioHashError, audio_hash

LONG = "A much longer title, so the tag grows past any padding " * 40


def _retag(path: Path) -> None:
    if path.suffix == ".wav":
        wave = WAVE(path)
        if wave.tags is None:
            wave.add_tags()
        wave.tags.add(TIT2(encoding=3, text=LONG))
        wave.save()
        return
    if path.suffix == ".mp3":
        tags = ID3(path)
        tags.add(TIT2(encoding=3, text=LONG))
        tags.add(TPE1(encoding=3, text="Somebody Else"))
        tags.save(path, v1=2)  # and an ID3v1 tag at the end
        ape = APEv2()
        ape["Title"] = "ape title"
        ape.save(path)  # and an APEv2 tag before it
        return
    audio = mutagen.File(path, easy=True)
    audio["title"] = [LONG]
    audio["artist"] = ["Somebody Else"]
    audio.save()


@pytest.mark.parametrize("fmt", ["mp3", "flac", "m4a", "ogg", "wav", "opus"])
def test_retagged_copy_hashes_the_same_and_other_audio_differs(tmp_path: Path, fmt: str) -> None:
    rate = 48000 if fmt == "opus" else 44100
    original = tmp_path / f"a.{fmt}"
    write_audio(original, {"artist": "A", "title": "T"}, seconds=2, rate=rate)
    retagged = tmp_path / f"b.{fmt}"
    shutil.copy(original, retagged)
    _retag(retagged)
    assert retagged.read_bytes() != original.read_bytes()
    other = tmp_path / f"c.{fmt}"
    write_audio(other, {"artist": "A", "title": "T"}, seconds=2, rate=rate, samples=tone(2, rate, freq=330))
    assert audio_hash(str(original)) == audio_hash(str(retagged))
    assert audio_hash(str(original)) != audio_hash(str(other))
    assert audio_hash(str(original)).startswith("p:")  # payload bytes, no decoding


def test_unreadable_files_raise_a_reason(tmp_path: Path) -> None:
    junk = tmp_path / "junk.mp3"
    junk.write_bytes(b"this is not audio" * 100)
    with pytest.raises(AudioHashError, match="decoded"):
        audio_hash(str(junk))
    with pytest.raises(AudioHashError, match="cannot read"):
        audio_hash(str(tmp_path / "gone.flac"))
    truncated = tmp_path / "cut.flac"
    truncated.write_bytes(b"fLaC\x00\x00\x00\x22" + b"\x00" * 10)
    with pytest.raises(AudioHashError, match="damaged"):
        audio_hash(str(truncated))
