"""MP3 timing: which convention Crate's decoder uses, the LAME/Xing facts, and the per-target offsets."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from audiofactory import encode

from crate_app.analysis.decode import decode_excerpt
from crate_app.exchange import rekordbox_xml, traktor_nml
from crate_app.exchange.library_source import LibrarySource
from crate_app.exchange.model import ListSource
from crate_app.exchange.paths import PathMapper
from crate_app.exchange.timing import crc16, mp3_facts, offset_seconds

RATE = 44100


def _first_frame(data: bytes) -> tuple[int, int]:
    """(offset, length) of the first MPEG frame after the ID3v2 tag (the Info frame here)."""
    start = 10 + ((data[6] << 21) | (data[7] << 14) | (data[8] << 7) | data[9]) if data[:3] == b"ID3" else 0
    while not (data[start] == 0xFF and data[start + 1] & 0xE0 == 0xE0):
        start += 1
    bitrate = (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320)[data[start + 2] >> 4]
    return start, 144 * bitrate * 1000 // RATE + ((data[start + 2] >> 1) & 1)


@pytest.fixture(scope="module")
def clicks(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The same click at 1.000 s, encoded by libmp3lame: with its LAME tag, with the tag's CRC broken,
    and without the Info frame at all."""
    folder = tmp_path_factory.mktemp("mp3timing")
    audio = np.zeros((2, RATE * 3), np.float32)
    audio[:, RATE : RATE + 200] = 0.9
    data = encode(audio, RATE, "mp3")
    start, length = _first_frame(data)
    broken = bytearray(data)
    broken[start + 190] ^= 0xFF  # the LAME tag's CRC (MPEG-1 stereo: bytes 190-191 of the frame)
    files = {"lame": data, "bad_crc": bytes(broken), "no_tag": data[:start] + data[start + length :]}
    paths = {}
    for name, content in files.items():
        paths[name] = folder / f"{name}.mp3"
        paths[name].write_bytes(content)
    return paths


def _click_time(path: Path) -> float:
    audio = decode_excerpt(path, RATE, 0.0)
    return audio.start + int(np.argmax(np.abs(audio.samples) > 0.3)) / RATE


def test_crate_decoder_convention(clicks: dict[str, Path]) -> None:
    """Measured: Crate's decoder skips the Info frame and trims the encoder delay a LAME tag states (valid
    CRC or not), and trims nothing without the tag; adding back what it trimmed puts a click encoded at
    1.000 s at 1.000 s + 1105 samples (encoder 576 + decoder 529), the exchange timeline, in all three."""
    delay = (576 + 529) / RATE
    assert _click_time(clicks["lame"]) == pytest.approx(1.0, abs=0.5 / 1000)
    assert _click_time(clicks["no_tag"]) == pytest.approx(1.0 + delay, abs=0.5 / 1000)
    for path in clicks.values():
        trimmed = mp3_facts(path).decoder_trim_seconds
        assert _click_time(path) + trimmed == pytest.approx(1.0 + delay, abs=0.5 / 1000)


def test_lame_facts(clicks: dict[str, Path]) -> None:
    lame, bad, none = (mp3_facts(clicks[n]) for n in ("lame", "bad_crc", "no_tag"))
    assert (lame.has_xing, lame.has_lame, lame.lame_crc_ok) == (True, True, True)
    assert lame.encoder_delay == 576 and none.encoder_delay == 0
    assert lame.encoder.startswith("Lavf") and lame.sample_rate == RATE
    assert (bad.has_xing, bad.has_lame, bad.lame_crc_ok) == (True, True, False)
    assert (none.has_xing, none.has_lame) == (False, False)
    assert crc16(b"123456789") == 0xBB3D  # CRC-16/ARC check value


def test_offsets_per_target(clicks: dict[str, Path]) -> None:
    frame = 1152 / RATE
    trim = (576 + 529) / RATE
    facts = {n: mp3_facts(p) for n, p in clicks.items()}
    assert offset_seconds("traktor", facts["lame"]) == pytest.approx(trim)
    assert offset_seconds("traktor", facts["bad_crc"]) == pytest.approx(trim + frame)
    assert offset_seconds("traktor", facts["no_tag"]) == 0.0
    assert offset_seconds("rekordbox", facts["lame"]) == pytest.approx(trim)
    assert offset_seconds("rekordbox", facts["bad_crc"]) == pytest.approx(trim)
    assert offset_seconds("rekordbox", facts["no_tag"]) == 0.0


def test_offsets_reach_the_exported_grid(tmp_path: Path, clicks: dict[str, Path]) -> None:
    from crate_app.domain.track import ScannedFile, TagInfo
    from crate_app.store.library import open_library
    from crate_app.store.writer import upsert_scanned

    lib = open_library(tmp_path / "lib.crate")
    items = [
        ScannedFile(str(p), p.stat().st_size, 0.0, TagInfo(format="mp3", bpm=120.0)) for p in clicks.values()
    ]
    upsert_scanned(lib, items)
    lib.execute("UPDATE tracks SET first_beat = 1.0251")
    trim = (576 + 529) / RATE  # what Crate's decoder trimmed from the two files with a LAME tag
    for target, writer in (("rekordbox", rekordbox_xml), ("traktor", traktor_nml)):
        tracks = {Path(t.path).stem: t for t in LibrarySource(lib, target).iter_tracks()}
        shift = 1152 / RATE if target == "traktor" else 0.0
        assert tracks["bad_crc"].time_offset == pytest.approx(trim + shift)
        assert tracks["lame"].time_offset == pytest.approx(trim) and tracks["no_tag"].time_offset == 0.0
        writer.write(tmp_path / f"out.{target}", ListSource(list(tracks.values())), PathMapper())
    nml = (tmp_path / "out.traktor").read_text("utf-8")
    # moved back by whole beats (0.5 s at 120 BPM) to the first beat at or after 0 s
    assert f'START="{(1.0251 + trim + 1152 / RATE - 1.0) * 1000:.6f}"' in nml  # bad CRC
    assert f'START="{(1.0251 + trim - 1.0) * 1000:.6f}"' in nml  # a valid LAME tag
    assert nml.count('START="25.100000"') == 1  # no tag: nothing trimmed, nothing added
    lib.close()
