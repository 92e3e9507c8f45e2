"""Render a set of DJ tracks from MIDI with a sampled General MIDI SoundFont, with exact tempo and key.

Run: .venv/bin/python tests/benchmarks/render_dj_set.py OUT_FOLDER [--per-genre 3] [--seed 1312]

Needs the ``fluidsynth`` program and a GM SoundFont (Debian: ``fluidsynth`` and ``fluid-soundfont-gm``;
``--soundfont`` overrides the path) and ``mido`` (test extra).  Each track is written as MIDI in one of
twelve DJ genres (house, techno, trance, drum & bass, dubstep, hip-hop, disco, downtempo, reggae,
pop/rock, breakbeat, UK garage) at a tempo and key drawn from the genre's usual range, with the
structure DJ tracks have: a lead-in of silence, an intro of drums only (no harmony), a main part, a
breakdown without drums, a drop and a drum outro.  FluidSynth renders it at 44.1 kHz stereo; the mix
is normalised and softly limited like a master, and encoded in turn as MP3 320 kbps, FLAC and M4A
(AAC 256 kbps).

``annotations.csv`` beside the files gives, per file: the BPM (exactly as the MIDI tempo plays it), the
key, the time of the first downbeat (the first bar's beat 1, in seconds from the start of the file)
and the genre.  ``analysis_accuracy.py --set rendered=OUT_FOLDER`` scores an analysis against it.
Nothing here knows how the detector works.
"""

from __future__ import annotations

import argparse
import csv
import random
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from audiofactory import encode  # noqa: E402

from crate_app.domain.keys import Key  # noqa: E402

SOUNDFONT = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")
RATE = 44100
PPQ = 480
STEP = PPQ // 4  # a sixteenth note
BAR = 16 * STEP
FORMATS = (("mp3", 320_000), ("flac", None), ("m4a", 256_000))

# General MIDI drum notes (channel 10).
KICK, RIM, SNARE, CLAP, CLOSED, PEDAL, OPEN, CRASH, RIDE, SHAKER, TAMBOURINE = (
    36,
    37,
    38,
    39,
    42,
    44,
    46,
    49,
    51,
    70,
    54,
)

MAJOR = (0, 2, 4, 5, 7, 9, 11)
MINOR = (0, 2, 3, 5, 7, 8, 10)


@dataclass(frozen=True)
class Genre:
    name: str
    bpm_range: tuple[float, float]
    # 16-step drum pattern per instrument: {note: steps}
    drums: dict[int, tuple[int, ...]]
    bass_program: int
    chord_program: int
    pad_program: int
    lead_program: int
    bass_steps: tuple[int, ...]  # where bass notes start in a bar
    chord_steps: tuple[int, ...]  # chord stabs (empty: one sustained chord per bar)
    swing: float = 0.0  # delay of odd sixteenths, share of a sixteenth
    minor_share: float = 0.6


FOUR = (0, 4, 8, 12)
OFFBEATS = (2, 6, 10, 14)
EIGHTHS = (0, 2, 4, 6, 8, 10, 12, 14)
SIXTEENTHS = tuple(range(16))

