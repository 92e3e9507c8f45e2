"""Exports proven by the formats' own readers (pyrekordbox, traktor-nml-utils), imports of files those
programs wrote, malformed inputs, path mapping and the key crosswalk."""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from pathlib import Path
from urllib.parse import unquote

import pytest

from crate_app.domain.errors import ExchangeError
from crate_app.domain.keys import parse_key
from crate_app.exchange import keymap, m3u, rekordbox_xml, traktor_nml
from crate_app.exchange.model import ExchangeCue, ExportTrack, ListSource, PlaylistNode
from crate_app.exchange.paths import PathMapper, Unexpressible, from_file_uri, to_file_uri

NAMES = ["Björk & Co #1 100%.mp3", "Été (Ø mix).flac", "日本語 ß.wav", "plain.mp3"]


@pytest.fixture
def music(tmp_path: Path) -> tuple[Path, list[ExportTrack], list[PlaylistNode]]:
    """Real files with awkward names, tracks with BPM/key/grid/cues, and a folder of playlists."""
    folder = tmp_path / "Music & More #2"
    folder.mkdir()
    tracks = []
    for i, name in enumerate(NAMES, start=1):
        path = folder / name
        path.write_bytes(os.urandom(100 + i))
        tracks.append(
            ExportTrack(
                id=i * 10,
                path=str(path),
                title=f"Title {i} & <x>",
                artist="Ärtist",
                format=path.suffix[1:],
                duration=180.4 + i,
                size=path.stat().st_size,
                bpm=120.0 + i / 3,
                key=(i * 5) % 24,
                first_beat=0.9 + i * 0.01,
                first_downbeat=0.9 + i * 0.01 + 60 / (120.0 + i / 3),
                cues=[
                    ExchangeCue("hot", 0, 10.5, name="Drop", color=0x00FF00),
                    ExchangeCue("memory", None, 20.0),
                    ExchangeCue("loop", 1, 30.0, 34.0, "Loop"),
                ],
            )
        )
    playlists = [
        PlaylistNode("Sets", True, [PlaylistNode("Friday", False, entries=[30, 10, 20])]),
        PlaylistNode("All & #%", False, entries=[40, 30, 20, 10]),
    ]
    return folder, tracks, playlists


def test_rekordbox_export_is_read_by_pyrekordbox(tmp_path: Path, music) -> None:
    from pyrekordbox import RekordboxXml

    _, tracks, playlists = music
    dest = tmp_path / "out" / "rekordbox.xml"
    report = rekordbox_xml.write(dest, ListSource(tracks, playlists), PathMapper())
    assert (report.tracks, report.playlists, report.skipped) == (4, 2, [])

    xml = RekordboxXml(str(dest))
    assert xml.frmt_version == "1.0.0"
    assert xml.num_tracks == len(xml.get_tracks()) == 4
    assert sorted(xml.get_track_ids()) == [10, 20, 30, 40]
    by_id = {t.TrackID: t for t in xml.get_tracks()}
    for track in tracks:
        got = by_id[track.id]
        assert got.AverageBpm == round(track.bpm, 2)
        assert parse_key(got.Tonality).code == track.key
        assert isinstance(got.TotalTime, int)
        raw = got._element.attrib["Location"]
        assert raw.startswith("file://localhost/") and not raw.startswith("file://localhost//")
        assert Path(unquote(raw[len("file://localhost") :])).is_file()
        assert unquote(raw[len("file://localhost") :]) == track.path
        (tempo,) = got.tempos
        period = 60 / track.bpm
        assert 0 <= tempo.Inizio < period
        assert abs(tempo.Inizio - (track.first_beat - period)) < 0.001
        assert tempo.Metro == "4/4" and tempo.Battito == 3  # two beats before the downbeat
        marks = sorted(((m.Type, m.Num, m.Start, m.End) for m in got.marks), key=str)
        assert marks == sorted(
            [("cue", 0, 10.5, None), ("cue", -1, 20.0, None), ("loop", 1, 30.0, 34.0)], key=str
        )
        hot = next(m for m in got.marks if m.Num == 0)
        assert (hot._element.attrib["Red"], hot._element.attrib["Green"], hot._element.attrib["Blue"]) == (
            "0",
            "255",
            "0",
        )
    friday = xml.get_playlist("Sets", "Friday")
    assert friday.is_playlist and friday.key_type == "TrackID"
    assert friday.get_tracks() == [30, 10, 20] and friday.entries == 3
    assert xml.get_playlist("All & #%").get_tracks() == [40, 30, 20, 10]
    assert xml.get_playlist("Sets").count == 1
    # an independent parse: the structure rekordbox needs, without pyrekordbox's tolerance
    root = ET.parse(dest).getroot()
    assert root.tag == "DJ_PLAYLISTS"
    assert int(root.find("COLLECTION").get("Entries")) == len(root.findall("COLLECTION/TRACK"))
    assert root.find("PLAYLISTS/NODE[@Name='ROOT'][@Type='0']") is not None


