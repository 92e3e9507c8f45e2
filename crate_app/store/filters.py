"""Turning a parsed search into SQL: FTS5 for words, indexed columns for the rest."""

from __future__ import annotations

from crate_app.domain.search import ParsedQuery, TextTerm
from crate_app.store.schema import NUMERIC_SORT_COLUMNS, sort_expression


def _fts_phrase(term: TextTerm) -> str:
    # Quote the user's text so that FTS5 operators in it are taken literally; '*' makes it a prefix.
    phrase = '"' + term.text.replace('"', '""') + '"*'
    return f"{term.field} : {phrase}" if term.field else phrase


def where_clause(query: ParsedQuery | None) -> tuple[str, list[object]]:
    """SQL condition on ``tracks`` (no alias) and its parameters; ``1`` when the query is empty."""
    if query is None or query.is_empty:
        return "1", []
    parts: list[str] = []
    params: list[object] = []
    positive = [t for t in query.terms if not t.negated]
    negative = [t for t in query.terms if t.negated]
    if positive:
        parts.append("id IN (SELECT rowid FROM tracks_fts WHERE tracks_fts MATCH ?)")
        params.append(" AND ".join(_fts_phrase(t) for t in positive))
    if negative:
        parts.append("id NOT IN (SELECT rowid FROM tracks_fts WHERE tracks_fts MATCH ?)")
        params.append(" OR ".join(_fts_phrase(t) for t in negative))
    for numeric in query.numeric:
        if numeric.field == "rating" and numeric.low in (None, 0) and not numeric.low_exclusive:
            # rating:0, rating:<2 and the like include the unrated tracks: no stars is zero stars.
            high = "<" if numeric.high_exclusive else "<="
            parts.append(f"COALESCE(rating, 0) {high} ?" if numeric.high is not None else "1")
            params.extend([numeric.high] if numeric.high is not None else [])
            continue
        # Compare the sort expression (COALESCE(col, -1)) so that SQLite range-scans its index instead of
        # reading the whole table; "col IS NOT NULL" keeps the meaning exact.
        column = numeric.field
        expr = sort_expression(column) if column in NUMERIC_SORT_COLUMNS else column
        if numeric.low is not None:
            parts.append(f"{expr} {'>' if numeric.low_exclusive else '>='} ?")
            params.append(numeric.low)
        if numeric.high is not None:
            parts.append(f"{expr} {'<' if numeric.high_exclusive else '<='} ?")
            params.append(numeric.high)
        parts.append(f"{column} IS NOT NULL")
    if query.key_codes is not None:
        codes = sorted(query.key_codes)  # codes are 0..23, never the -1 that stands for NULL
        parts.append(f"{sort_expression('key')} IN ({','.join('?' * len(codes))})" if codes else "0")
        params.extend(codes)
    if query.key_missing:
        parts.append(f"{sort_expression('key')} = -1 AND key IS NULL")
    if query.formats:
        parts.append(f"format IN ({','.join('?' * len(query.formats))})")
        params.extend(query.formats)
    if query.colors:
        parts.append(f"color IN ({','.join('?' * len(query.colors))})")
        params.extend(query.colors)
    for flag, wanted in query.flags:
        condition = {
            "missing": "status = 'missing'",
            "error": "status = 'error'",
            "analyzed": "analyzed_at IS NOT NULL",
        }[flag]
        parts.append(condition if wanted else f"NOT ({condition})")
    return " AND ".join(parts), params
