"""The extended search language on a real library: OR, parentheses, added:, crate:, -crate:."""

from __future__ import annotations

import datetime as dt
import re
import time

import pytest

from crate_app import crates
from crate_app.domain.crates import UnknownCrateError
from crate_app.domain.search import And, Not, Or, QuerySyntaxError, TextTerm, parse_query
from crate_app.domain.track import ScannedFile, TagInfo, TrackRecord
from crate_app.store import writer
from crate_app.store.filters import count_sql, where_clause

NOW = time.time()
DAY = 86400.0


@pytest.fixture
def tracks(library) -> list[TrackRecord]:
    """60 tracks added over 120 days (two days apart), in three genres."""
    for number in range(60):
        tags = TagInfo(
            artist=("Daft Punk", "Aphex Twin", "Moodymann")[number % 3],
            title=f"Song {number:02d}" + (" Remix" if number % 4 == 0 else ""),
            genre=("House", "Techno", "Disco", "Ambient")[number % 4],
            bpm=float(100 + number),
        )
        item = ScannedFile(f"/music/{number:02d}.mp3", 1000, 1.0, tags)
        writer.upsert_scanned(library, [item], now=NOW - number * 2 * DAY - 60)
    return library.tracks_by_ids(range(1, 61))


def ids(library, text: str) -> set[int]:
    return set(library.iter_track_ids(parse_query(text)))


def which(tracks: list[TrackRecord], predicate) -> set[int]:
    return {t.id for t in tracks if predicate(t)}


def test_or_and_parentheses(library, tracks) -> None:
    assert ids(library, "genre:house OR genre:techno") == which(
        tracks, lambda t: t.genre in ("House", "Techno")
    )
    assert ids(library, "(genre:house OR genre:techno) bpm:>130") == which(
        tracks, lambda t: t.genre in ("House", "Techno") and t.bpm > 130
    )
    # OR binds looser than side by side: a b OR c = (a b) OR c.
    assert ids(library, "daft genre:house OR moodymann") == which(
        tracks, lambda t: (t.artist == "Daft Punk" and t.genre == "House") or t.artist == "Moodymann"
    )
    assert ids(library, "-(daft OR aphex)") == which(tracks, lambda t: t.artist == "Moodymann")
    assert ids(library, "(daft OR aphex) -remix") == which(
        tracks, lambda t: t.artist != "Moodymann" and "Remix" not in t.title
    )
    assert ids(library, '"or"') == set()  # quoted: the word, not the operator
    assert ids(library, "bpm:>150 OR bpm:<102 OR key:none") == which(tracks, lambda t: True) & which(
        tracks, lambda t: t.bpm > 150 or t.bpm < 102 or t.key is None
    )


def test_or_parses_to_a_tree() -> None:
    assert parse_query("a b OR c").root == Or((And((TextTerm("a"), TextTerm("b"))), TextTerm("c")))
    assert parse_query("-(a OR b)").root == Not(Or((TextTerm("a"), TextTerm("b"))))
    assert parse_query("").is_empty and parse_query("   ").is_empty


@pytest.mark.parametrize(
    ("text", "position", "message"),
    [
        ("(house", 0, "closing ')' missing"),
        ("house)", 5, "without a matching"),
        ("OR house", 0, "needs something before"),
        ("house OR", 6, "needs something after"),
        ("()", 0, "empty parentheses"),
        ("added:soon", 6, "'added:' takes"),
        ("added:2026-13", 6, "is not a date"),
        ("crate:", 6, "needs a value"),
    ],
)
def test_syntax_errors_say_where(text: str, position: int, message: str) -> None:
    with pytest.raises(QuerySyntaxError, match=re.escape(message)) as caught:
        parse_query(text)
    assert caught.value.position == position