def test_rekordbox_locations_for_windows_and_macos_volumes(tmp_path: Path, music) -> None:
    from pyrekordbox import RekordboxXml

    folder, tracks, _ = music
    cases = [
        ("D:\\DJ Music", "file://localhost/D:/DJ%20Music/"),
        ("/Volumes/DJ USB/Music", "file://localhost/Volumes/DJ%20USB/Music/"),
    ]
    for target, prefix in cases:
        dest = tmp_path / "rb.xml"
        rekordbox_xml.write(dest, ListSource(tracks), PathMapper([(str(folder), target)]))
        xml = RekordboxXml(str(dest))
        locations = sorted(t._element.attrib["Location"] for t in xml.get_tracks())
        assert all(loc.startswith(prefix) for loc in locations)
        assert prefix + "Bj%C3%B6rk%20%26%20Co%20%231%20100%25.mp3" in locations
        # read back with the reverse map: every location is the real file again
        collection = rekordbox_xml.read(dest)
        back = PathMapper([(target, str(folder))], normalization="")
        assert sorted(back.map_local(t.path) for t in collection.tracks) == sorted(t.path for t in tracks)


def test_a_path_the_target_cannot_hold_is_skipped_and_reported(tmp_path: Path) -> None:
    tracks = [
        ExportTrack(1, "/music/a:b?.mp3"),
        ExportTrack(2, "/music/fine.mp3"),
        ExportTrack(3, "relative.mp3"),
    ]
    dest = tmp_path / "rb.xml"
    report = rekordbox_xml.write(dest, ListSource(tracks, [PlaylistNode("P", False, entries=[1, 2, 3])]),
                                 PathMapper([("/music", "E:\\")]))  # fmt: skip
    assert report.tracks == 1
    assert [p for p, _ in report.skipped] == ["/music/a:b?.mp3", "relative.mp3"]
    assert "Windows does not allow" in report.skipped[0][1]
    playlist = ET.parse(dest).getroot().find("PLAYLISTS/NODE/NODE")
    assert [t.get("Key") for t in playlist] == ["2"] and playlist.get("Entries") == "1"


