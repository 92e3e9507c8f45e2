"""Crate's smart-crate queries as Serato smart-crate rules, where they fit.

Serato's ``.scrate`` holds one flat list of rules matched ALL or ANY; a rule is a field number, a
comparison name and a text or whole-number value (the tables below are those serato-tools documents,
see EXCHANGE-FORMATS §6).  A query fits when it is one flat group whose every rule has a Serato
field and comparison with the same meaning; anything else (an "any text" word, a nested group, a key,
a date, a rating, a limit on the number of tracks) does not, and the export writes such a smart crate
as a static crate of its current tracks instead.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from crate_app.domain.errors import CrateError
from crate_app.domain.smart_rules import Rule, RuleGroup, from_query

# Serato's field numbers (``urkt``)
SERATO_FIELD = {
    "filename": 4, "song": 6, "artist": 7, "album": 8, "genre": 9, "bpm": 15, "comment": 17,
    "grouping": 19, "remixer": 20, "label": 21, "composer": 22, "year": 23, "added": 25, "key": 51,
    "plays": 79,
}  # fmt: skip
CONTAINS, NOT_CONTAINS = "cond_con_str", "cond_dnc_str"
AT_LEAST, AT_MOST = "cond_greq_uint", "cond_lseq_uint"
# Crate's text fields -> Serato's
_TEXT_FIELD = {
    "title": "song", "artist": "artist", "album": "album", "genre": "genre", "label": "label",
    "comment": "comment", "filename": "filename",
}  # fmt: skip
_NUMBER_FIELD = {"bpm": "bpm", "year": "year"}
_INTEGER = re.compile(r"^\d+$")
_RANGE = re.compile(r"^(\d+)\s*-\s*(\d+)$")


@dataclass(frozen=True, slots=True)
class SeratoRule:
    field: int  # SERATO_FIELD value
    comparison: str  # cond_...
    value: str | int  # text (``trpt``) or whole number (``urpt``)


class DoesNotFit(ValueError):
    """The smart crate's rules have no Serato form (the message says which rule)."""


def serato_rules(query: str, limit: int | None = None) -> tuple[bool, list[SeratoRule]]:
    """(match all?, rules) for a smart crate's query; raises DoesNotFit."""
    if limit is not None:
        raise DoesNotFit(f"Serato smart crates have no limit (this one keeps {limit} tracks)")
    try:
        group = from_query(query)
    except CrateError as exc:
        raise DoesNotFit(str(exc)) from None
    if not group.rules:
        raise DoesNotFit("the smart crate has no rules")
    match_all = group.match == "all"
    rules: list[SeratoRule] = []
    for child in group.rules:
        if isinstance(child, RuleGroup):
            raise DoesNotFit("Serato smart crates cannot hold a group inside a group")
        rules.extend(_rule(child, match_all))
    return match_all, rules


def _rule(rule: Rule, match_all: bool) -> list[SeratoRule]:
    where = "'" + " ".join(part for part in (rule.field, rule.operator, rule.value) if part) + "'"
    if rule.field in _TEXT_FIELD:
        comparison = CONTAINS if rule.operator == "contains" else NOT_CONTAINS
        return [SeratoRule(SERATO_FIELD[_TEXT_FIELD[rule.field]], comparison, rule.value)]
    if rule.field in _NUMBER_FIELD:
        field = SERATO_FIELD[_NUMBER_FIELD[rule.field]]
        value = rule.value.strip()
        if rule.operator in ("at least", "at most") and _INTEGER.match(value):
            return [SeratoRule(field, AT_LEAST if rule.operator == "at least" else AT_MOST, int(value))]
        if rule.field == "year" and rule.operator in ("greater than", "less than") and _INTEGER.match(value):
            # whole years: > 1999 is >= 2000
            if rule.operator == "greater than":
                return [SeratoRule(field, AT_LEAST, int(value) + 1)]
            if int(value) > 0:
                return [SeratoRule(field, AT_MOST, int(value) - 1)]
        pair = None
        if rule.operator == "between" and (m := _RANGE.match(value)):
            low, high = sorted((int(m.group(1)), int(m.group(2))))
            pair = low, high
        elif rule.operator == "is" and rule.field == "year" and _INTEGER.match(value):
            pair = int(value), int(value)
        if pair is not None and match_all:  # two rules mean "between" only when all must hold
            return [SeratoRule(field, AT_LEAST, pair[0]), SeratoRule(field, AT_MOST, pair[1])]
        raise DoesNotFit(f"Serato has no rule for {where} (whole numbers, at least / at most)")
    raise DoesNotFit(f"Serato smart crates have no rule for {where}")
