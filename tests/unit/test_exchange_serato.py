"""Serato export across drives and smart crates, proven by other projects' readers (sidecaramel's crate
and smart-crate parser, serato-tools' crate reader); a crate file Serato wrote, read by our importer."""

from __future__ import annotations

import os
import struct
import unicodedata
from pathlib import Path

import pytest

from crate_app.exchange import serato_crates
from crate_app.exchange.model import ExportTrack, ListSource, PlaylistNode
from crate_app.exchange.paths import PathMapper
from crate_app.exchange.serato_rules import DoesNotFit, serato_rules

NOT_RUNNING = {"check_running": lambda: False}


def _tracks(folder: Path, first_id: int, names: list[str]) -> list[ExportTrack]:
    folder.mkdir(parents=True, exist_ok=True)
    tracks = []
    for i, name in enumerate(names):
        path = folder / name
        path.write_bytes(b"x" * (10 + i))
        tracks.append(ExportTrack(first_id + i, str(path), title=name, artist="A", format=path.suffix[1:]))
    return tracks


def _rules(raw: list[dict]) -> list[dict[str, object]]:
    """The rule chunks sidecaramel found, decoded with its own chunk walker."""
    from sidecaramel.db import _iter_tagged

    rules = []
    for entry in raw:
        if entry["kind"] != "rurt":
            continue
        payload, rule = entry["raw"], {}
        for tag, start, end in _iter_tagged(payload):
            value = payload[start:end]
            name = tag.decode("ascii")
            rule[name] = struct.unpack(">I", value)[0] if name[0] == "u" else value.decode("utf-16-be")
        rules.append(rule)
    return rules


def _flag(raw: list[dict], kind: str) -> bool:
    from sidecaramel.db import _iter_tagged

    (entry,) = [e for e in raw if e["kind"] == kind]
    ((tag, start, end),) = list(_iter_tagged(entry["raw"]))
    return tag == b"brut" and entry["raw"][start:end] == b"\x01"


def test_crates_go_to_the_root_of_each_drive_holding_their_tracks(tmp_path: Path) -> None:
    from sidecaramel.db import read_crate

    usb1, usb2, gone = tmp_path / "usb1", tmp_path / "usb2", tmp_path / "gone"
    on1 = _tracks(usb1 / "Music", 1, ["a.mp3", "b.mp3"])
    on2 = _tracks(usb2 / "DJ" / "House", 10, ["c.mp3", "Ünï.mp3"])
    lost = ExportTrack(20, str(gone / "Music" / "d.mp3"))  # its drive is not connected
    system = _tracks(tmp_path / "home" / "Music", 30, ["e.mp3"])  # on the system drive
    playlists = [
        PlaylistNode("Sets", True, [PlaylistNode("Mixed", False, entries=[10, 1, 20, 30, 11, 2])]),
        PlaylistNode("Only one", False, entries=[2, 1]),
    ]
    mapper = PathMapper(
        [(str(usb1), "/Volumes/USB1"), (str(usb2), "/Volumes/USB2"), (str(gone), "/Volumes/GONE")]
    )
    source = ListSource([*on1, *on2, lost, *system], playlists)
    report = serato_crates.write(usb1, source, mapper, **NOT_RUNNING)

    assert (report.tracks, report.playlists) == (4, 2)
    reasons = dict(report.skipped)
    assert "not connected" in reasons[lost.path] and "~/Music/_Serato_" in reasons[system[0].path]
    mixed1 = read_crate(str(usb1 / "_Serato_" / "Subcrates" / "Sets%%Mixed.crate"))
    mixed2 = read_crate(str(usb2 / "_Serato_" / "Subcrates" / "Sets%%Mixed.crate"))
    assert mixed1["version"] == "1.0/Serato ScratchLive Crate"
    # sidecaramel makes the relative paths absolute from "/": its drive root is macOS's /Volumes/X
    assert mixed1["track_paths"] == ["/Music/a.mp3", "/Music/b.mp3"]
    assert mixed2["track_paths"] == ["/DJ/House/c.mp3", "/DJ/House/Ünï.mp3"]
    assert not (usb2 / "_Serato_" / "Subcrates" / "Only one.crate").exists()  # nothing of it there
    order = (usb2 / "_Serato_" / "neworder.pref").read_bytes().decode("utf-16-be").splitlines()
    assert order == ["[crate]Sets%%Mixed"]

    # our importer puts each drive's crates back together with the real files
    collection = serato_crates.read(usb2)
    (sets,) = collection.playlists
    assert [os.path.normpath(p) for p in sets.children[0].entries] == [t.path for t in on2]


def test_neworder_keeps_the_crates_the_user_had(tmp_path: Path) -> None:
    tracks = _tracks(tmp_path / "usb" / "Music", 1, ["a.mp3"])
    serato = tmp_path / "usb" / "_Serato_"
    serato.mkdir()
    (serato / "neworder.pref").write_bytes("[crate]Mine\n[crate]Old set\n".encode("utf-16-be"))
    mapper = PathMapper([(str(tmp_path / "usb"), "/Volumes/USB")])
    serato_crates.write(
        tmp_path / "usb", ListSource(tracks, [PlaylistNode("Old set", False, entries=[1])]), mapper,
        **NOT_RUNNING,
    )  # fmt: skip
    order = (serato / "neworder.pref").read_bytes().decode("utf-16-be").splitlines()
    assert order == ["[crate]Old set", "[crate]Mine"]