def test_traktor_export_is_read_by_traktor_nml_utils(tmp_path: Path, music) -> None:
    from traktor_nml_utils import TraktorCollection

    folder, tracks, playlists = music
    for version in (19, 20):
        dest = tmp_path / f"v{version}"
        dest.mkdir()
        mapper = PathMapper([(str(folder), "C:\\Musik")])
        report = traktor_nml.write(dest, ListSource(tracks, playlists), mapper,
                                   version=version)  # fmt: skip
        assert report.tracks == 4 and Path(report.files[0]).name == traktor_nml.DEFAULT_NAME
        nml = TraktorCollection(path=Path(report.files[0])).nml
        assert nml.version == version
        entries = nml.collection.entry
        assert len(entries) == 4 and nml.collection.entries == 4
        by_file = {e.location.file: e for e in entries}
        for track in tracks:
            entry = by_file[Path(track.path).name]
            assert entry.location.volume == "C:" and entry.location.dir == "/:Musik/:"
            assert entry.tempo.bpm == pytest.approx(track.bpm, abs=1e-4)
            assert entry.musical_key.value_attribute == keymap.traktor_value(track.key)
            grids = [c for c in entry.cue_v2 if c.type == 4]
            (grid,) = grids
            period = 60 / track.bpm
            assert abs(grid.start - (track.first_beat - period) * 1000) < 1.0
            assert grid.hotcue == -1 and grid.grid.bpm == pytest.approx(track.bpm, abs=1e-4)
            hot = [c for c in entry.cue_v2 if c.type == 0 and c.hotcue == 0]
            assert hot and hot[0].start == pytest.approx(10500.0)
            loops = [c for c in entry.cue_v2 if c.type == 5]
            assert loops and loops[0].len == pytest.approx(4000.0) and loops[0].hotcue == 1
        root = nml.playlists.node
        assert root.name == "$ROOT" and str(getattr(root.type, "value", root.type)) == "FOLDER"
        sets, everything = root.subnodes.node
        friday = sets.subnodes.node[0]
        keys = [e.primarykey.key for e in friday.playlist.entry]
        assert keys == [f"C:/:Musik/:{Path(tracks[i].path).name}" for i in (2, 0, 1)]
        assert friday.playlist.entries == 3
        assert len(everything.playlist.entry) == 4


def test_traktor_never_overwrites_the_users_collection(tmp_path: Path, music) -> None:
    _, tracks, _ = music
    own = tmp_path / "collection.nml"
    own.write_text("<NML VERSION='19'/>")
    with pytest.raises(ExchangeError, match="never over it"):
        traktor_nml.write(own, ListSource(tracks), PathMapper())
    assert own.read_text() == "<NML VERSION='19'/>"
    report = traktor_nml.write(tmp_path, ListSource(tracks), PathMapper())
    assert (
        Path(report.files[0]) == tmp_path / traktor_nml.DEFAULT_NAME
        and own.read_text() == "<NML VERSION='19'/>"
    )


def test_m3u8_export(tmp_path: Path, music) -> None:
    _, tracks, playlists = music
    dest = tmp_path / "playlists"
    report = m3u.write(dest, ListSource(tracks, playlists), PathMapper())
    assert report.playlists == 2 and report.tracks == 4
    friday = dest / "Sets" / "Friday.m3u8"
    lines = friday.read_bytes().decode("utf-8").splitlines()  # strict UTF-8
    assert lines[0] == "#EXTM3U"
    assert lines[1] == f"#EXTINF:{round(tracks[2].duration)},Ärtist - Title 3 & <x>"
    assert lines[2::2] == [tracks[i].path for i in (2, 0, 1)]
    assert all(Path(p).is_file() for p in lines[2::2])
    assert (dest / "All & #%.m3u8").is_file()
    # relative paths resolve against the playlist's folder
    rel = m3u.write(tmp_path / "rel", ListSource(tracks, playlists), PathMapper(), relative=True)
    rel_file = Path(rel.files[0])
    entries = [line for line in rel_file.read_text("utf-8").splitlines() if not line.startswith("#")]
    assert all(not e.startswith("/") for e in entries)
    assert [os.path.normpath(rel_file.parent / e) for e in entries] == [tracks[i].path for i in (2, 0, 1)]
    # and our reader reads both back in order
    collection = m3u.read(dest)
    assert [n.name for n in collection.playlists] == ["All & #%", "Sets"]
    assert collection.playlists[1].children[0].entries == [tracks[i].path for i in (2, 0, 1)]