GENRES = (
    Genre(
        "house",
        (120, 126),
        {KICK: FOUR, CLAP: (4, 12), OPEN: OFFBEATS, CLOSED: SIXTEENTHS},
        38,
        4,
        89,
        81,
        OFFBEATS,
        (3, 6, 10),
        minor_share=0.5,
    ),
    Genre(
        "techno",
        (126, 134),
        {KICK: FOUR, CLOSED: OFFBEATS, RIDE: SIXTEENTHS, CLAP: (4, 12)},
        39,
        16,
        90,
        82,
        (2, 3, 6, 7, 10, 11, 14, 15),
        (0, 6, 12),
        minor_share=0.8,
    ),
    Genre(
        "trance",
        (134, 140),
        {KICK: FOUR, CLAP: (4, 12), OPEN: OFFBEATS, CLOSED: SIXTEENTHS},
        38,
        81,
        89,
        81,
        (1, 2, 3, 5, 6, 7, 9, 10, 11, 13, 14, 15),
        (),
        minor_share=0.7,
    ),
    Genre(
        "dnb",
        (170, 176),
        {KICK: (0, 10), SNARE: (4, 12), CLOSED: EIGHTHS, RIDE: (2, 6, 10, 14)},
        39,
        4,
        89,
        82,
        (0, 10),
        (),
        minor_share=0.8,
    ),
    Genre(
        "dubstep",
        (138, 142),
        {KICK: (0, 3), SNARE: (8,), CLOSED: EIGHTHS},
        39,
        81,
        90,
        81,
        (0, 3, 6, 10),
        (),
        minor_share=0.9,
    ),
    Genre(
        "hiphop",
        (84, 96),
        {KICK: (0, 7, 10), SNARE: (4, 12), CLOSED: EIGHTHS},
        33,
        4,
        89,
        0,
        (0, 7, 10),
        (0, 8),
        swing=0.3,
        minor_share=0.6,
    ),
    Genre(
        "disco",
        (114, 122),
        {KICK: FOUR, SNARE: (4, 12), OPEN: OFFBEATS, CLOSED: SIXTEENTHS},
        33,
        48,
        48,
        61,
        EIGHTHS,
        (2, 6, 10, 14),
        minor_share=0.4,
    ),
    Genre(
        "downtempo",
        (90, 104),
        {KICK: (0, 8, 11), SNARE: (4, 12), SHAKER: SIXTEENTHS},
        33,
        4,
        89,
        73,
        (0, 8, 11),
        (),
        minor_share=0.6,
    ),
    Genre(
        "reggae",
        (68, 80),
        {KICK: (8,), RIM: (8,), CLOSED: EIGHTHS},
        33,
        27,
        16,
        0,
        (0, 3, 6, 8, 11),
        (4, 12),
        minor_share=0.5,
    ),
    Genre(
        "poprock",
        (108, 130),
        {KICK: (0, 6, 8), SNARE: (4, 12), CLOSED: EIGHTHS},
        34,
        30,
        48,
        0,
        EIGHTHS,
        EIGHTHS,
        minor_share=0.3,
    ),
    Genre(
        "breaks",
        (126, 136),
        {KICK: (0, 10), SNARE: (4, 12), CLOSED: SIXTEENTHS, OPEN: (14,)},
        38,
        81,
        89,
        81,
        (0, 10),
        (0, 6),
        minor_share=0.7,
    ),
    Genre(
        "garage",
        (128, 134),
        {KICK: (0, 9), SNARE: (4, 12), CLOSED: (2, 6, 10, 14, 15)},
        38,
        4,
        89,
        81,
        (0, 9, 14),
        (3, 11),
        swing=0.25,
        minor_share=0.6,
    ),
)

MAJOR_PROGRESSIONS = ((0, 4, 5, 3), (0, 3, 4, 4), (0, 5, 3, 4), (0, 3, 0, 4), (0, 1, 4, 0))
MINOR_PROGRESSIONS = ((0, 5, 2, 6), (0, 3, 5, 4), (0, 6, 5, 6), (0, 3, 0, 4), (0, 5, 3, 6))


@dataclass(frozen=True)
class Piece:
    name: str
    genre: Genre
    bpm: float  # as the MIDI tempo plays it
    key: Key
    lead_in: float  # seconds of silence before the first downbeat
    sections: tuple[tuple[str, int], ...]  # (kind, bars): intro, main, breakdown, drop, outro
    progression: tuple[int, ...]
    seed: int


