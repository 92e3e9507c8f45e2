"""MP3 timing: the decoders of DJ programs disagree on where an MP3 starts (EXCHANGE-FORMATS §8).

Crate's convention, measured (tests/unit/test_exchange_timing.py, PyAV/FFmpeg): time 0 is the start of
the first audio frame after the Xing/Info frame, and the encoder delay is *not* trimmed, whether the
file has a LAME tag or not (FFmpeg drops the delay samples but reports the first sample at the delay's
time, and analysis adds that start time).  A click encoded at 1.000 s lands at 1.025 s in both kinds.

rekordbox skips the Xing/Info frame the same way, so its offset is 0.  Traktor decodes the Xing frame
as audio when there is no LAME tag or its CRC is invalid (dj-data-converter's rule, DDC#3), one MPEG
frame (1152 samples, 26.1 ms at 44.1 kHz) later than Crate.  The other programs' conventions are not
documented; their offset is 0.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass

_BITRATES_V1_L3 = (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320)
_BITRATES_V2_L3 = (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160)
_RATES = {3: (44100, 48000, 32000), 2: (22050, 24000, 16000), 0: (11025, 12000, 8000)}
_SCAN_BYTES = 1 << 16


@dataclass(frozen=True, slots=True)
class Mp3Facts:
    """What the first frame of an MP3 says about its start."""

    has_xing: bool  # a Xing or Info frame (no audio) comes first
    has_lame: bool  # that frame carries a LAME tag
    lame_crc_ok: bool
    encoder: str  # the LAME tag's encoder string, e.g. "LAME3.100" or "Lavc60.3"
    sample_rate: int
    samples_per_frame: int

    @property
    def frame_seconds(self) -> float:
        return self.samples_per_frame / self.sample_rate


def crc16(data: bytes) -> int:
    """CRC-16/ARC, the checksum of the LAME tag."""
    crc = 0
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


def mp3_facts(path: str | os.PathLike[str]) -> Mp3Facts | None:
    """Read the first MPEG frame of an MP3; None when the file is unreadable or no frame is found."""
    try:
        with open(path, "rb") as stream:
            head = stream.read(10)
            offset = 0
            if len(head) == 10 and head[:3] == b"ID3":
                size = (head[6] << 21) | (head[7] << 14) | (head[8] << 7) | head[9]
                offset = 10 + size + (10 if head[5] & 0x10 else 0)
            stream.seek(offset)
            data = stream.read(_SCAN_BYTES)
    except OSError:
        return None
    return facts_from_bytes(data)


def facts_from_bytes(data: bytes) -> Mp3Facts | None:
    """Mp3Facts from the bytes where the audio starts (after any ID3v2 tag)."""
    i = 0
    while True:
        i = data.find(b"\xff", i)
        if i < 0 or i + 4 > len(data):
            return None
        b1, b2, b3 = data[i + 1], data[i + 2], data[i + 3]
        version = (b1 >> 3) & 3
        layer = (b1 >> 1) & 3
        bitrate_index, rate_index = b2 >> 4, (b2 >> 2) & 3
        if (b1 & 0xE0) == 0xE0 and version != 1 and layer == 1 and 0 < bitrate_index < 15 and rate_index < 3:
            break
        i += 1
    sample_rate = _RATES[version][rate_index]
    mono = (b3 >> 6) == 3
    mpeg1 = version == 3
    samples = 1152 if mpeg1 else 576
    side = (17 if mono else 32) if mpeg1 else (9 if mono else 17)
    xing = i + 4 + side
    frame = data[i:]
    tag = data[xing : xing + 4]
    if tag not in (b"Xing", b"Info"):
        return Mp3Facts(False, False, False, "", sample_rate, samples)
    (flags,) = struct.unpack(">I", data[xing + 4 : xing + 8])
    lame = xing + 8 + (4 if flags & 1 else 0) + (4 if flags & 2 else 0) + (100 if flags & 4 else 0)
    lame += 4 if flags & 8 else 0
    encoder = data[lame : lame + 9]
    has_lame = len(encoder) == 9 and encoder[:4].isalpha() and encoder != b"\x00" * 9
    crc_ok = False
    if has_lame and len(data) >= lame + 36:
        stored = struct.unpack(">H", data[lame + 34 : lame + 36])[0]
        crc_ok = crc16(frame[: lame + 34 - i]) == stored
    text = encoder.rstrip(b"\x00 ").decode("latin-1") if has_lame else ""
    return Mp3Facts(True, has_lame, crc_ok, text, sample_rate, samples)


TARGETS = ("rekordbox", "traktor", "serato", "engine", "m3u8")


def offset_seconds(target: str, facts: Mp3Facts | None) -> float:
    """Seconds to add to Crate's times of a file with these ``facts`` for ``target``'s timeline."""
    if facts is None or target != "traktor":
        return 0.0
    if facts.has_xing and not (facts.has_lame and facts.lame_crc_ok):
        return facts.frame_seconds
    return 0.0