def test_m3u_reader_legacy_code_page_and_pls(tmp_path: Path) -> None:
    legacy = tmp_path / "old.m3u"
    legacy.write_bytes(
        "#EXTM3U\r\n#EXTINF:200,Caf\xe9 - Cr\xe8me\r\nC:\\Musik\\Caf\xe9.mp3\r\n".encode("cp1252")
    )
    tracks, _ = m3u.read_playlist(legacy)
    assert tracks[0].path == "C:\\Musik\\Café.mp3" and tracks[0].artist == "Café"
    bad = tmp_path / "bad.m3u8"
    bad.write_bytes(b"#EXTM3U\n/music/caf\xe9.mp3\n")
    with pytest.raises(ExchangeError, match="not UTF-8"):
        m3u.read_playlist(bad)
    pls = tmp_path / "list.pls"
    pls.write_text("[playlist]\nFile2=/b.mp3\nFile1=/a.mp3\nNumberOfEntries=2\n")
    assert [t.path for t in m3u.read_playlist(pls)[0]] == ["/a.mp3", "/b.mp3"]


def written_by_the_apps(testdata: Path) -> Path:
    """Files rekordbox and Traktor wrote, kept with the shared test data (testdata/exchange/README.md
    names their sources): third-party files stay out of this repository."""
    folder = testdata / "exchange"
    if not folder.is_dir():
        pytest.skip(f"no files written by DJ programs at {folder} (see the closing note of 2026-12-02)")
    return folder


def test_reads_what_rekordbox_wrote(testdata: Path) -> None:
    collection = rekordbox_xml.read(written_by_the_apps(testdata) / "rekordbox5_database.xml")
    assert len(collection.tracks) == 6 and collection.warnings == []
    demo = next(t for t in collection.tracks if t.title == "Demo Track 1")
    assert demo.path == "C:/Music/PioneerDJ/Demo Tracks/Demo Track 1.mp3"
    assert demo.bpm == 128.0 and demo.first_beat == 0.025 and demo.size == 6899624
    assert [c.start for c in demo.cues] == [0.025, 15.025, 30.025, 45.025]
    assert all(c.kind == "memory" for c in demo.cues)
    folder, playlist = collection.playlists
    assert folder.is_folder and folder.children[0].name == "Sub Playlist"
    assert folder.children[0].entries == ["5", "6"] and playlist.entries == ["5", "6"]


