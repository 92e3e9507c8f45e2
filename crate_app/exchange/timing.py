"""MP3 timing: the decoders of DJ programs disagree on where an MP3 starts (EXCHANGE-FORMATS §8).

The exchange timeline is the one the reference's offsets are given against: time 0 is the start of
the first audio frame after the Xing/Info frame, with the encoder delay *not* trimmed (a click encoded
at 1.000 s is at 1.025 s).  rekordbox skips the Xing/Info frame the same way, so its offset is 0;
Traktor decodes the Xing frame as audio when there is no LAME tag or its CRC is invalid
(dj-data-converter's rule, DDC#3), one MPEG frame (1152 samples, 26.1 ms at 44.1 kHz) later.  The other
programs' conventions are not documented; their offset is 0.  These conventions come from the
reference, not from measuring the programs.

Crate's own decoder (PyAV/FFmpeg, measured in tests/unit/test_exchange_timing.py) trims the encoder
delay that a LAME tag states (the tag's delay + 529 decoder samples), valid CRC or not, and trims
nothing without a tag; ``offset_seconds`` adds that trim back, so a grid lands on the same beat.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass

_BITRATES_V1_L3 = (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320)
_BITRATES_V2_L3 = (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160)
_RATES = {3: (44100, 48000, 32000), 2: (22050, 24000, 16000), 0: (11025, 12000, 8000)}
_SCAN_BYTES = 1 << 16
_DECODER_DELAY = 529  # samples an MPEG layer III decoder adds (FFmpeg trims them with the stated delay)


@dataclass(frozen=True, slots=True)
class Mp3Facts:
    """What the first frame of an MP3 says about its start."""

    has_xing: bool  # a Xing or Info frame (no audio) comes first
    has_lame: bool  # that frame carries a LAME tag
    lame_crc_ok: bool
    encoder: str  # the LAME tag's encoder string, e.g. "LAME3.100" or "Lavc60.3"
    sample_rate: int
    samples_per_frame: int
    encoder_delay: int = 0  # samples the encoder put before the audio, as the LAME tag states

    @property
    def decoder_trim_seconds(self) -> float:
        """Seconds Crate's decoder (FFmpeg) removes at the start: the stated delay and 529 decoder samples."""
        return (self.encoder_delay + _DECODER_DELAY) / self.sample_rate if self.has_lame else 0.0

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
    delay = 0
    if has_lame and len(data) >= lame + 24:  # 12 bits of delay, then 12 of padding, at byte 21 of the tag
        delay = (data[lame + 21] << 4) | (data[lame + 22] >> 4)
    return Mp3Facts(True, has_lame, crc_ok, text, sample_rate, samples, delay)


TARGETS = ("rekordbox", "traktor", "serato", "engine", "m3u8")


def offset_seconds(target: str, facts: Mp3Facts | None) -> float:
    """Seconds to add to Crate's times of a file with these ``facts`` for ``target``'s timeline."""
    if facts is None:
        return 0.0
    offset = facts.decoder_trim_seconds
    if target == "traktor" and facts.has_xing and not (facts.has_lame and facts.lame_crc_ok):
        offset += facts.frame_seconds
    return offset
