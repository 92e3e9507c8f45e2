"""``crate-cli ls [QUERY]``: list tracks, streamed page by page (fine for a million rows)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator

from crate_app import crates
from crate_app.cli.common import CliError, open_from_args, print_json, whole_number
from crate_app.domain.crates import CrateTreeError
from crate_app.domain.keys import KeyNotation, format_key_code
from crate_app.domain.search import QuerySyntaxError, parse_query
from crate_app.domain.track import TrackRecord, display_path
from crate_app.store.library import Library
from crate_app.store.schema import SORTABLE_COLUMNS
from crate_app.store.view import POSITION, SortOrder, TrackView

PAGE_ROWS = 1_000
# Plain-text table: (header, width); text is cut to the width so rows stream without a first pass.
TABLE_COLUMNS = (("ARTIST", 24), ("TITLE", 34), ("ALBUM", 24), ("GENRE", 14), ("BPM", 6), ("KEY", 4),
                 ("TIME", 6))  # fmt: skip


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "ls",
        help="list tracks, optionally matching a search",
        description="List tracks. QUERY uses the search box language: words match text fields by "
        "prefix, 'artist:daft', 'bpm:120-128', 'key:8A', 'format:flac', '-remix' (after --).",
    )
    parser.add_argument("query", nargs="*", metavar="QUERY", help="search (several words are joined)")
    fields = (*SORTABLE_COLUMNS, "id", POSITION)
    parser.add_argument(
        "--sort", default=None, choices=fields, metavar="FIELD",
        help=f"sort by one of: {', '.join(fields)} (default artist; in a crate, its own order: position)",
    )  # fmt: skip
    parser.add_argument(
        "--crate", metavar="PATH",
        help="only the tracks of this crate (Sets/2026/Berlin), in crate order unless --sort says otherwise",
    )  # fmt: skip
    parser.add_argument("--desc", action="store_true", help="descending order")
    parser.add_argument("--limit", type=whole_number(0), default=None, metavar="N", help="at most N tracks")
    parser.add_argument("--json", action="store_true", help="one JSON object per track")
    parser.add_argument(
        "--key-notation",
        choices=[n.value for n in KeyNotation],
        default=KeyNotation.CAMELOT.value,
        help="how keys are shown (default camelot)",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    text = " ".join(args.query)
    try:
        query = parse_query(text)
    except QuerySyntaxError as exc:
        raise CliError(f"bad query at position {exc.position + 1}: {exc}") from None
    library = open_from_args(args, create=False)
    notation = KeyNotation(args.key_notation)
    crate_id = None
    if args.crate is not None:
        node = crates.node_by_path(library, args.crate, with_counts=False)
        if node.is_folder:
            raise CrateTreeError(f"'{node.path}' is a folder: give a crate's path (crate-cli crate list)")
        crate_id = node.id
    if args.sort is None:
        order = None if crate_id is not None else SortOrder("artist", args.desc)
        if crate_id is not None and args.desc:
            order = SortOrder(POSITION, True) if node.kind == "crate" else None
    else:
        order = SortOrder(args.sort, args.desc)
    if order is not None and order.column == POSITION and (crate_id is None or node.kind != "crate"):
        raise CliError("--sort position is the order of a crate: give --crate PATH of a (not smart) crate")
    view = TrackView(library, query, order, crate_id=crate_id)
    out = sys.stdout
    if not args.json:
        out.write(_table_line([name for name, _ in TABLE_COLUMNS]))
    for track in iter_tracks(library, view, args.limit):
        if args.json:
            print_json(track_json(track, notation), out)
        else:
            out.write(_table_line(_table_cells(track, notation)))
    library.close()
    return 0


def iter_tracks(library: Library, view: TrackView, limit: int | None) -> Iterator[TrackRecord]:
    """The view's rows, one page in memory at a time."""
    total = view.count() if limit is None else min(limit, view.count())
    for offset in range(0, total, PAGE_ROWS):
        yield from view.rows(offset, min(PAGE_ROWS, total - offset))


def track_json(track: TrackRecord, notation: KeyNotation) -> dict[str, object]:
    return {
        "id": track.id,
        "path": display_path(track.path),
        "artist": track.artist,
        "title": track.title,
        "album": track.album,
        "albumartist": track.albumartist,
        "genre": track.genre,
        "year": track.year,
        "bpm": track.bpm,
        "key": format_key_code(track.key, notation) or None,
        "key_musical": format_key_code(track.key, KeyNotation.MUSICAL) or None,
        "duration": track.duration,
        "format": track.format,
        "status": track.status,
        "error": track.error,
    }


def _table_cells(track: TrackRecord, notation: KeyNotation) -> list[str]:
    minutes, seconds = divmod(round(track.duration or 0), 60)
    return [
        track.artist or "",
        track.title or display_path(track.filename),
        track.album or "",
        track.genre or "",
        f"{track.bpm:.2f}" if track.bpm is not None else "",
        format_key_code(track.key, notation),
        f"{minutes}:{seconds:02d}" if track.duration else "",
    ]


def _table_line(cells: list[str]) -> str:
    parts = []
    for (name, width), cell in zip(TABLE_COLUMNS, cells, strict=True):
        text = cell if len(cell) <= width else cell[: width - 1] + "…"
        parts.append(text.rjust(width) if name in ("BPM", "TIME") else text.ljust(width))
    return "  ".join(parts).rstrip() + "\n"