def test_reads_what_traktor_wrote(testdata: Path) -> None:
    collection = traktor_nml.read(written_by_the_apps(testdata) / "traktor_cuepoints.nml")
    (track,) = collection.tracks
    assert track.title == "Dubstep 1" and track.bpm == pytest.approx(139.999924)
    assert track.key_code == parse_key("Cm").code  # MUSICAL_KEY VALUE 12
    assert track.first_beat == pytest.approx(0.052315876)
    assert sorted(c.number for c in track.cues) == [6, 7]
    playlists = traktor_nml.read(written_by_the_apps(testdata) / "traktor_playlist.nml").playlists
    assert [n.name for n in playlists] == ["Preparation", "Foo"]
    assert [c.name for c in playlists[1].children] == ["Preparation2", "Bar"]
    assert playlists[1].children[1].children[0].entries[0].startswith("osx/:Users/:johndoe/")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            b'<?xml version="1.0"?><DJ_PLAYLISTS Version="1.0.0"><COLLECTION Entries="1">'
            b'<TRACK TrackID="1" Loc',
            "well-formed",
        ),
        (b"<html><body/></html>", "not a rekordbox XML file"),
        (b"", "empty"),
        (
            b'<?xml version="1.0" encoding="UTF-8"?><DJ_PLAYLISTS><COLLECTION><TRACK Name="\xe9t\xe9"/>',
            "well-formed",
        ),
        (b"\x00\x01binary", "well-formed"),
    ],
)
def test_malformed_rekordbox_files_give_a_clear_message(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "in.xml"
    path.write_bytes(content)
    with pytest.raises(ExchangeError, match=message):
        rekordbox_xml.read(path)


def test_rekordbox_reader_tolerates_what_it_can_and_says_so(tmp_path: Path) -> None:
    path = tmp_path / "odd.xml"
    path.write_text(
        '<?xml version="1.0" encoding="UTF-8"?><DJ_PLAYLISTS Version="1.0.0"><PRODUCT Name="x"/>'
        '<FUTURE_THING a="1"><NESTED/></FUTURE_THING><COLLECTION Entries="9">'
        '<TRACK TrackID="1" Location="file://localhost/a.mp3" AverageBpm="abc"><NEW_CHILD/></TRACK>'
        '<TRACK TrackID="1" Location="file://localhost/b.mp3"/><TRACK TrackID="2"/>'
        '<TRACK TrackID="3" Location="file://localhost//c%20d.mp3" Tonality="8A"/></COLLECTION>'
        '<PLAYLISTS><NODE Type="0" Name="ROOT"><NODE Name="L" Type="1" KeyType="1">'
        '<TRACK Key="file://localhost//c%20d.mp3"/></NODE></NODE></PLAYLISTS></DJ_PLAYLISTS>',
        encoding="utf-8",
    )
    collection = rekordbox_xml.read(path)
    assert [t.path for t in collection.tracks] == ["/a.mp3", "/c d.mp3"]
    assert collection.tracks[0].bpm is None and collection.tracks[1].key_code == parse_key("8A").code
    assert any("appears twice" in w for w in collection.warnings)
    assert any("no Location" in w for w in collection.warnings)
    assert any("says 9 tracks but holds 4" in w for w in collection.warnings)
    assert collection.playlists[0].entries == ["/c d.mp3"]


def test_export_leaves_the_previous_file_when_it_fails(tmp_path: Path, music) -> None:
    _, tracks, _ = music
    dest = tmp_path / "rb.xml"
    dest.write_text("previous")

    class Broken(ListSource):
        def iter_tracks(self):
            yield tracks[0]
            raise OSError(28, "No space left on device")

    with pytest.raises(ExchangeError, match="No space left on device"):
        rekordbox_xml.write(dest, Broken(tracks), PathMapper())
    assert dest.read_text() == "previous"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["Music & More #2", "rb.xml"]


def test_uri_variants_other_tools_write() -> None:
    assert from_file_uri("file://localhost//Users/a.mp3") == "/Users/a.mp3"
    assert from_file_uri("file:///C%3A/Music/a.mp3") == "C:/Music/a.mp3"
    assert from_file_uri("file://localhost/C:/Music/a%20b.mp3") == "C:/Music/a b.mp3"
    assert from_file_uri("file://localhost/Volumes/USB/%E2%99%AA.mp3") == "/Volumes/USB/♪.mp3"
    mapper = PathMapper()
    assert to_file_uri(mapper.map("/a/#1 & 100%.mp3")) == "file://localhost/a/%231%20%26%20100%25.mp3"
    with pytest.raises(Unexpressible):
        mapper.map("/a/\udcff.mp3")  # bytes that are not UTF-8


def test_path_mapper_nfc_nfd_and_windows_case() -> None:
    nfd = "/Music/Bjo\u0308rk.mp3"
    assert PathMapper().map(nfd).as_posix() == "/Music/Björk.mp3"
    assert PathMapper(normalization="NFD").map("/Music/Björk.mp3").as_posix() == nfd
    back = PathMapper([("c:\\music", "/home/dj/Music")], normalization="")
    assert back.map_local("C:/MUSIC/x/a.mp3") == "/home/dj/Music/x/a.mp3"
    assert PathMapper([("/home/dj/Music", "/Volumes/DJUSB/Music")]).map(
        "/home/dj/Musical/a.mp3"
    ).as_posix() == (
        "/home/dj/Musical/a.mp3"  # a rule matches whole folder names only
    )


def test_key_crosswalk_matches_the_reference_table() -> None:
    # rows of EXCHANGE-FORMATS §2.3: (Traktor VALUE, classic, Open Key, Camelot, Engine)
    rows = [
        (0, "C", "1d", "8B", 0), (1, "Db", "8d", "3B", 14), (9, "A", "4d", "11B", 6),
        (12, "Cm", "10m", "5A", 19), (15, "Ebm", "7m", "2A", 13), (20, "G#m", "6m", "1A", 11),
        (21, "Am", "1m", "8A", 1), (23, "Bm", "3m", "10A", 5),
    ]  # fmt: skip
    for value, classic, open_key, camelot, engine in rows:
        code = parse_key(camelot).code
        assert keymap.traktor_value(code) == value and keymap.from_traktor_value(value) == code
        assert keymap.rekordbox_tonality(code) == classic and keymap.traktor_text(code) == open_key
        assert keymap.engine_value(code) == engine and keymap.from_engine_value(engine) == code
    assert sorted(keymap.traktor_value(c) for c in range(24)) == list(range(24))
    assert sorted(keymap.engine_value(c) for c in range(24)) == list(range(24))


def test_serato_crates_are_read_by_serato_tools(tmp_path: Path, music) -> None:
    from serato_tools.crate import Crate

    from crate_app.exchange import serato_crates

    folder, tracks, playlists = music
    drive = tmp_path / "usb"
    mapper = PathMapper([(str(folder), "/Volumes/DJUSB/Music"), (str(drive), "/Volumes/DJUSB")])
    report = serato_crates.write(drive, ListSource(tracks, playlists), mapper, check_running=lambda: False)
    assert report.playlists == 2 and report.tracks == 4 and report.skipped == []
    friday = drive / "_Serato_" / "Subcrates" / "Sets%%Friday.crate"
    crate = Crate(str(friday))
    assert crate.data[0] == ("vrsn", "1.0/Serato ScratchLive Crate")
    assert crate.tracks() == [f"Music/{Path(tracks[i].path).name}" for i in (2, 0, 1)]
    assert len(Crate(str(drive / "_Serato_" / "Subcrates" / "All & #%.crate")).tracks()) == 4
    assert (drive / "_Serato_" / "neworder.pref").read_bytes().decode("utf-16-be").splitlines() == [
        "[crate]Sets%%Friday",
        "[crate]All & #%",
    ]
    # tracks on another drive go in the crates at that drive's root (test_exchange_serato.py has more)
    elsewhere = PathMapper([(str(folder), "/Volumes/OTHER/Music"), (str(drive), "/Volumes/DJUSB")])
    report = serato_crates.write(drive, ListSource(tracks, playlists), elsewhere, check_running=lambda: False)
    assert report.tracks == 4 and report.skipped == []
    assert len(Crate(str(tmp_path / "_Serato_" / "Subcrates" / "Sets%%Friday.crate")).tracks()) == 3
    with pytest.raises(ExchangeError, match="Serato is running"):
        serato_crates.write(drive, ListSource(tracks, playlists), mapper, check_running=lambda: True)


def test_serato_reader_reads_crates_serato_tools_wrote(tmp_path: Path, music) -> None:
    from serato_tools.crate import Crate

    from crate_app.exchange import serato_crates

    _, tracks, _ = music
    subcrates = tmp_path / "_Serato_" / "Subcrates"
    subcrates.mkdir(parents=True)
    crate = Crate(str(subcrates / "Warm up%%Early.crate"))
    for track in tracks[:3]:
        crate.add_track(track.path)
    # serato-tools 2.4's default data for a new crate holds "brev" as text, which its own save refuses
    crate.data = [
        (t, [(k, False) if k == "brev" else (k, v) for k, v in d] if t == "osrt" else d)
        for t, d in crate.data
    ]
    crate.save()
    (subcrates / "broken.crate").write_bytes(b"vrsn\x00\x00\x00\x40\x00")
    with pytest.raises(ExchangeError, match=r"broken\.crate: the crate file ends"):
        serato_crates.read(tmp_path)
    (subcrates / "broken.crate").unlink()
    collection = serato_crates.read(tmp_path)
    (warm_up,) = collection.playlists
    assert warm_up.is_folder and warm_up.children[0].name == "Early"
    assert [os.path.normpath(p) for p in warm_up.children[0].entries] == [t.path for t in tracks[:3]]
