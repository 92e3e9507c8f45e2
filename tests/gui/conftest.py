"""Fixtures for the window tests: real library files with generated tracks, a private settings file."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from crate_app.domain.track import ScannedFile, TagInfo
from crate_app.gui.settings import open_settings
from crate_app.store import writer
from crate_app.store.library import Library, open_library

ARTISTS = ["Daft Punk", "daft punk", "Aphex Twin", "Björk", "Moodymann", "", "DJ Koze", "Ådne", "zZz"]
GENRES = ["House", "Techno", "Ambient", "Deep House"]


def make_files(count: int, seed: int = 1, start: int = 0) -> list[ScannedFile]:
    rng = random.Random(seed)
    files = []
    for i in range(start, start + count):
        tags = TagInfo(
            format=rng.choice(["mp3", "flac", "m4a"]),
            title=f"Track {i:05d}",
            artist=rng.choice(ARTISTS),
            album=rng.choice(["Homework", "Discovery", ""]),
            genre=rng.choice(GENRES),
            year=rng.choice([None, 1997, 1999, 2013]),
            bpm=rng.choice([None, 120.0, 124.5, 128.0, 140.0, 174.0]),
            key=rng.choice([None, *range(24)]),
            duration=rng.uniform(60, 600),
            bitrate=rng.choice([None, 128, 320]),
        )
        files.append(
            ScannedFile(f"/music/{tags.artist or 'Unknown'}/{i:05d}.{tags.format}", 1000 + i, 1.0, tags)
        )
    return files


def fill(library: Library, count: int, seed: int = 1, start: int = 0) -> list[ScannedFile]:
    files = make_files(count, seed, start)
    writer.upsert_scanned(library, files)
    return files


@pytest.fixture
def library(tmp_path: Path):
    lib = open_library(tmp_path / "library.sqlite")
    yield lib
    lib.close()


@pytest.fixture
def settings_store(tmp_path: Path):
    return open_settings(tmp_path / "config" / "crate.ini")


@pytest.fixture
def add_tracks():
    """add_tracks(library, count, seed=1, start=0): write generated tracks, return their ScannedFiles."""
    return fill
