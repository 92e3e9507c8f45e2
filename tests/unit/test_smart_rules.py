"""The smart-crate editor's rule model: rows <-> the search language, both ways."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crate_app.domain.search import QuerySyntaxError, parse_query
from crate_app.domain.smart_rules import (
    FIELD_OPERATORS,
    Rule,
    RuleGroup,
    RulesError,
    from_query,
    normalize,
    to_query,
)

_word = st.text(alphabet="abcdefghijklmnopqrstuvwxyzéß0123456789", min_size=1, max_size=8)
_phrase = st.lists(_word, min_size=1, max_size=3).map(" ".join)
_text_value = st.one_of(_word, _phrase, _word.map(lambda w: w + '"q'), st.just("OR"), _word.map("-{}".format))
_number = st.integers(0, 300).map(str)
_date = st.sampled_from(["2026", "2026-11", "2025-02-28", "1999-12"])
_names = st.sampled_from(["Sets", "2026", "Berlin", "Warm up", "AC\\/DC"])
_path = st.lists(_names, min_size=1, max_size=3).map("/".join)


def _value(field: str, operator: str) -> st.SearchStrategy[str]:
    if field == "text" or operator in ("contains", "does not contain"):
        return _text_value
    if operator == "between" and field != "added":
        return st.tuples(_number, _number).map(lambda pair: f"{pair[0]}-{pair[1]}")
    if field in ("bpm", "year", "duration", "bitrate", "rating"):
        return _number
    if field == "key":
        return st.just("") if operator == "is missing" else st.sampled_from(["8A", "1m", "Am", "8A,9A", "C#"])
    if field == "format":
        return st.sampled_from(["flac", "mp3", "flac,wav"])
    if field == "color":
        return st.sampled_from(["red", "blue", "none", "red,green"])
    if field in ("missing", "error", "analyzed"):
        return st.sampled_from(["yes", "no"])
    if field == "added":
        if operator in ("in the last", "not in the last"):
            return st.sampled_from(["30d", "2w", "6m", "1y", "12h"])
        if operator == "between":
            return st.tuples(_date, _date).map(lambda pair: f"{pair[0]}..{pair[1]}")
        return _date
    return _path  # crate


_rule = st.sampled_from([(f, o) for f, ops in FIELD_OPERATORS.items() for o in ops]).flatmap(
    lambda fo: _value(*fo).map(lambda value: Rule(fo[0], fo[1], value))
)
_match = st.sampled_from(["all", "any"])
_group = st.recursive(
    st.builds(RuleGroup, _match, st.lists(_rule, max_size=4).map(tuple)),
    lambda children: st.builds(
        RuleGroup, _match, st.lists(st.one_of(_rule, children), max_size=4).map(tuple)
    ),
    max_leaves=10,
)


@settings(max_examples=300, deadline=None)
@given(_group)
def test_rules_round_trip_through_the_search_language(group: RuleGroup) -> None:
    text = to_query(group)
    parse_query(text)  # what the editor writes is always valid search language
    back = from_query(text)
    assert back == normalize(group), text
    assert to_query(back) == text


@settings(max_examples=200, deadline=None)
@given(_group)
def test_text_mode_and_rows_agree_on_meaning(group: RuleGroup) -> None:
    # The same query, whether written from the rows or from the rows read back from it.
    assert parse_query(to_query(from_query(to_query(group)))) == parse_query(to_query(group))


def test_examples_read_as_rows() -> None:
    group = from_query('(house OR techno) -remix bpm:120-128 added:<30d crate:"Sets/Berlin" key:~8A')
    assert group == RuleGroup(
        "all",
        (
            RuleGroup("any", (Rule("text", "contains", "house"), Rule("text", "contains", "techno"))),
            Rule("text", "does not contain", "remix"),
            Rule("bpm", "between", "120-128"),
            Rule("added", "in the last", "30d"),
            Rule("crate", "is in", "Sets/Berlin"),
            Rule("key", "mixes with", "8A"),
        ),
    )
    assert to_query(group) == "(house OR techno) -remix bpm:120-128 added:<30d crate:Sets/Berlin key:~8A"
    assert from_query("") == RuleGroup("all", ())
    assert from_query("-missing:yes") == RuleGroup("all", (Rule("missing", "is", "no"),))


def test_what_rows_cannot_show_is_said() -> None:
    with pytest.raises(RulesError, match="edit this query as text"):
        from_query("-(house OR techno)")
    with pytest.raises(RulesError, match="edit this query as text"):
        from_query("-bpm:>140")
    with pytest.raises(QuerySyntaxError):
        from_query("bpm:>")
    with pytest.raises(RulesError, match="needs a value"):
        to_query(RuleGroup("all", (Rule("artist", "contains", " "),)))
    with pytest.raises(RulesError, match="not an operator"):
        to_query(RuleGroup("all", (Rule("bpm", "contains", "1"),)))
