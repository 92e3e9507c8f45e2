"""The player's core: cue points, rating and colour, locked corrections, the overview waveform, grid
arithmetic and tap tempo."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pytest
from audiofactory import write_audio

from crate_app.analysis import waveform
from crate_app.analysis.analyze import analyze_file
from crate_app.domain.beatgrid import BeatGrid, tap_tempo
from crate_app.domain.cues import CuePoint, with_hot_cue
from crate_app.domain.search import QuerySyntaxError, parse_query
from crate_app.domain.track import AnalysisOptions, AnalysisResult, ScannedFile, TagInfo
from crate_app.store import writer
from crate_app.store.cues import cues_in_id_range, cues_of, cues_of_tracks, replace_cues
from crate_app.store.library import open_library
from crate_app.store.waveforms import waveform_of


def _add_tracks(library, count: int) -> list[int]:
    files = [
        ScannedFile(
            f"/music/{i:03d}.mp3", 100 + i, 1.0, TagInfo(format="mp3", title=f"T{i}", bpm=120.0, key=3)
        )
        for i in range(count)
    ]
    writer.upsert_scanned(library, files)
    return [library.track_by_path(f.path).id for f in files]


def test_cues_round_trip_and_replace(library) -> None:
    a, b, c = _add_tracks(library, 3)
    cues = [
        CuePoint("loop", 0, 32.0, 40.0, "Drop loop", "#ff0000"),
        CuePoint("memory", None, 0.5),
        CuePoint("hot", 2, 16.25, name="Vocal", color="#00ff00"),
    ]
    replace_cues(library, a, cues)
    replace_cues(library, b, [CuePoint("hot", 0, 1.0)])
    assert cues_of(library, a) == [cues[1], cues[2], cues[0]]  # by start
    assert cues_of_tracks(library, [a, b, c]) == {a: cues_of(library, a), b: [CuePoint("hot", 0, 1.0)], c: []}
    # an export streams by id range: only the tracks with cues in that range are keys
    assert cues_in_id_range(library, min(a, b, c), max(a, b, c)) == {
        a: cues_of(library, a),
        b: cues_of(library, b),
    }
    assert cues_in_id_range(library, c, c) == {}
    replace_cues(library, a, with_hot_cue(cues_of(library, a), 2, 20.0))
    assert [(q.kind, q.number, q.start) for q in cues_of(library, a)] == [
        ("memory", None, 0.5), ("hot", 2, 20.0), ("loop", 0, 32.0)]  # fmt: skip
    replace_cues(library, a, [])
    assert cues_of(library, a) == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"kind": "cue", "number": 1, "start": 1.0}, "cue kind"),
        ({"kind": "loop", "number": 0, "start": 5.0, "end": 4.0}, "end after"),
        ({"kind": "hot", "number": 0, "start": 1.0, "end": 2.0}, "only loops"),
        ({"kind": "hot", "number": 0, "start": -1.0}, ">= 0"),
        ({"kind": "memory", "number": None, "start": 1.0, "color": "red"}, "#rrggbb"),
    ],
)
def test_invalid_cues_are_refused_in_words(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        CuePoint(**kwargs)


def test_rating_and_colour_are_searchable(library) -> None:
    ids = _add_tracks(library, 6)
    writer.set_rating(library, ids[:2], 5)
    writer.set_rating(library, ids[2:3], 4)
    writer.set_rating(library, ids[3:4], 1)
    writer.set_color(library, ids[1:3], "Red")
    writer.set_color(library, ids[4:5], "cyan")  # an alias of aqua

    def found(text: str) -> set[int]:
        return set(library.iter_track_ids(parse_query(text)))

    assert found("rating:>=4") == set(ids[:3])
    assert found("rating:5") == set(ids[:2])
    assert found("rating:<2") == {ids[3], ids[4], ids[5]}  # unrated counts as no stars
    assert found("color:red") == {ids[1], ids[2]}
    assert found("colour:aqua,red") == {ids[1], ids[2], ids[4]}
    assert found("color:red rating:5") == {ids[1]}
    assert found("color:none") == {ids[0], ids[3], ids[5]}
    with pytest.raises(QuerySyntaxError, match="unknown colour"):
        parse_query("color:mauve")
    with pytest.raises(ValueError, match="0-5"):
        writer.set_rating(library, ids, 6)


def test_locked_corrections_survive_reanalysis_and_rescan(library) -> None:
    ids = _add_tracks(library, 2)
    writer.save_analysis(library, [(i, AnalysisResult(87.0, 0.6, 5, 0.7, first_beat=0.3, first_downbeat=1.0))
                                   for i in ids])  # fmt: skip
    writer.correct_bpm(library, ids[:1], 174.0)
    writer.correct_key(library, ids[:1], 9)
    writer.correct_first_beat(library, ids[0], 0.31)
    again = AnalysisResult(86.9, 0.6, 6, 0.7, first_beat=0.25, first_downbeat=0.9)
    writer.save_analysis(library, [(i, again) for i in ids])  # re-analysis
    fixed, other = library.tracks_by_ids(ids)
    assert (fixed.bpm, fixed.key, fixed.bpm_locked, fixed.key_locked) == (174.0, 9, True, True)
    assert (fixed.first_beat, fixed.first_downbeat, fixed.first_beat_locked) == (
        0.31,
        pytest.approx(1.01),
        True,
    )
    assert (fixed.analysis_bpm, fixed.analysis_key) == (86.9, 6)  # the analysis keeps its own beside
    assert (fixed.analysis_first_beat, fixed.analysis_first_downbeat) == (0.25, 0.9)
    assert (other.bpm, other.key, other.first_beat) == (86.9, 6, 0.25)
    writer.correct_first_beat(library, ids[0], None)
    assert library.tracks_by_ids(ids[:1])[0].first_beat == 0.25
    # a rescan (tags say 120 / 3) keeps the corrected values too, even before any analysis
    fresh = _add_tracks(library, 3)[2]
    writer.correct_bpm(library, [fresh], 128.0)
    _add_tracks(library, 3)
    assert library.tracks_by_ids([ids[0], fresh])[0].bpm == 174.0
    assert library.tracks_by_ids([fresh])[0].bpm == 128.0
    writer.correct_bpm(library, ids[:1], None)  # unlock: back to the analysis
    assert library.tracks_by_ids(ids[:1])[0].bpm == 86.9


def test_migration_upgrades_a_version_3_library(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from crate_app.store import schema

    path = tmp_path / "old.sqlite"
    with monkeypatch.context() as patch:
        patch.setattr(schema, "MIGRATIONS", schema.MIGRATIONS[:3])
        old = open_library(path)
        old.execute(
            "INSERT INTO tracks (path, folder, filename, size, mtime, format, codec, title, artist, "
            "album, albumartist, genre, comment, label, bpm, key, date_added, last_scanned, status) "
            "VALUES ('/a.mp3', '/', 'a.mp3', 1, 1, 'mp3', '', 'A', '', '', '', '', '', '', 128, 4, 0, 0, "
            "'ok')"
        )
        old.close()
    lib = open_library(path)
    track = lib.track_by_path("/a.mp3")
    assert (track.bpm, track.rating, track.color, track.bpm_locked) == (128.0, None, "", False)
    assert cues_of(lib, track.id) == [] and lib.count(parse_query("rating:0")) == 1
    lib.close()
    assert (
        sqlite3.connect(path.with_name(path.name + ".v3.bak"))
        .execute("SELECT COUNT(*) FROM tracks")
        .fetchone()[0]
        == 1
    )


def test_overview_shows_loud_and_silent_sections_where_they_are() -> None:
    rate = 11025
    t = np.arange(60 * rate, dtype=np.float32) / rate
    signal = np.zeros_like(t)
    signal[: 20 * rate] = 0.5 * np.sin(2 * np.pi * 60 * t[: 20 * rate])  # 0-20 s: loud bass
    signal[40 * rate :] = 0.25 * np.sin(2 * np.pi * 4000 * t[40 * rate :])  # 40-60 s: quieter hi-hat band
    data = waveform.encode(waveform.overview(signal, rate))
    assert len(data) <= 1536
    view = waveform.decode(data)
    assert view.columns == waveform.COLUMNS and view.seconds == pytest.approx(60.0)
    per_second = view.columns / 60.0
    bass, silence, highs = (slice(int(a * per_second) + 1, int(b * per_second) - 1) for a, b in
                            ((0, 20), (20, 40), (40, 60)))  # fmt: skip
    low, high = 0, 2
    assert view.peak[bass, low].min() == pytest.approx(0.5, abs=0.03)
    assert view.rms[bass, low].min() == pytest.approx(0.5 / np.sqrt(2), abs=0.03)
    assert view.peak[bass, high].max() < 0.02
    assert view.peak[silence].max() == 0.0
    assert view.rms[highs, high].min() == pytest.approx(0.25 / np.sqrt(2), abs=0.03)
    assert view.peak[highs, low].max() < 0.02


def test_analysis_stores_the_overview_from_the_same_decode(tmp_path: Path, library) -> None:
    rate = 44100
    seconds = 12
    t = np.arange(seconds * rate, dtype=np.float32) / rate
    mono = np.where(t < 6, 0.4 * np.sin(2 * np.pi * 100 * t), 0.0).astype(np.float32)
    path = write_audio(tmp_path / "half.flac", samples=np.stack([mono, mono]), rate=rate)
    result = analyze_file(path, AnalysisOptions(excerpt_seconds=4.0))
    assert result.waveform is not None and result.analysed_seconds == pytest.approx(4.0, abs=0.01)
    view = waveform.decode(result.waveform)
    assert view.seconds == pytest.approx(seconds, abs=0.05)
    half = view.columns // 2
    assert view.rms[: half - 2, 0].min() > 0.2 and view.peak[half + 2 :].max() == 0.0
    writer.upsert_scanned(library, [ScannedFile(str(path), 1, 1.0, TagInfo(format="flac"))])
    track_id = library.track_by_path(str(path)).id
    writer.save_analysis(library, [(track_id, result)])
    assert waveform_of(library, track_id) == result.waveform
    assert analyze_file(path, AnalysisOptions(excerpt_seconds=4.0, waveform=False)).waveform is None


def test_beat_grid_snaps_jumps_and_marks_bars() -> None:
    grid = BeatGrid(120.0, first_beat=0.1, first_downbeat=1.1)
    assert grid.snap(0.33) == pytest.approx(0.1) and grid.snap(0.36) == pytest.approx(0.6)
    assert grid.jump(10.0, 8) == pytest.approx(14.0) and grid.jump(1.0, -8) == 0.0
    beats = grid.beats_between(0.0, 3.2)
    assert [round(t, 2) for t, _ in beats] == [0.1, 0.6, 1.1, 1.6, 2.1, 2.6, 3.1]
    assert [round(t, 2) for t, bar in beats if bar] == [1.1, 3.1]


def test_tap_tempo() -> None:
    assert tap_tempo([]) is None and tap_tempo([5.0]) is None
    taps = [10.0 + i * 60 / 174 for i in range(8)]
    assert tap_tempo(taps) == pytest.approx(174.0)
    jittery = [t + (0.012 if i % 2 else -0.009) for i, t in enumerate(taps)]
    assert tap_tempo(jittery) == pytest.approx(174.0, abs=1.5)
    # a pause starts again: only the taps after it count
    assert tap_tempo([0.0, 0.3, 0.6, 5.0, 5.5, 6.0, 6.5]) == pytest.approx(120.0)
