"""``crate-cli dupes [--by tags|audio|fingerprint] [--json]``: duplicate sets with the copy to keep."""

from __future__ import annotations

import argparse
import sys

from crate_app.cli.common import CliError, ProgressLine, open_from_args, print_json, stop_on_interrupt
from crate_app.domain.track import display_path
from crate_app.hygiene import duplicates, hashing
from crate_app.hygiene.fingerprint import fingerprint_available


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "dupes",
        help="list duplicate tracks, with the copy to keep",
        description="Duplicates by tags (same artist and title, durations within 2 s), by audio (the same "
        "audio whatever the tags; files not hashed yet are hashed first) or by fingerprint (the same "
        "recording, through Chromaprint; files not fingerprinted yet are fingerprinted first).",
    )
    parser.add_argument("--by", choices=duplicates.LEVELS, default="tags", help="how tracks are compared")
    parser.add_argument(
        "--json", action="store_true", help="one JSON object per set: by, tracks (id, path), keep"
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    library = open_from_args(args, create=False)
    try:
        if args.by != "tags":
            _hash_what_is_missing(library, fingerprints=args.by == "fingerprint")
        sets = duplicates.find_duplicates(library, args.by)
        paths = {t.id: t.path for t in library.tracks_by_ids([i for s in sets for i in s.track_ids])}
    finally:
        library.close()
    for found in sets:
        if args.json:
            print_json(
                {
                    "by": found.by,
                    "tracks": [{"id": i, "path": display_path(paths[i])} for i in found.track_ids],
                    "keep": found.keep,
                }
            )
        else:
            print(f"{found.by}: {len(found.track_ids)} copies")
            for track_id in found.track_ids:
                mark = "keep" if track_id == found.keep else "    "
                print(f"  {mark} {track_id:>8}  {display_path(paths[track_id])}")
    if not args.json:
        print(f"{len(sets):,} duplicate set(s), {sum(len(s.track_ids) - 1 for s in sets):,} extra copies")
    return 0


def _hash_what_is_missing(library, *, fingerprints: bool) -> None:
    if fingerprints and not fingerprint_available():
        raise CliError("fingerprints need Chromaprint: install libchromaprint1 or libchromaprint-tools")
    todo = hashing.tracks_to_hash(library, fingerprints=fingerprints)
    if not todo:
        return
    progress = ProgressLine(sys.stderr, "hashing " if not fingerprints else "fingerprinting ")
    with stop_on_interrupt() as stop:
        try:
            summary = hashing.compute_hashes(
                library, todo, fingerprints=fingerprints, progress=progress, should_stop=stop.is_set
            )
        finally:
            progress.clear()
    if summary.cancelled:
        raise CliError("interrupted: the files hashed so far are kept; run it again to go on")