def test_smart_crates_become_scrate_files_where_their_rules_fit(tmp_path: Path) -> None:
    from serato_tools.crate import Crate
    from sidecaramel.db import list_crates, read_smart_crate

    tracks = _tracks(tmp_path / "Music", 1, ["a.mp3", "b.mp3", "c.mp3"])
    playlists = [
        PlaylistNode("Fits", True, [
            PlaylistNode("House", False, entries=[1, 2], query='genre:house bpm:120-128 -artist:"DJ X"'),
        ]),
        PlaylistNode("Either", False, entries=[3], query="title:intro OR year:>=2020"),
        PlaylistNode("Any word", False, entries=[2, 3], query="house"),
        PlaylistNode("Newest", False, entries=[1], query="genre:house", limit=25),
    ]  # fmt: skip
    home = tmp_path / "Music"  # on the system drive, where Serato reads smart crates
    report = serato_crates.write(home, ListSource(tracks, playlists), PathMapper(), **NOT_RUNNING)
    assert report.playlists == 4 and report.skipped == []

    serato = home / "_Serato_"
    names = sorted(Path(p).name for _, p in list_crates(str(serato)))
    assert names == ["Any word.crate", "Either.scrate", "Fits%%House.scrate", "Newest.crate"]
    house = read_smart_crate(str(serato / "SmartCrates" / "Fits%%House.scrate"))
    assert house["version"] == "1.0/Serato ScratchLive Smart Crate"
    assert _flag(house["rules"], "rart") is True and _flag(house["rules"], "rlut") is True
    # Serato's field numbers and comparisons as serato-tools documents them (genre 9, bpm 15, artist 7)
    assert _rules(house["rules"]) == [
        {"trft": "cond_con_str", "urkt": 9, "trpt": "house"},
        {"trft": "cond_greq_uint", "urkt": 15, "urpt": 120},
        {"trft": "cond_lseq_uint", "urkt": 15, "urpt": 128},
        {"trft": "cond_dnc_str", "urkt": 7, "trpt": "DJ X"},
    ]
    assert house["track_paths"] == [tracks[0].path, tracks[1].path]  # its tracks now, from "/"
    either = read_smart_crate(str(serato / "SmartCrates" / "Either.scrate"))
    assert _flag(either["rules"], "rart") is False
    assert _rules(either["rules"]) == [
        {"trft": "cond_con_str", "urkt": 6, "trpt": "intro"},
        {"trft": "cond_greq_uint", "urkt": 23, "urpt": 2020},
    ]
    # the ones Serato cannot hold are crates of their tracks now, and the report says why
    assert len(Crate(str(serato / "Subcrates" / "Any word.crate")).tracks()) == 2
    notes = "\n".join(report.notes)
    assert "2 smart crates" in notes and "Any word" in notes and "limit" in notes
    order = (serato / "neworder.pref").read_bytes().decode("utf-16-be").splitlines()
    assert order == ["[crate]Any word", "[crate]Newest"]

    # read back: smart crates come in as crates of the tracks the file lists, in a folder of their own
    collection = serato_crates.read(home)
    smart = collection.playlists[-1]
    assert smart.name == serato_crates.SMART_FOLDER and [n.name for n in smart.children] == [
        "Either",
        "Fits - House",
    ]
    assert smart.children[1].entries == [tracks[0].path, tracks[1].path]
    assert "2 smart crates came in as crates" in collection.warnings[0]


def test_smart_crates_on_another_drive_are_written_as_crates(tmp_path: Path) -> None:
    tracks = _tracks(tmp_path / "usb" / "Music", 1, ["a.mp3"])
    mapper = PathMapper([(str(tmp_path / "usb"), "/Volumes/USB")])
    source = ListSource(tracks, [PlaylistNode("House", False, entries=[1], query="genre:house")])
    report = serato_crates.write(tmp_path / "usb", source, mapper, **NOT_RUNNING)
    assert (tmp_path / "usb" / "_Serato_" / "Subcrates" / "House.crate").is_file()
    assert not (tmp_path / "usb" / "_Serato_" / "SmartCrates").exists()
    assert "system drive" in "\n".join(report.notes)


@pytest.mark.parametrize(
    ("query", "why"),
    [
        ("key:8A", "key is 8A"),
        ("bpm:>127.5", "bpm greater than 127.5"),
        ("genre:house OR bpm:120-128", "bpm between 120-128"),  # a range needs two rules: ALL only
        ("genre:house (artist:a OR artist:b)", "group inside a group"),
        ("albumartist:x", "albumartist contains x"),
    ],
)
def test_rules_serato_cannot_hold_are_named(query: str, why: str) -> None:
    with pytest.raises(DoesNotFit, match=why):
        serato_rules(query)


def test_crate_that_serato_wrote_is_read(testdata: Path, tmp_path: Path) -> None:
    fixture = testdata / "exchange" / "serato_2SongTestCrate.crate"
    if not fixture.is_file():
        pytest.skip(
            f"{fixture} is missing: the product owner adds it from MartinHH/cratetom3u "
            "(src/test/resources/testcrates/2SongTestCrate.crate, Apache-2.0)"
        )
    subcrates = tmp_path / "_Serato_" / "Subcrates"
    subcrates.mkdir(parents=True)
    (subcrates / "2SongTestCrate.crate").write_bytes(fixture.read_bytes())
    collection = serato_crates.read(tmp_path)
    (crate,) = collection.playlists
    # the paths cratetom3u's own test expects of this file, relative to the drive's root
    expected = [
        "my music/genre a/Artist X/03 - Some Song.mp3",
        "my music/genre b/artist y/Thät Söng With Thöse Germän Letters.wav",
    ]
    got = [unicodedata.normalize("NFC", os.path.relpath(p, serato_crates.drive_root(tmp_path / "_Serato_")))
           for p in crate.entries]  # fmt: skip
    assert crate.name == "2SongTestCrate" and got == expected