def test_added_relative_and_calendar(library, tracks) -> None:
    assert ids(library, "added:<30d") == which(tracks, lambda t: t.date_added > NOW - 30 * DAY)
    assert ids(library, "added:>30d") == which(tracks, lambda t: t.date_added < NOW - 30 * DAY)
    assert ids(library, "added:<2w") == which(tracks, lambda t: t.date_added > NOW - 14 * DAY)
    month = dt.datetime.fromtimestamp(NOW - 40 * DAY)
    start = dt.datetime(month.year, month.month, 1)
    end = dt.datetime(month.year + (month.month == 12), month.month % 12 + 1, 1)
    label = f"{month.year}-{month.month:02d}"
    in_month = which(tracks, lambda t: start.timestamp() <= t.date_added < end.timestamp())
    assert in_month and ids(library, f"added:{label}") == in_month
    assert ids(library, f"added:<{label}") == which(tracks, lambda t: t.date_added < start.timestamp())
    assert ids(library, f"added:>={label}") == which(tracks, lambda t: t.date_added >= start.timestamp())
    assert ids(library, f"added:{label}..{label}") == in_month
    # Relative dates count from when the query runs, not from when it was typed.
    query = parse_query("added:<10d")
    later, params = where_clause(query, library, now=NOW + 5 * DAY)
    count = library.execute(f"SELECT COUNT(*) FROM tracks WHERE {later}", params).fetchone()[0]
    assert count == len(which(tracks, lambda t: t.date_added > NOW - 5 * DAY))


def test_crate_membership(library, tracks) -> None:
    berlin = crates.create_path(library, "Sets/2026/Berlin")
    paris = crates.create_path(library, "Sets/Paris")
    crates.add_tracks(library, berlin.id, [1, 2, 3, 4])
    crates.add_tracks(library, paris.id, [4, 5])
    crates.create_path(library, "Sets/Fast", "smart", query="bpm:>155")
    assert ids(library, 'crate:"Sets/2026/Berlin"') == {1, 2, 3, 4}
    assert ids(library, "crate:sets/2026/BERLIN genre:house") == which(
        tracks, lambda t: t.id in (1, 2, 3, 4) and t.genre == "House"
    )
    assert ids(library, '-crate:"Sets/2026/Berlin"') == which(tracks, lambda t: t.id not in (1, 2, 3, 4))
    fast = which(tracks, lambda t: t.bpm > 155)
    assert ids(library, "crate:Sets/Fast") == fast
    assert ids(library, "crate:Sets") == {1, 2, 3, 4, 5} | fast  # a folder: every crate in it
    assert ids(library, "crate:Sets/Paris OR crate:Sets/2026/Berlin") == {1, 2, 3, 4, 5}
    with pytest.raises(UnknownCrateError, match="no crate 'Sets/Rome'"):
        library.count(parse_query("crate:Sets/Rome"))
    with pytest.raises(ValueError, match="needs the library"):
        where_clause(parse_query("crate:Sets"))


@pytest.mark.parametrize(
    ("text", "from_index_alone"),
    [
        ("genre:house OR genre:techno", True),
        ("daft", True),
        ("daft remix", True),
        ("-daft", False),
        ("daft bpm:>130", False),
        ("bpm:>130", False),
    ],
)
def test_counts_of_full_text_matches_alone_come_from_the_index_and_agree(
    library, tracks, text: str, from_index_alone: bool
) -> None:
    where, params = where_clause(parse_query(text), library)
    sql = count_sql(where)
    assert ("FROM tracks_fts" in sql.split("WHERE")[0]) is from_index_alone
    assert library.execute(sql, params).fetchone()[0] == len(ids(library, text)) > 0
    assert library.count(parse_query(text)) == len(ids(library, text))
    writer.upsert_scanned(  # a new track and a changed one: the index follows in the same transaction
        library,
        [ScannedFile("/music/new.mp3", 1000, 1.0, TagInfo(artist="Daft Punk", title="Remix", genre="House"))],
    )
    with library.write() as conn:
        conn.execute("UPDATE tracks SET artist = 'Someone', genre = 'Jazz' WHERE id = 1")
    assert library.execute(sql, params).fetchone()[0] == len(ids(library, text))
