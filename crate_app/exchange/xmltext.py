"""Small helpers the streaming XML writers and readers share (attribute escaping, dates, the Entries
patch, parse errors in words)."""

from __future__ import annotations

import re
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from crate_app.domain.errors import ExchangeError
from crate_app.exchange.model import PlaylistNode

# XML 1.0 forbids most control characters even escaped; tags sometimes carry them.
_INVALID_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")
COUNT_WIDTH = 12  # room reserved for a count patched in after streaming


_NEEDS_WORK = re.compile('[&<>"\n\r\t\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]')


def attr(value: object) -> str:
    """An attribute value, escaped for a double-quoted XML attribute."""
    text = value if isinstance(value, str) else str(value)
    if not _NEEDS_WORK.search(text):  # the common case: nothing to escape
        return text
    if _INVALID_XML.search(text):
        text = _INVALID_XML.sub("", text)
    if "&" in text:
        text = text.replace("&", "&amp;")
    if "<" in text:
        text = text.replace("<", "&lt;")
    if ">" in text:
        text = text.replace(">", "&gt;")
    if '"' in text:
        text = text.replace('"', "&quot;")
    if "\n" in text or "\r" in text or "\t" in text:
        text = text.replace("\n", "&#10;").replace("\r", "&#13;").replace("\t", "&#9;")
    return text


def count_placeholder() -> str:
    """Room for a count written once the stream is done (see ``patch_count``)."""
    return "0".ljust(COUNT_WIDTH)


def patch_count(stream: BinaryIO, position: int, count: int, quote_after: bool = True) -> None:
    """Overwrite the placeholder at ``position`` with ``count"`` padded by spaces (still valid XML:
    spaces between attributes)."""
    text = f'{count}"' if quote_after else str(count)
    here = stream.tell()
    stream.flush()
    stream.seek(position)
    stream.write(text.ljust(COUNT_WIDTH + (1 if quote_after else 0)).encode("ascii"))
    stream.seek(here)


_DATES: dict[int, str] = {}


def iso_date(timestamp: float) -> str:
    """``yyyy-mm-dd`` in local time; '' for no date.  Cached per quarter hour (every time zone's offset
    is a whole number of quarter hours, so a quarter hour never spans two dates)."""
    if timestamp <= 0:
        return ""
    bucket = int(timestamp // 900)
    text = _DATES.get(bucket)
    if text is None:
        if len(_DATES) > 100_000:
            _DATES.clear()
        text = _DATES[bucket] = time.strftime("%Y-%m-%d", time.localtime(bucket * 900))
    return text


def parse_problem(path: Path, kind: str, exc: ET.ParseError | UnicodeDecodeError) -> str:
    """Where (and why) the ``kind`` file at ``path`` stops being readable, in words."""
    if isinstance(exc, UnicodeDecodeError):
        return f"{path.name} has text in an unknown encoding ({exc.reason})"
    line, column = exc.position
    return (
        f"{path.name} is not a complete, well-formed {kind} file (line {line}, column {column}: "
        f"{str(exc).split(':')[0]})"
    )


@contextmanager
def parsing(path: Path, kind: str, cut_short: list[str] | None = None) -> Iterator[None]:
    """Turn a parse failure of the ``kind`` file at ``path`` (e.g. "XML", "NML") into one ExchangeError in
    words: where the file stops being well-formed, or that its text is in an unknown encoding.  With a
    ``cut_short`` list (a partial import), the words go there instead and the block ends quietly: the
    reader keeps what it read before that point."""
    try:
        yield
    except (ET.ParseError, UnicodeDecodeError) as exc:
        problem = parse_problem(path, kind, exc)
        if cut_short is None:
            raise ExchangeError(f"{problem}; nothing was imported") from None
        cut_short.append(problem)


def close_cut_nodes(stack: list[PlaylistNode], warnings: list[str]) -> list[PlaylistNode]:
    """The playlists of a file that ends inside its playlist tree (``stack``: the nodes still open, the
    root first): playlists cut off are left out (with a warning), folders keep their complete children.
    Returns the top-level nodes."""
    for depth in range(len(stack) - 1, 0, -1):
        node = stack[depth]
        if not node.is_folder:
            stack[depth - 1].children.remove(node)
            warnings.append(f"the playlist {node.name!r} is cut off by the end of the file: left out")
    return stack[0].children if stack else []
