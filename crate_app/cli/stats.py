"""``crate-cli stats``: counts of tracks, missing files, errors and analysed tracks."""

from __future__ import annotations

import argparse

from crate_app.cli.common import open_from_args, print_json


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("stats", help="counts: tracks, ok, missing, errors, analyzed")
    parser.add_argument("--json", action="store_true", help="one JSON object")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    library = open_from_args(args, create=False)
    stats = library.stats()
    library.close()
    if args.json:
        print_json(stats)
    else:
        width = max(len(name) for name in stats)
        for name, value in stats.items():
            print(f"{name.replace('_', ' '):<{width}}  {value:>12,}")
    return 0