def plan(genre: Genre, index: int, rng: random.Random, target_seconds: float) -> Piece:
    import mido

    wanted = rng.uniform(*genre.bpm_range)
    tempo_us = mido.bpm2tempo(round(wanted, 1))
    bpm = 60_000_000 / tempo_us
    minor = rng.random() < genre.minor_share
    key = Key(rng.randrange(12), minor)
    bar_seconds = 4 * 60 / bpm
    bars = max(16, round(target_seconds / bar_seconds / 4) * 4)
    intro = 8 if bars >= 32 else 4
    breakdown = 8 if bars >= 32 else 4
    outro = 4
    rest = bars - intro - breakdown - outro
    main = max(4, (rest // 2) // 4 * 4)
    drop = max(4, rest - main)
    progression = rng.choice(MINOR_PROGRESSIONS if minor else MAJOR_PROGRESSIONS)
    return Piece(
        name=f"{index:02d}-{genre.name}-{bpm:.2f}-{key.musical().replace(' ', '')}",
        genre=genre,
        bpm=bpm,
        key=key,
        lead_in=round(rng.uniform(0.05, 1.2), 3),
        sections=(
            ("intro", intro),
            ("main", main),
            ("breakdown", breakdown),
            ("drop", drop),
            ("outro", outro),
        ),
        progression=progression,
        seed=rng.randrange(1 << 30),
    )


def write_midi(piece: Piece, path: Path) -> None:
    """The arrangement as a type-1 MIDI file: drums, bass, chords, pad and lead on their own channels."""
    import mido

    rng = random.Random(piece.seed)
    g = piece.genre
    scale = MINOR if piece.key.minor else MAJOR
    tonic = 48 + piece.key.pitch_class  # C3..B3
    events: list[tuple[int, int, mido.Message]] = []  # (tick, order, message)
    ticks_per_second = PPQ * piece.bpm / 60
    start = round(piece.lead_in * ticks_per_second)

    def note(tick: float, channel: int, pitch: int, velocity: int, length: float) -> None:
        tick = round(tick)
        velocity = max(1, min(127, velocity))
        events.append((tick, 1, mido.Message("note_on", channel=channel, note=pitch, velocity=velocity)))
        events.append((tick + max(1, int(length)), 0, mido.Message("note_off", channel=channel, note=pitch)))

    def step_tick(bar_start: int, step: int) -> float:
        return bar_start + step * STEP + (g.swing * STEP if step % 2 else 0.0)

    def chord_notes(degree: int, base: int) -> list[int]:
        return [base + scale[(degree + k) % 7] + 12 * ((degree + k) // 7) for k in (0, 2, 4)]

    for channel, program in (
        (0, g.bass_program),
        (1, g.chord_program),
        (2, g.pad_program),
        (3, g.lead_program),
    ):
        events.append((0, 0, mido.Message("program_change", channel=channel, program=program)))
    events.append((0, 0, mido.Message("control_change", channel=0, control=7, value=110)))
    events.append((0, 0, mido.Message("control_change", channel=1, control=7, value=80)))
    events.append((0, 0, mido.Message("control_change", channel=2, control=7, value=70)))
    events.append((0, 0, mido.Message("control_change", channel=3, control=7, value=75)))
    events.append((0, 0, mido.Message("control_change", channel=9, control=7, value=120)))

    bar_index = 0
    melody = [rng.choice((0, 2, 4, 7, 4, 2)) for _ in range(8)]
    for kind, bars in piece.sections:
        for b in range(bars):
            bar_start = start + bar_index * BAR
            degree = piece.progression[bar_index % len(piece.progression)]
            drums = kind in ("intro", "main", "drop", "outro")
            harmony = kind in ("main", "breakdown", "drop")
            if drums:
                for pitch, steps in g.drums.items():
                    if kind == "intro" and b < 2 and pitch not in (KICK, CLOSED, PEDAL, SHAKER):
                        continue  # the first intro bars: kick and hats only
                    for s in steps:
                        accent = 1.0 if s % 4 == 0 else 0.8
                        velocity = int(
                            rng.uniform(0.85, 1.0)
                            * accent
                            * (110 if pitch in (KICK, SNARE, CLAP, RIM) else 80)
                        )
                        note(
                            step_tick(bar_start, s)
                            + rng.uniform(-4, 4) * (pitch in (CLOSED, OPEN, SHAKER, RIDE)),
                            9,
                            pitch,
                            velocity,
                            STEP,
                        )
                if b == 0 and kind in ("main", "drop"):
                    note(bar_start, 9, CRASH, 100, 4 * STEP)
            if harmony:
                root_chord = chord_notes(degree, tonic)
                if kind != "breakdown":
                    for s in g.bass_steps:
                        pitch = root_chord[0] - 12 + (12 if g.name == "disco" and s % 4 == 2 else 0)
                        note(step_tick(bar_start, s), 0, pitch, int(rng.uniform(95, 110)), 1.6 * STEP)
                    if g.chord_steps:
                        for s in g.chord_steps:
                            for pitch in chord_notes(degree, tonic + 12):
                                note(step_tick(bar_start, s), 1, pitch, int(rng.uniform(70, 90)), 1.5 * STEP)
                    else:
                        for pitch in chord_notes(degree, tonic + 12):
                            note(bar_start, 1, pitch, 70, BAR - STEP)
                # Pad through the whole harmonic part; the breakdown has pad and lead only.
                for pitch in chord_notes(degree, tonic + 12):
                    note(bar_start, 2, pitch, 60 if kind != "breakdown" else 80, BAR - 10)
                if kind in ("breakdown", "drop"):
                    for i, s in enumerate((0, 4, 8, 12)):
                        offset = melody[(b * 4 + i) % len(melody)]
                        pitch = tonic + 24 + scale[(degree + offset) % 7] + 12 * ((degree + offset) // 7)
                        note(step_tick(bar_start, s), 3, pitch, int(rng.uniform(80, 100)), 3.5 * STEP)
            bar_index += 1

    events.sort(key=lambda e: (e[0], e[1]))
    midi = mido.MidiFile(type=0, ticks_per_beat=PPQ)
    track = mido.MidiTrack()
    midi.tracks.append(track)
    track.append(mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(round(piece.bpm, 1)), time=0))
    last = 0
    for tick, _, message in events:
        track.append(message.copy(time=tick - last))
        last = tick
    track.append(mido.MetaMessage("end_of_track", time=PPQ * 2))
    midi.save(path)


def render(midi_path: Path, soundfont: Path) -> np.ndarray:
    """FluidSynth's rendering of a MIDI file: float32 (2, n) at 44.1 kHz."""
    import soundfile

    with tempfile.TemporaryDirectory(prefix="crate-render-") as folder:
        wav = Path(folder) / "out.wav"
        subprocess.run(
            [
                "fluidsynth",
                "-ni",
                "-q",
                "-g",
                "0.5",
                "-r",
                str(RATE),
                "-F",
                str(wav),
                str(soundfont),
                str(midi_path),
            ],
            check=True,
            capture_output=True,
        )
        samples, rate = soundfile.read(wav, dtype="float32", always_2d=True)
    assert rate == RATE
    return samples.T.copy()


def master(samples: np.ndarray) -> np.ndarray:
    """Normalise to -1 dBFS after a soft limiter that pushes the loud parts up like a club master."""
    peak = float(np.max(np.abs(samples))) or 1.0
    driven = np.tanh(1.8 * samples / peak) / np.tanh(1.8)
    return (0.89 * driven).astype(np.float32)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--per-genre", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1312)
    parser.add_argument("--seconds", type=float, default=75.0, help="target length of each track")
    parser.add_argument("--soundfont", type=Path, default=SOUNDFONT)
    args = parser.parse_args()
    if shutil.which("fluidsynth") is None or not args.soundfont.exists():
        sys.exit(
            "needs the fluidsynth program and a GM SoundFont (apt-get install fluidsynth fluid-soundfont-gm)"
        )
    args.out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(args.seed)
    rows = []
    index = 0
    for round_ in range(args.per_genre):
        for number, genre in enumerate(GENRES):
            piece = plan(genre, index, rng, args.seconds)
            fmt, bit_rate = FORMATS[(number + round_) % len(FORMATS)]
            target = args.out / f"{piece.name}.{fmt}"
            if not target.exists():
                midi_path = args.out / f"{piece.name}.mid"
                write_midi(piece, midi_path)
                audio = master(render(midi_path, args.soundfont))
                target.write_bytes(encode(audio, RATE, fmt, bit_rate=bit_rate))
                print(f"{target.name}: {audio.shape[1] / RATE:.1f} s", flush=True)
            rows.append(
                (target.name, f"{piece.bpm:.4f}", piece.key.musical(), f"{piece.lead_in:.4f}", genre.name)
            )
            index += 1
    with open(args.out / "annotations.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(("file", "bpm", "key", "first_downbeat", "genre"))
        writer.writerows(rows)
    print(f"{len(rows)} tracks in {args.out}")


if __name__ == "__main__":
    main()
