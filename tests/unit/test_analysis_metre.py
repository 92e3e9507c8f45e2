"""The octave, phase and bar rules of crate_app.analysis.metre on onset envelopes with known rhythm."""

from __future__ import annotations

import numpy as np
import pytest

from crate_app.analysis import metre
from crate_app.analysis.tempo import fit_beat_line, is_variable

FPS = 11025 / 256  # the analysis frame rate


def pulses(bpm: float, every: float, offset: float = 0.0, seconds: float = 60.0, height: float = 1.0):
    """An onset envelope with a pulse every ``every`` beats of ``bpm``, starting ``offset`` beats in."""
    envelope = np.zeros(int(seconds * FPS))
    period = 60.0 / bpm * FPS
    for position in np.arange(offset * period, len(envelope) - 1, every * period):
        envelope[round(position)] += height
    return envelope


def test_drum_and_bass_backbeat_is_counted_at_174_even_when_tracked_at_87() -> None:
    snare = pulses(174, 2, offset=1)  # beats 2 and 4
    low = pulses(174, 4) + pulses(174, 4, offset=2.5)  # kick on 1 and the "and" of 3
    choice = metre.choose_octave(87.0, snare, low, FPS, prior_bpm=89.0)
    assert choice.bpm == pytest.approx(174.0)
    assert choice.alt_bpm == pytest.approx(87.0) and choice.rule == "backbeat"


def test_half_time_dubstep_stays_at_140_and_hip_hop_backbeat_at_90() -> None:
    dubstep = metre.choose_octave(70.0, pulses(140, 4, offset=2), pulses(140, 4), FPS, 92.0, pulses(140, 0.5))
    assert dubstep.bpm == pytest.approx(140.0)
    hiphop = metre.choose_octave(180.0, pulses(90, 2, offset=1), pulses(90, 4), FPS, 120.0, pulses(90, 0.5))
    assert hiphop.bpm == pytest.approx(90.0)


def test_reggae_with_empty_off_beat_eighths_is_counted_slow() -> None:
    full = pulses(70, 0.5)  # eighth-note hats at 70: the eighths of 140 in between stay empty
    choice = metre.choose_octave(140.0, pulses(70, 2, offset=1), pulses(70, 4, offset=2), FPS, 140.0, full)
    assert choice.bpm == pytest.approx(70.0)


def test_a_one_drop_is_slow_but_a_clap_every_two_bars_over_busy_hats_is_not() -> None:
    one_drop = pulses(68, 4, offset=2)  # the snare on beat 3 of each bar at 68
    reggae = metre.choose_octave(136.0, one_drop, pulses(68, 4), FPS, 136.0, pulses(68, 0.5))
    assert reggae.bpm == pytest.approx(68.0) and reggae.rule == "one-drop"
    clap = pulses(127, 8, offset=7)  # one clap every two bars, kicks on 1 and 3, hats on the eighths
    house = metre.choose_octave(127.0, clap, pulses(127, 2), FPS, 127.0, pulses(127, 0.5))
    assert house.bpm == pytest.approx(127.0)
    # The same pattern without the hats' evidence is read as a one drop: the eighths decide.
    assert metre.choose_octave(127.0, clap, pulses(127, 2), FPS, 127.0, None).rule == "one-drop"


def test_without_a_snare_pattern_the_prior_decides() -> None:
    flat = np.ones(int(60 * FPS))
    choice = metre.choose_octave(65.0, flat, pulses(130, 1), FPS, prior_bpm=126.0)
    assert choice.bpm == pytest.approx(130.0) and choice.rule == "prior"


def test_downbeat_is_where_the_kick_lands_and_the_snare_does_not() -> None:
    period = 60.0 / 128 * FPS
    low = pulses(128, 4, offset=1) + 0.3 * pulses(128, 4, offset=3)  # bars start on grid beat 1
    snare = pulses(128, 4, offset=2) + pulses(128, 4, offset=4)
    assert metre.downbeat_offset(low, snare, first=0.0, period=period) == 1


def test_grid_phase_finds_the_pulse_offset_to_a_fraction_of_a_frame() -> None:
    period = 60.0 / 124 * FPS
    envelope = pulses(124, 1, offset=0.25)
    assert metre.grid_phase(envelope, period) == pytest.approx(0.25 * period, abs=0.6)


def test_variable_tempo_is_flagged_and_a_steady_one_is_not() -> None:
    steady = 0.3 + np.arange(200) * 0.5
    fit = fit_beat_line(steady)
    assert fit is not None and not is_variable(steady, fit)
    intervals = np.linspace(0.5, 0.44, 199)  # a live drummer speeding up 120 -> 136 BPM
    drifting = np.concatenate([[0.3], 0.3 + np.cumsum(intervals)])
    fit = fit_beat_line(drifting)
    assert fit is None or is_variable(drifting, fit)


def test_a_snare_blurred_by_busy_hats_over_dense_eighths_still_counts_drum_and_bass_fast() -> None:
    snare = pulses(174, 4, offset=1)  # only every other backbeat stands out of the hats
    choice = metre.choose_octave(87.0, snare, pulses(174, 4), FPS, 89.0, pulses(174, 0.5))
    assert choice.bpm == pytest.approx(174.0) and choice.rule == "backbeat, dense eighths"
