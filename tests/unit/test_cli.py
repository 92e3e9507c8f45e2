"""crate-cli end to end, in a subprocess, on real files and a real library file."""

from __future__ import annotations

import functools
import io
import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from audiofactory import write_audio
from clirunner import crate_cli, json_lines

from crate_app.cli import main as cli_main
from crate_app.cli import scan as cli_scan
from crate_app.cli.common import ProgressLine
from crate_app.domain.keys import KeyNotation, format_key_code, parse_key
from crate_app.domain.progress import Progress, ProgressMeter
from crate_app.library import scanner

ROOT = Path(__file__).resolve().parents[2]
TRACKS = [  # artist, title, bpm, key, format
    ("Daft Punk", "Da Funk", "111.00", "Em", "mp3"),
    ("Daft Punk", "Revolution 909", "126.50", "8A", "flac"),
    ("Aphex Twin", "Windowlicker", "127", "5d", "m4a"),
    ("Björk", "Army of Me", "92", "Ebm", "ogg"),
    ("Moodymann", "Shades of Jae", "119.9", "10B", "mp3"),
]


@pytest.fixture(scope="module")
def scanned(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict]:
    base = tmp_path_factory.mktemp("cli")
    music = base / "music"
    for i, (artist, title, bpm, key, fmt) in enumerate(TRACKS):
        tags = {
            "artist": artist,
            "title": title,
            "bpm": bpm,
            "key": key,
            "album": "Hits",
            "genre": "Electronic",
        }
        write_audio(music / artist / f"{i} {title}.{fmt}", tags)
    (music / "broken.mp3").write_bytes(b"not audio at all" * 10)
    library = base / "library.sqlite"
    result = crate_cli("scan", str(music), "--json", library=library)
    assert result.returncode == 0, result.stderr
    return library, music, json_lines(result.stdout)[-1]


def test_scan_json_summary(scanned: tuple[Path, Path, dict]) -> None:
    _, _, summary = scanned
    assert {"added", "updated", "unchanged", "missing", "errors", "seconds"} <= set(summary)
    assert (summary["added"], summary["errors"], summary["updated"], summary["missing"]) == (5, 1, 0, 0)


def test_rescan_and_scan_again_are_incremental(scanned: tuple[Path, Path, dict]) -> None:
    library, music, _ = scanned
    again = crate_cli("scan", str(music), "--json", library=library)
    assert again.returncode == 0 and again.stderr == ""  # not a terminal: no progress noise
    summary = json_lines(again.stdout)[-1]
    assert (summary["added"], summary["unchanged"]) == (0, 5)
    rescan = crate_cli("rescan", "--json", library=library)
    assert rescan.returncode == 0 and json_lines(rescan.stdout)[-1]["unchanged"] == 5
    plain = crate_cli("rescan", library=library)
    assert plain.returncode == 0 and "5 unchanged" in plain.stdout
    assert "broken.mp3: not a valid MP3 file" in plain.stdout


def test_stats_json(scanned: tuple[Path, Path, dict]) -> None:
    library, _, _ = scanned
    result = crate_cli("stats", "--json", library=library)
    assert result.returncode == 0, result.stderr
    stats = json.loads(result.stdout)
    assert {"tracks", "ok", "missing", "errors", "analyzed"} <= set(stats)
    assert (stats["tracks"], stats["ok"], stats["missing"], stats["errors"], stats["analyzed"]) == (
        6,
        5,
        0,
        1,
        0,
    )


def test_ls_json_fields_and_key_notations(scanned: tuple[Path, Path, dict]) -> None:
    library, _, _ = scanned
    result = crate_cli(
        "ls", "--json", "format:mp3", "format:flac", "format:m4a", "format:ogg", library=library
    )
    rows = json_lines(result.stdout)
    assert len(rows) == 5, result.stderr
    for row in rows:
        assert {
            "id",
            "path",
            "artist",
            "title",
            "album",
            "genre",
            "bpm",
            "key",
            "key_musical",
            "duration",
        } <= set(row)
    by_title = {row["title"]: row for row in rows}
    for artist, title, bpm, key, _fmt in TRACKS:
        row = by_title[title]
        code = parse_key(key).code  # type: ignore[union-attr]
        assert row["artist"] == artist and row["album"] == "Hits" and row["genre"] == "Electronic"
        assert row["key"] == format_key_code(code, KeyNotation.CAMELOT)
        assert row["key_musical"] == format_key_code(code, KeyNotation.MUSICAL)
        assert row["duration"] > 0 and Path(row["path"]).exists()
        assert row["bpm"] == pytest.approx(float(bpm) if title != "Windowlicker" else 127.0)
    open_key = json_lines(
        crate_cli("ls", "--json", "--key-notation", "openkey", "title:revolution", library=library).stdout
    )
    assert [row["key"] for row in open_key] == ["1m"]


def test_ls_query_sort_and_limit(scanned: tuple[Path, Path, dict]) -> None:
    library, _, _ = scanned
    daft = json_lines(crate_cli("ls", "--json", "daft", library=library).stdout)
    assert sorted(row["title"] for row in daft) == ["Da Funk", "Revolution 909"]
    by_bpm = json_lines(
        crate_cli("ls", "--json", "--sort", "bpm", "--desc", "bpm:>100", library=library).stdout
    )
    assert [row["bpm"] for row in by_bpm] == sorted((row["bpm"] for row in by_bpm), reverse=True)
    assert len(by_bpm) == 4
    limited = json_lines(crate_cli("ls", "--json", "--sort", "title", "--limit", "2", library=library).stdout)
    everything = json_lines(crate_cli("ls", "--json", "--sort", "title", library=library).stdout)
    assert limited == everything[:2] and len(everything) == 6
    assert (
        json_lines(crate_cli("ls", "--json", "key:8A", library=library).stdout)[0]["title"]
        == "Revolution 909"
    )
    assert json_lines(crate_cli("ls", "--json", "daft", "--", "-funk", library=library).stdout)[0][
        "title"
    ] == ("Revolution 909")


