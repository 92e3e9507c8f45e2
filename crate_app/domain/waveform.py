"""The stored overview waveform's byte layout, readable without numpy (the window draws from it).

``b"W"``, version (1), band count (3), column count (u16 LE), seconds covered (f32 LE), then for each
column and band (low, mid, high) the peak and RMS level as bytes ``round(255 * sqrt(level))``.
``crate_app.analysis.waveform`` computes and writes it.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

HEADER = struct.Struct("<cBBHf")
VERSION = 1
BAND_COUNT = 3


@dataclass(frozen=True, slots=True)
class StoredWaveform:
    """An overview as stored: ``levels[(column * 3 + band) * 2]`` is the peak byte, ``+ 1`` the RMS."""

    columns: int
    seconds: float
    levels: bytes

    def peak(self, column: int, band: int) -> int:
        return self.levels[(column * BAND_COUNT + band) * 2]

    def rms(self, column: int, band: int) -> int:
        return self.levels[(column * BAND_COUNT + band) * 2 + 1]


def pack_waveform(columns: int, seconds: float, levels: bytes) -> bytes:
    """The stored bytes for ``columns`` columns of interleaved (peak, RMS) bytes per band."""
    if len(levels) != columns * BAND_COUNT * 2:
        raise ValueError(f"{columns} columns need {columns * BAND_COUNT * 2} level bytes, not {len(levels)}")
    return HEADER.pack(b"W", VERSION, BAND_COUNT, columns, float(seconds)) + levels


def parse_waveform(data: bytes) -> StoredWaveform:
    """Read stored bytes; ValueError for bytes that are not an overview (or a newer version of one)."""
    if len(data) < HEADER.size:
        raise ValueError("waveform data too short")
    magic, version, bands, columns, seconds = HEADER.unpack_from(data)
    if magic != b"W" or version != VERSION or bands != BAND_COUNT:
        raise ValueError("not a waveform overview (or a newer version of one)")
    levels = bytes(data[HEADER.size :])
    if len(levels) != columns * BAND_COUNT * 2:
        raise ValueError("waveform data has the wrong length")
    return StoredWaveform(columns, float(seconds), levels)
