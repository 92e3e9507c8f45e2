"""Write N tagged audio files of mixed formats into DIR, in nested artist/album folders.

    python tests/benchmarks/make_library.py 100000 /tmp/crate-bench-100000

Tags are realistic for a DJ library: repeated artists and albums, genres, years, track numbers,
BPM and keys in the frames DJ software writes, some non-ASCII names, and one file in 50 with a
cover picture of a few hundred KB.  Encoded audio is made once per format and copied; each file is
then tagged with mutagen, on every core.  Running it again on a finished folder does nothing.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from multiprocessing import get_context
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/, for audiofactory

from audiofactory import write_audio

FORMATS = ("mp3",) * 8 + ("flac",) * 5 + ("m4a",) * 3 + ("ogg",) * 2 + ("wav",) * 2
GENRES = ("House", "Deep House", "Techno", "Tech House", "Drum & Bass", "Dubstep", "Disco", "Hip-Hop",
          "Trance", "Ambient", "Afro House", "Breaks", "Electro", "Garage", "Minimal")  # fmt: skip
FIRST = ("DJ", "Marco", "Nina", "Sven", "Aya", "Björn", "Zoë", "Kōji", "Ана", "Lars", "Chloé", "Omar",
         "Tomás", "Mia", "Jörg", "Ólafur", "Femi", "Kai", "Rosa", "Ivan")  # fmt: skip
LAST = ("Koze", "Carola", "Kraviz", "Väth", "Black", "Müller", "Ødegaard", "Sato", "Novak", "Reyes",
        "Dupont", "Haddad", "Ng", "Keller", "Moreau", "Łukasz", "Smith", "Okafor", "Jensen",
        "Rossi")  # fmt: skip
WORDS = ("Night", "Shift", "Groove", "Deep", "Acid", "Sunrise", "Tunnel", "Echo", "Pulse", "Warehouse",
         "Velvet", "Signal", "Drift", "Lost", "Gold", "Ritual", "Motion", "Static", "Bloom", "Nerve",
         "Café", "Über", "Nocturne", "Sakura", "Jazz", "Dub", "Fever", "Mirror", "Circuit",
         "Tide")  # fmt: skip
KEYS = ("8A", "9A", "10A", "11A", "12A", "1A", "5A", "6A", "7A", "8B", "Am", "Cm", "F#m", "Ebm", "G", "4d")
MARKER = ".crate-bench-complete"


def plan(count: int, seed: int = 7) -> list[tuple[str, dict[str, object], bool]]:
    """(relative path, tags, with cover) for each file: deterministic for a given count and seed."""
    rng = random.Random(seed)
    artists = [f"{rng.choice(FIRST)} {rng.choice(LAST)}" for _ in range(max(5, count // 60))]
    files = []
    index = 0
    while index < count:
        artist = rng.choice(artists)
        album = " ".join(rng.sample(WORDS, rng.randint(1, 3)))
        year = rng.randint(1978, 2025)
        genre = rng.choice(GENRES)
        tracks = min(rng.randint(1, 14), count - index)
        for number in range(1, tracks + 1):
            fmt = FORMATS[index % len(FORMATS)]
            title = " ".join(rng.sample(WORDS, rng.randint(1, 4)))
            if rng.random() < 0.15:
                title += rng.choice((" (Extended Mix)", " (Dub)", " (Remix)", " - Radio Edit"))
            tags: dict[str, object] = {
                "title": title,
                "artist": artist,
                "album": album,
                "albumartist": artist,
                "genre": genre,
                "year": str(year) if rng.random() < 0.7 else f"{year}-{rng.randint(1, 12):02d}-01",
                "track": f"{number}/{tracks}",
                "disc": "1",
                "bpm": f"{rng.uniform(85, 175):.2f}" if rng.random() < 0.8 else str(rng.randint(85, 175)),
                "key": rng.choice(KEYS),
                "comment": f"Purchased {rng.randint(2005, 2025)}" if rng.random() < 0.3 else None,
                "label": f"{rng.choice(WORDS)} Records" if rng.random() < 0.5 else None,
            }
            safe = f"{number:02d} {title}".replace("/", "-")
            path = f"{artist}/{album} ({year})/{safe} [{index}].{fmt}"
            files.append((path, tags, index % 50 == 0))
            index += 1
    return files


def _write(job: tuple[str, list[tuple[str, dict[str, object], bool]], float]) -> int:
    root, items, seconds = job
    cover_rng = random.Random(len(items))
    cover = b"\xff\xd8\xff\xe0" + cover_rng.randbytes(cover_rng.randint(150_000, 400_000)) + b"\xff\xd9"
    for relative, tags, with_cover in items:
        write_audio(Path(root) / relative, tags, seconds=seconds, cover=cover if with_cover else None)
    return len(items)


def make_library(count: int, root: Path, seconds: float = 1.0, processes: int | None = None) -> float:
    """Write the files (unless already there); returns the seconds it took."""
    marker = root / MARKER
    if marker.exists() and marker.read_text().strip() == str(count):
        return 0.0
    started = time.perf_counter()
    files = plan(count)
    jobs = [(str(root), files[i : i + 500], seconds) for i in range(0, len(files), 500)]
    with get_context("spawn").Pool(processes or os.cpu_count() or 1) as pool:
        written = 0
        for done in pool.imap_unordered(_write, jobs):
            written += done
            print(f"\r{written:,} / {count:,} files", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    marker.write_text(str(count))
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("count", type=int)
    parser.add_argument("dir", type=Path)
    parser.add_argument("--seconds", type=float, default=1.0, help="audio length of each file")
    args = parser.parse_args()
    took = make_library(args.count, args.dir, args.seconds)
    print(f"{args.count:,} files in {args.dir} ({'already there' if not took else f'{took:.1f} s'})")


if __name__ == "__main__":
    main()