def test_ls_table_is_aligned(scanned: tuple[Path, Path, dict]) -> None:
    library, _, _ = scanned
    result = crate_cli("ls", "--sort", "artist", library=library)
    lines = result.stdout.splitlines()
    assert lines[0].split()[:3] == ["ARTIST", "TITLE", "ALBUM"]
    assert len(lines) == 7
    title_column = lines[0].index("TITLE")
    assert all(line[title_column - 2 : title_column] == "  " for line in lines[1:])
    assert any(line.startswith("Aphex Twin") and "Windowlicker" in line for line in lines)


def test_library_from_the_environment(scanned: tuple[Path, Path, dict]) -> None:
    library, _, _ = scanned
    result = crate_cli("stats", "--json", env={"CRATE_LIBRARY": str(library)})
    assert result.returncode == 0 and json.loads(result.stdout)["tracks"] == 6


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["ls", "bpm:"], "bad query"),
        (["ls", "--sort", "colour"], "invalid choice"),
        (["ls", "--limit", "many"], "not a whole number"),
        (["frobnicate"], "invalid choice"),
        ([], "required"),
    ],
)
def test_user_errors_are_one_line(scanned: tuple[Path, Path, dict], args: list[str], message: str) -> None:
    library, _, _ = scanned
    result = crate_cli(*args, library=library)
    assert result.returncode != 0
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("crate-cli: error:") and message in lines[0], result.stderr


def test_unusable_library_file(tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.sqlite"
    bogus.write_bytes(b"this is not a database" * 100)
    for args in (["stats", "--json"], ["ls"], ["scan", str(tmp_path)]):
        result = crate_cli(*args, library=bogus)
        assert result.returncode != 0
        assert result.stderr.splitlines() == [
            f"crate-cli: error: {bogus} is not a Crate library (not an SQLite database)"
        ]
    missing = crate_cli("stats", "--json", library=tmp_path / "none.sqlite")
    assert missing.returncode != 0 and missing.stderr.startswith("crate-cli: error: no library at")
    assert not (tmp_path / "none.sqlite").exists()  # reading commands never create a library


def test_the_command_line_loads_neither_qt_nor_librosa() -> None:
    code = (
        "import sys, crate_app.cli.main\n"
        "heavy = ('PySide6', 'shiboken6', 'librosa', 'numba')\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in heavy))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60
    )
    assert result.returncode == 0 and result.stdout.strip() == "[]", result.stdout + result.stderr


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_is_one_updating_line_on_a_terminal_and_silent_elsewhere() -> None:
    terminal = _Terminal()
    line = ProgressLine(terminal)
    line(Progress(done=10, total=100, rate=50.0, eta=1.8, current="/music/a.mp3"))
    line(Progress(done=20, total=100, rate=50.0, eta=1.6, current="/music/b.mp3"))
    line.clear()
    text = terminal.getvalue()
    assert "\n" not in text and text.count("\r") == 4  # two updates, then one erase (\r ... \r)
    assert "10 / 100" in text and "20 / 100 · 50/s · 2 s left · /music/b.mp3" in text
    assert text.endswith("\r")
    pipe = io.StringIO()
    ProgressLine(pipe)(Progress(done=1, total=2, rate=1.0, eta=1.0))
    assert pipe.getvalue() == ""


def test_ctrl_c_stops_the_scan_between_batches(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for i in range(30):
        write_audio(tmp_path / "music" / f"{i:02d}.mp3", {"title": f"t{i}"})
    monkeypatch.setattr(scanner, "FIRST_BATCH_ROWS", 5)
    monkeypatch.setattr(scanner, "CHUNK_FILES", 5)
    monkeypatch.setattr(scanner, "ProgressMeter", functools.partial(ProgressMeter, interval=0))  # unthrottled

    class InterruptingProgress:  # stands in for the terminal line: presses Ctrl-C once tracks arrive
        def __init__(self, stream: object) -> None:
            self.pressed = False

        def __call__(self, progress: Progress) -> None:
            if progress.done >= 5 and not self.pressed:
                self.pressed = True
                signal.raise_signal(signal.SIGINT)

        def clear(self) -> None:
            pass

    monkeypatch.setattr(cli_scan, "ProgressLine", InterruptingProgress)
    library = str(tmp_path / "lib.sqlite")
    code = cli_main.main(["--library", library, "scan", str(tmp_path / "music"), "--json", "--workers", "0"])
    summary = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert code == 130 and summary["cancelled"] is True
    assert 0 < summary["added"] < 30


@pytest.mark.slow  # waits out the library's busy timeout (15 s)
def test_a_library_another_process_keeps_locked_is_one_line_not_a_traceback(tmp_path: Path) -> None:
    library, music = tmp_path / "library.sqlite", tmp_path / "music"
    music.mkdir()
    assert crate_cli("scan", str(music), library=library).returncode == 0
    hold = (
        "import sqlite3, sys, time\n"
        "c = sqlite3.connect(sys.argv[1]); c.execute('BEGIN EXCLUSIVE'); print('held', flush=True)\n"
        "time.sleep(120)"
    )
    holder = subprocess.Popen(  # another writer that does not let go
        [sys.executable, "-c", hold, str(library)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        result = crate_cli("scan", str(music), library=library, timeout=120)
    finally:
        holder.kill()
    assert result.returncode == 1 and "Traceback" not in result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(
        "crate-cli: error: the library is busy: another program (a Crate window or command)"
    )
