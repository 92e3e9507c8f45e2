"""The smart-crate editor's model: rows of field / operator / value in ALL or ANY groups.

``to_query(group)`` writes a group in the search language and ``from_query(text)`` reads it back;
``from_query(to_query(g)) == normalize(g)`` for every group the editor can make (groups of one rule
and groups inside a group of the same kind are flattened).  A query the rows cannot show (``-( ... )``,
an operator negated that has no "not" form) raises ``RulesError``: the editor then stays in text mode.
"""

from __future__ import annotations

from dataclasses import dataclass

from crate_app.domain.errors import CrateError
from crate_app.domain.search import (
    FLAG_FIELDS,
    NUMERIC_FIELDS,
    OR_WORD,
    TEXT_FIELDS,
    And,
    Node,
    Not,
    Or,
    RawTerm,
    parse_terms,
)

ANY_TEXT = "text"  # the field of a plain word: any text field
FIELD_OPERATORS: dict[str, tuple[str, ...]] = {
    **{name: ("contains", "does not contain") for name in (ANY_TEXT, *TEXT_FIELDS)},
    **{name: ("is", "is not", "greater than", "at least", "less than", "at most", "between")
       for name in NUMERIC_FIELDS},
    "key": ("is", "is not", "mixes with", "is missing"),
    "format": ("is", "is not"),
    "color": ("is", "is not"),
    **{name: ("is",) for name in FLAG_FIELDS},
    "added": ("in the last", "not in the last", "is in", "before", "on or before", "after", "on or after",
              "between"),
    "crate": ("is in", "is not in"),
}  # fmt: skip
FIELDS = tuple(FIELD_OPERATORS)
# Value text prefixes of the operators written inside a term's value.
_NUMERIC_PREFIX = {"greater than": ">", "at least": ">=", "less than": "<", "at most": "<=", "is": ""}
_ADDED_PREFIX = {"in the last": "<", "not in the last": ">", "is in": "", "before": "<",
                 "on or before": "<=", "after": ">", "on or after": ">=", "between": ""}  # fmt: skip


class RulesError(CrateError):
    """A query the rule rows cannot show (edit it as text), or a rule that cannot be written."""


@dataclass(frozen=True, slots=True)
class Rule:
    field: str  # one of FIELDS
    operator: str  # one of FIELD_OPERATORS[field]
    value: str = ""  # as the search language writes it: "128", "120-128", "8A", "30d", "Sets/Berlin"


@dataclass(frozen=True, slots=True)
class RuleGroup:
    match: str = "all"  # "all" | "any"
    rules: tuple[Rule | RuleGroup, ...] = ()


# -- writing -----------------------------------------------------------------------------------------
def _quoted(value: str) -> str:
    """A value as one term: bare when it is a simple word, else in quotes ("" inside)."""
    simple = value and not any(ch.isspace() or ch in '"()' for ch in value)
    if simple and value != OR_WORD and not value.startswith("-"):
        return value
    return '"' + value.replace('"', '""') + '"'


def rule_text(rule: Rule) -> str:
    """One rule in the search language (RulesError for an unknown field, operator or empty value)."""
    operators = FIELD_OPERATORS.get(rule.field)
    if operators is None or rule.operator not in operators:
        raise RulesError(f"'{rule.operator}' is not an operator of '{rule.field}'")
    value = rule.value.strip()
    if not value and rule.operator != "is missing":
        raise RulesError(f"the rule '{rule.field} {rule.operator}' needs a value")
    field, op = rule.field, rule.operator
    if field == ANY_TEXT:
        return ("-" if op == "does not contain" else "") + _quoted(value)
    if field in TEXT_FIELDS:
        return f"{'-' if op == 'does not contain' else ''}{field}:{_quoted(value)}"
    if field in NUMERIC_FIELDS:
        if op in ("is", "is not"):
            return f"{'-' if op == 'is not' else ''}{field}:{value}"
        if op == "between":
            return f"{field}:{value}"
        return f"{field}:{_NUMERIC_PREFIX[op]}{value}"
    if field == "key":
        if op == "is missing":
            return "key:none"
        if op == "mixes with":
            return f"key:~{value}"
        return f"{'-' if op == 'is not' else ''}key:{value}"
    if field in ("format", "color"):
        return f"{'-' if op == 'is not' else ''}{field}:{value}"
    if field in FLAG_FIELDS:
        return f"{field}:{value}"
    if field == "added":
        return f"added:{_ADDED_PREFIX[op]}{value}"
    return f"{'-' if op == 'is not in' else ''}crate:{_quoted(value)}"  # crate


