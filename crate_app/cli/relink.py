"""``crate-cli relink FOLDER [--dry-run] [--json]``: find moved files of missing tracks by content."""

from __future__ import annotations

import argparse
import sys

from crate_app.cli.common import open_from_args, print_json, stop_on_interrupt
from crate_app.domain.track import display_path
from crate_app.hygiene import relink


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "relink",
        help="find the files of missing tracks in a folder (moved or renamed outside Crate)",
        description="Match missing tracks to the files in FOLDER by size and audio hash, then by "
        "fingerprint; each track keeps its id (analysis, crates, history). A track with several "
        "candidates is listed as ambiguous and left alone: Crate never guesses.",
    )
    parser.add_argument("folder", metavar="FOLDER", help="where the moved files are (searched recursively)")
    parser.add_argument("--dry-run", action="store_true", help="only say what would be relinked")
    parser.add_argument(
        "--json", action="store_true", help="one JSON object: relinked, ambiguous, not_found, seconds"
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    library = open_from_args(args, create=False)
    try:
        with stop_on_interrupt() as stop:
            plan = relink.plan_relink(library, args.folder, should_stop=stop.is_set)
        if not args.dry_run and not plan.cancelled:
            relink.apply_relink(library, plan.relinked)
    finally:
        library.close()
    if args.json:
        print_json(
            {
                "relinked": [
                    {"id": i, "from": display_path(o), "to": display_path(n)} for i, o, n in plan.relinked
                ],
                "ambiguous": [
                    {"id": i, "path": display_path(o), "candidates": [display_path(c) for c in cands]}
                    for i, o, cands in plan.ambiguous
                ],
                "not_found": [{"id": i, "path": display_path(o)} for i, o in plan.not_found],
                "seconds": plan.seconds,
            }
        )
    else:
        verb = "would relink" if args.dry_run else "relinked"
        for _id, old, new in plan.relinked:
            print(f"{verb}: {display_path(old)} -> {display_path(new)}")
        for _id, old, candidates in plan.ambiguous:
            print(f"ambiguous: {display_path(old)}: {len(candidates)} candidates (choose in the window)")
            for candidate in candidates:
                print(f"    {display_path(candidate)}")
        print(
            f"{len(plan.relinked):,} {verb}, {len(plan.ambiguous):,} ambiguous, "
            f"{len(plan.not_found):,} not found, {plan.seconds:.1f} s"
        )
    if plan.cancelled:
        print("crate-cli: interrupted: nothing was relinked", file=sys.stderr)
        return 130
    return 0
