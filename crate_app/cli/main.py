"""``crate-cli``: the library from a terminal.  Each command lives in its own module and is
registered from ``COMMANDS``; a module provides ``register(subparsers)``, which adds its parser and
sets ``run`` (``args -> exit code``) as a default.  Importing this never loads Qt or the analysis libraries.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import NoReturn

from crate_app.cli import analyze, backup, crate, dupes, exchange, ls, relink, rename, scan, stats
from crate_app.domain.errors import CrateError
from crate_app.store.library import DATABASE_ERRORS, describe_database_error

COMMANDS = (scan, stats, ls, rename, analyze, backup, dupes, exchange, relink, crate)
PROG = "crate-cli"


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line: 'crate-cli: error: ...'."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{PROG}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog=PROG, description="Crate, the DJ music library, from the command line.")
    parser.add_argument(
        "--library",
        metavar="PATH",
        help="library file (default: $CRATE_LIBRARY, else the library in your data folder)",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in COMMANDS:
        module.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except CrateError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return getattr(exc, "exit_code", 2)
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `crate-cli ls | head`
        sys.stderr.close()
        return 0
    except DATABASE_ERRORS as exc:  # busy for longer than the wait, a full disk: not a bug, one line
        print(f"{PROG}: error: {describe_database_error(exc)}", file=sys.stderr)
        return 1
    except OSError as exc:  # a folder or file the command needs, in the user's words
        where = f": {exc.filename}" if exc.filename else ""
        print(f"{PROG}: error: {exc.strerror or exc}{where}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