def to_query(group: RuleGroup) -> str:
    """A group in the search language: ALL = side by side, ANY = joined by OR (written from its
    ``normalize``d form, so that reading it back gives that form)."""
    return _write(normalize(group))


def _write(group: RuleGroup) -> str:
    parts = []
    for child in group.rules:
        if isinstance(child, RuleGroup):  # normalized: two rules or more, the other kind of group
            text = _write(child)
            parts.append(f"({text})" if child.match == "any" else text)
        else:
            parts.append(rule_text(child))
    return (" " if group.match == "all" else f" {OR_WORD} ").join(parts)


def normalize(group: RuleGroup) -> RuleGroup:
    """The group as ``from_query`` gives it back: empty groups dropped, a group of one rule replaced
    by that rule, a group inside a group of the same kind merged into it, one rule at the top: ALL."""
    rules: list[Rule | RuleGroup] = []
    for child in group.rules:
        if isinstance(child, Rule):
            rules.append(child)
            continue
        inner = normalize(child)
        if not inner.rules:
            continue
        if len(inner.rules) == 1:
            rules.append(inner.rules[0])
        elif inner.match == group.match:
            rules.extend(inner.rules)
        else:
            rules.append(inner)
    match = group.match if len(rules) > 1 else "all"
    if len(rules) == 1 and isinstance(rules[0], RuleGroup):
        return rules[0]
    return RuleGroup(match, tuple(rules))


# -- reading -----------------------------------------------------------------------------------------
def from_query(text: str) -> RuleGroup:
    """The rules of a query (QuerySyntaxError when it does not parse; RulesError when rows cannot
    show it)."""
    node = parse_terms(text)
    if node is None:
        return RuleGroup("all", ())
    if isinstance(node, And | Or):
        return _group(node)
    return RuleGroup("all", (_rule(node),))


def _group(node: And | Or) -> RuleGroup:
    match = "all" if isinstance(node, And) else "any"
    rules: list[Rule | RuleGroup] = []
    for child in node.children:
        rules.append(_group(child) if isinstance(child, And | Or) else _rule(child))
    return RuleGroup(match, tuple(rules))


def _rule(node: Node) -> Rule:
    negated = isinstance(node, Not)
    term = node.child if isinstance(node, Not) else node
    if not isinstance(term, RawTerm):
        raise RulesError("'-(...)' cannot be shown as rules: edit this query as text")
    field, value = term.field or ANY_TEXT, term.value

    def cannot() -> RulesError:
        return RulesError(f"'-{field}:{value}' cannot be shown as a rule: edit this query as text")

    if field == ANY_TEXT or field in TEXT_FIELDS:
        return Rule(field, "does not contain" if negated else "contains", value)
    if field in NUMERIC_FIELDS:
        for op, prefix in sorted(_NUMERIC_PREFIX.items(), key=lambda item: -len(item[1])):
            if prefix and value.startswith(prefix):
                if negated:
                    raise cannot()
                return Rule(field, op, value[len(prefix) :].strip())
        bare = value[1:].strip() if value.startswith("=") else value
        if "-" in bare:
            if negated:
                raise cannot()
            return Rule(field, "between", bare)
        return Rule(field, "is not" if negated else "is", bare)
    if field == "key":
        if value.lower() in ("none", "no", "unknown"):
            if negated:
                raise cannot()
            return Rule("key", "is missing", "")
        if value.startswith("~"):
            if negated:
                raise cannot()
            return Rule("key", "mixes with", value[1:])
        return Rule("key", "is not" if negated else "is", value)
    if field in ("format", "color"):
        return Rule(field, "is not" if negated else "is", value)
    if field in FLAG_FIELDS:
        wanted = value.lower() in ("yes", "y", "true", "1", "on")
        return Rule(field, "is", "yes" if wanted != negated else "no")
    if field == "added":
        if negated:
            raise cannot()
        if ".." in value:
            return Rule("added", "between", value)
        relative = value[-1:].lower() in ("h", "d", "w", "m", "y") and not value[-1:].isdigit()
        for prefix in ("<=", ">=", "<", ">"):
            if value.startswith(prefix):
                rest = value[len(prefix) :].strip()
                if relative and prefix in ("<", ">"):
                    return Rule("added", "in the last" if prefix == "<" else "not in the last", rest)
                if relative:
                    raise RulesError(f"'added:{value}' cannot be shown as a rule: edit this query as text")
                op = {"<": "before", "<=": "on or before", ">": "after", ">=": "on or after"}[prefix]
                return Rule("added", op, rest)
        return Rule("added", "is in", value[1:] if value.startswith("=") else value)
    return Rule("crate", "is not in" if negated else "is in", value)  # crate
