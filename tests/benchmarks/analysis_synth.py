"""Synthetic dance tracks with a known tempo and key, for the analysis benchmark and tests.

Each track is a loop of four chords (I-IV-V-vi or i-iv-v-VI in some order, one per bar) played as a
pad or as stabs, a bassline on the chord roots, an optional arpeggio, and a drum kit (kick, snare or
clap, closed and open hats) in a pattern typical of the style that goes with the tempo: hip-hop with
swing, breaks, house, techno, trance, half-time dubstep, drum & bass.  Velocities and hat timing are
humanised, a little noise is added, the whole track may be detuned, and the first and last bars are
drums only, as in DJ-friendly intros and outros.  Nothing here knows how the detector works.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MAJOR_STEPS = (0, 2, 4, 5, 7, 9, 11)
NATURAL_MINOR_STEPS = (0, 2, 3, 5, 7, 8, 10)
# Progressions as scale degrees (0-based); every one starts on the tonic.
MAJOR_PROGRESSIONS = ((0, 3, 4, 5), (0, 4, 5, 3), (0, 5, 3, 4), (0, 3, 5, 4))  # I-IV-V-vi, I-V-vi-IV, ...
MINOR_PROGRESSIONS = ((0, 3, 4, 5), (0, 5, 3, 4), (0, 4, 5, 3), (0, 3, 5, 4))  # i-iv-v-VI, i-VI-iv-v, ...

# Drum patterns on a 16-step bar: (kick, snare/clap, closed hat, open hat) step lists.
PATTERNS = {
    "hiphop": ((0, 7, 10), (4, 12), tuple(range(0, 16, 2)), ()),
    "breaks": ((0, 10), (4, 12), tuple(range(16)), (14,)),
    "house": ((0, 4, 8, 12), (4, 12), tuple(range(16)), (2, 6, 10, 14)),
    "techno": ((0, 4, 8, 12), (4, 12), (2, 6, 10, 14), (2, 6, 10, 14)),
    "trance": ((0, 4, 8, 12), (4, 12), tuple(range(16)), (2, 6, 10, 14)),
    "dubstep": ((0, 3), (8,), tuple(range(0, 16, 2)), ()),  # half-time: snare on beat 3 only
    "dnb": ((0, 10), (4, 12), tuple(range(0, 16, 2)), (7,)),
}


@dataclass(frozen=True)
class TrackSpec:
    bpm: float
    tonic: int  # pitch class, 0 = C
    minor: bool
    style: str
    progression: tuple[int, int, int, int]
    seconds: float = 120.0
    detune_cents: float = 0.0
    swing: float = 0.0  # delay of the off-beat 16ths, as a fraction of a 16th
    arpeggio: bool = False
    stabs: bool = False
    seed: int = 0

    @property
    def octave_trap(self) -> bool:
        """Styles whose drums suggest half the true tempo (a trap for tempo detectors)."""
        return self.style in ("dubstep", "dnb")


def style_for(bpm: float, rng: np.random.Generator) -> str:
    if bpm < 100:
        return "hiphop"
    if bpm < 118:
        return "breaks"
    if bpm < 128:
        return "house"
    if bpm < 136:
        return str(rng.choice(["techno", "house"]))
    if bpm < 150:
        return str(rng.choice(["trance", "dubstep"]))
    if bpm < 160:
        return "techno"
    return "dnb"


def make_specs(count: int = 48, seed: int = 2024, seconds: float = 120.0) -> list[TrackSpec]:
    """``count`` tracks covering all 24 keys evenly, tempi 85-175 BPM, a few detuned."""
    rng = np.random.default_rng(seed)
    specs = []
    for i in range(count):
        code = i % 24
        tonic, minor = (code * 7) % 12, bool((i // 24 + code) % 2)
        bpm = round(float(rng.uniform(85.0, 175.0)), 2)
        style = style_for(bpm, rng)
        if style == "dubstep":
            bpm = round(float(rng.uniform(138.0, 150.0)), 2)
        progressions = MINOR_PROGRESSIONS if minor else MAJOR_PROGRESSIONS
        specs.append(
            TrackSpec(
                bpm=bpm,
                tonic=tonic,
                minor=minor,
                style=style,
                progression=progressions[int(rng.integers(len(progressions)))],
                seconds=seconds,
                detune_cents=float(rng.uniform(-30, 30)) if rng.random() < 0.3 else 0.0,
                swing=float(rng.uniform(0.1, 0.3))
                if style in ("hiphop", "house") and rng.random() < 0.6
                else 0.0,
                arpeggio=style in ("trance", "techno") or rng.random() < 0.2,
                stabs=style in ("house", "dnb") and rng.random() < 0.5,
                seed=int(rng.integers(1 << 30)),
            )
        )
    return specs


def _midi_to_hz(note: float, detune_cents: float) -> float:
    return 440.0 * 2.0 ** ((note - 69) / 12.0 + detune_cents / 1200.0)


def _envelope(n: int, rate: int, attack: float, decay: float, sustain_level: float = 0.0) -> np.ndarray:
    t = np.arange(n) / rate
    env = np.minimum(1.0, t / max(attack, 1e-4))
    return env * (sustain_level + (1 - sustain_level) * np.exp(-t / decay))


def _tone(
    freq: float, n: int, rate: int, partials: int, rolloff: float, rng: np.random.Generator
) -> np.ndarray:
    """An additive saw-like tone: ``partials`` harmonics with amplitude 1/k**rolloff, random phases."""
    t = np.arange(n) / rate
    out = np.zeros(n)
    for k in range(1, partials + 1):
        if freq * k > rate / 2 * 0.9:
            break
        out += np.sin(2 * np.pi * freq * k * t + rng.uniform(0, 2 * np.pi)) / k**rolloff
    return out


def _drum_kit(rate: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    def noise(seconds: float) -> np.ndarray:
        return rng.standard_normal(int(seconds * rate))

    t = np.arange(int(0.35 * rate)) / rate
    sweep = 45 + 110 * np.exp(-t * 35)
    kick = np.sin(2 * np.pi * np.cumsum(sweep) / rate) * np.exp(-t * 9)
    kick[: int(0.003 * rate)] += noise(0.003) * 0.4
    ts = np.arange(int(0.2 * rate)) / rate
    snare_noise = noise(0.2)
    snare_noise = np.diff(snare_noise, prepend=0.0)  # brighter
    snare = 0.5 * snare_noise * np.exp(-ts * 22) + 0.6 * np.sin(2 * np.pi * 190 * ts) * np.exp(-ts * 30)
    hat_noise = np.diff(np.diff(noise(0.25), prepend=0.0), prepend=0.0)
    th = np.arange(len(hat_noise)) / rate
    closed = 0.25 * hat_noise * np.exp(-th * 90)
    opened = 0.18 * hat_noise * np.exp(-th * 14)
    return {"kick": kick, "snare": snare, "closed": closed, "open": opened}


def _add(out: np.ndarray, sound: np.ndarray, at: int, gain: float) -> None:
    if at >= len(out) or at + len(sound) <= 0:
        return
    lo = max(0, at)
    hi = min(len(out), at + len(sound))
    out[lo:hi] += gain * sound[lo - at : hi - at]


def render(spec: TrackSpec, rate: int = 44100) -> np.ndarray:
    """The track as float32 stereo, shape (2, n)."""
    rng = np.random.default_rng(spec.seed)
    n = int(spec.seconds * rate)
    beat = 60.0 / spec.bpm
    step = beat / 4
    bar = beat * 4
    bars = int(spec.seconds / bar) + 1
    drums = np.zeros(n)
    bass = np.zeros(n)
    harmony = np.zeros(n)
    kit = _drum_kit(rate, rng)
    kick_steps, snare_steps, closed_steps, open_steps = PATTERNS[spec.style]
    steps = NATURAL_MINOR_STEPS if spec.minor else MAJOR_STEPS
    tonic_midi = 48 + spec.tonic  # C3..B3

    def step_time(bar_index: int, s: int) -> float:
        swing = spec.swing * step if s % 2 == 1 else 0.0
        return bar_index * bar + s * step + swing

    for b in range(bars):
        drums_only = b < 4 or b >= bars - 4
        for s in kick_steps:
            _add(drums, kit["kick"], int(step_time(b, s) * rate), 0.9 * rng.uniform(0.9, 1.0))
        for s in snare_steps:
            _add(drums, kit["snare"], int(step_time(b, s) * rate), 0.55 * rng.uniform(0.85, 1.0))
        for s in closed_steps:
            jitter = rng.normal(0, 0.002)
            accent = 1.0 if s % 4 == 2 else 0.6
            _add(drums, kit["closed"], int((step_time(b, s) + jitter) * rate), accent * rng.uniform(0.6, 1.0))
        for s in open_steps:
            _add(drums, kit["open"], int(step_time(b, s) * rate), rng.uniform(0.6, 0.9))
        if drums_only:
            continue
        degree = spec.progression[b % 4]
        root = tonic_midi + steps[degree]
        # Triad of the scale: degree, degree + 2, degree + 4 (diatonic thirds).
        chord = [tonic_midi + steps[(degree + k) % 7] + 12 * ((degree + k) // 7) for k in (0, 2, 4)]
        chord = [note + 12 if note < 55 else note for note in chord]  # voice around G3-G4
        bass_note = root - 24 if root - 24 >= 33 else root - 12  # A1 .. G#2
        bass_freq = _midi_to_hz(bass_note, spec.detune_cents)
        # Bass: eighths on the root (house-style off-beats for four-to-the-floor styles).
        eighths = range(1, 8, 2) if spec.style in ("house", "techno", "trance") else range(0, 8, 2)
        for e in eighths:
            start = int((b * bar + e * beat / 2) * rate)
            length = int(beat / 2 * 0.9 * rate)
            note = _tone(bass_freq, length, rate, 8, 1.0, rng) * _envelope(length, rate, 0.005, 0.25, 0.3)
            _add(bass, note, start, 0.35)
        # Chords: a pad for the whole bar, or stabs on the off-beats.
        for note_number in chord:
            freq = _midi_to_hz(note_number, spec.detune_cents)
            if spec.stabs:
                for off in (0.5, 1.5, 2.5, 3.5):
                    length = int(beat * 0.4 * rate)
                    tone = _tone(freq, length, rate, 6, 1.2, rng) * _envelope(length, rate, 0.003, 0.12, 0.0)
                    _add(harmony, tone, int((b * bar + off * beat) * rate), 0.16)
            else:
                length = int(bar * rate)
                tone = _tone(freq, length, rate, 6, 1.3, rng) * _envelope(length, rate, 0.08, 3.0, 0.6)
                _add(harmony, tone, int(b * bar * rate), 0.12)
        if spec.arpeggio:
            arp = [*chord, chord[0] + 12]
            for s in range(16):
                freq = _midi_to_hz(arp[s % 4] + 12, spec.detune_cents)
                length = int(step * 0.9 * rate)
                tone = _tone(freq, length, rate, 4, 1.5, rng) * _envelope(length, rate, 0.002, 0.08, 0.0)
                _add(harmony, tone, int(step_time(b, s) * rate), 0.08)
    noise = rng.standard_normal(n) * 0.004
    mix = drums * 0.8 + bass + harmony + noise
    # Slight stereo spread: the harmony a little wider.
    left = mix + 0.1 * harmony
    right = mix - 0.1 * harmony
    stereo = np.stack([left, right])
    peak = np.abs(stereo).max()
    return (stereo / peak * 0.89).astype(np.float32)
