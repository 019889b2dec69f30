"""The EventBridge rule language: check a pattern, match an event, say why it did not match.

A pattern is a JSON object shaped like the events it matches. Every field it names must
be in the event and match (AND); the list under a field holds alternatives (OR); a
nested object matches the event's nested object; ``$or`` lists alternative
sub-patterns. When the event's value is a list, one matching element is enough.

Each service accepts its own operators (a *dialect*):

- ``LAMBDA`` (event source mappings' ``FilterCriteria``): equals, ``null``, ``prefix``,
  ``suffix``, ``equals-ignore-case``, ``anything-but`` (values, a prefix or a suffix),
  ``numeric``, ``exists``, ``$or``.
  https://docs.aws.amazon.com/lambda/latest/dg/invocation-eventfiltering.html
- ``EVENTBRIDGE`` (rules): all of those, and ``wildcard``, ``cidr``, ``prefix`` and
  ``suffix`` ignoring case, and ``anything-but`` with ``equals-ignore-case`` or
  ``wildcard``.
  https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-create-pattern-operators.html
- ``SNS`` (filter policies, see ``helpers.patterns.filter_policies``): equals,
  ``prefix``, ``suffix``, ``equals-ignore-case``, ``anything-but`` (values, a prefix or a
  suffix), ``numeric``, ``exists``, ``cidr``, ``$or``; no wildcard.
  https://docs.aws.amazon.com/sns/latest/dg/sns-subscription-filter-policies.html

``check_pattern`` raises PatternError with the reason; ``explain`` returns None when the
event matches, else the first reason it does not ("detail.amount: 50 is not > 100").
"""

from __future__ import annotations

import ipaddress
import json
import numbers
import re
from dataclasses import dataclass

NUMERIC_OPERATORS = ("=", "<", "<=", ">", ">=")
_MISSING = object()

__all__ = ["EVENTBRIDGE", "LAMBDA", "SNS", "Dialect", "PatternError", "check_pattern",
           "explain", "matches_any", "pattern_matches"]


class PatternError(ValueError):
    """A pattern the service would refuse; the message says why."""


@dataclass(frozen=True)
class Dialect:
    name: str
    operators: frozenset
    anything_but: frozenset  # forms of anything-but besides plain values
    case_insensitive_affixes: bool  # {"prefix": {"equals-ignore-case": "..."}}


_COMMON = {"prefix", "suffix", "equals-ignore-case", "anything-but", "numeric", "exists"}
LAMBDA = Dialect("Lambda event filtering", frozenset(_COMMON),
                 frozenset({"prefix", "suffix"}), False)
EVENTBRIDGE = Dialect("EventBridge", frozenset(_COMMON | {"wildcard", "cidr"}),
                      frozenset({"prefix", "suffix", "equals-ignore-case", "wildcard"}), True)
SNS = Dialect("SNS", frozenset(_COMMON | {"cidr"}), frozenset({"prefix", "suffix"}), False)


# -- checking -------------------------------------------------------------------------------


def check_pattern(pattern, dialect: Dialect = EVENTBRIDGE, path: str = "") -> None:
    """Raise PatternError if ``dialect``'s service would refuse ``pattern``."""
    if not isinstance(pattern, dict) or not pattern:
        raise PatternError(f"{path or 'the pattern'} must be a non-empty JSON object")
    for key, value in pattern.items():
        where = f"{path}.{key}" if path else key
        if key == "$or":
            if not isinstance(value, list) or len(value) < 2:
                raise PatternError(f"{where} must list at least two alternatives")
            for alternative in value:
                check_pattern(alternative, dialect, path)
        elif isinstance(value, dict):
            check_pattern(value, dialect, where)
        elif isinstance(value, list) and value:
            for matcher in value:
                _check_matcher(matcher, dialect, where)
        else:
            raise PatternError(f"{where} must be an object or a non-empty array")


def _check_matcher(matcher, dialect: Dialect, where: str) -> None:
    if matcher is None or isinstance(matcher, (str, bool, numbers.Number)):
        return
    if not isinstance(matcher, dict) or len(matcher) != 1:
        raise PatternError(f"{where}: each value must be a string, a number, true, false, "
                           "null or an object with one operator")
    (operator, argument), = matcher.items()
    if operator not in dialect.operators:
        raise PatternError(f"{where}: {dialect.name} does not support the operator "
                           f"{operator!r}")
    problem = {
        "prefix": lambda: _affix_problem(argument, dialect),
        "suffix": lambda: _affix_problem(argument, dialect),
        "equals-ignore-case": lambda: None if isinstance(argument, str) else "a string",
        "exists": lambda: None if isinstance(argument, bool) else "true or false",
        "numeric": lambda: _numeric_problem(argument),
        "anything-but": lambda: _anything_but_problem(argument, dialect),
        "wildcard": lambda: _wildcard_problem(argument),
        "cidr": lambda: _cidr_problem(argument),
    }[operator]()
    if problem:
        raise PatternError(f"{where}: {operator} takes {problem}")


def _affix_problem(argument, dialect: Dialect) -> str | None:
    if isinstance(argument, str):
        return None
    if (dialect.case_insensitive_affixes and isinstance(argument, dict) and len(argument) == 1
            and isinstance(argument.get("equals-ignore-case"), str)):
        return None
    return "a string" + (" or {\"equals-ignore-case\": string}"
                         if dialect.case_insensitive_affixes else "")


def _numeric_problem(argument) -> str | None:
    wanted = "operator and number pairs: [\">\", 0, \"<=\", 5]"
    if not isinstance(argument, list) or len(argument) not in (2, 4):
        return wanted
    pairs = list(zip(argument[::2], argument[1::2], strict=True))
    if not all(op in NUMERIC_OPERATORS and _is_number(value) for op, value in pairs):
        return wanted
    if len(pairs) == 2:
        (low_op, low), (high_op, high) = pairs
        if low_op not in (">", ">=") or high_op not in ("<", "<=") or low >= high:
            return "a lower bound (> or >=) then a higher upper bound (< or <=)"
    return None


def _anything_but_problem(argument, dialect: Dialect) -> str | None:
    if isinstance(argument, dict):
        if len(argument) != 1 or next(iter(argument)) not in dialect.anything_but:
            forms = ", ".join(sorted(dialect.anything_but))
            return f"values, or one of: {forms}"
        (form, value), = argument.items()
        values = value if isinstance(value, list) and form in (
            "equals-ignore-case", "wildcard") else [value]
        if not values or not all(isinstance(v, str) for v in values):
            return f"a string for {form}"
        if form == "wildcard":
            return next(filter(None, map(_wildcard_problem, values)), None)
        return None
    values = argument if isinstance(argument, list) else [argument]
    if not values:
        return "at least one value"
    if all(isinstance(v, str) for v in values) or all(_is_number(v) for v in values):
        return None
    return "strings only or numbers only"


def _wildcard_problem(argument) -> str | None:
    if not isinstance(argument, str):
        return "a string"
    if "**" in argument.replace("\\*", ""):
        return "no consecutive * characters"
    return None


def _cidr_problem(argument) -> str | None:
    try:
        ipaddress.ip_network(argument, strict=False)
    except (ValueError, TypeError):
        return "an IP address block such as \"10.0.0.0/24\""
    return None if isinstance(argument, str) and "/" in argument else \
        "an IP address block such as \"10.0.0.0/24\""


def _is_number(value) -> bool:
    return isinstance(value, numbers.Number) and not isinstance(value, bool)


# -- matching -------------------------------------------------------------------------------


def matches_any(patterns: list[dict], data) -> bool:
    """True when there are no patterns, or when ``data`` matches at least one."""
    return not patterns or any(pattern_matches(pattern, data) for pattern in patterns)


def pattern_matches(pattern: dict, data) -> bool:
    return explain(pattern, data) is None


def explain(pattern: dict, data, path: str = "") -> str | None:
    """None if ``data`` matches ``pattern``; else why not, naming the field."""
    if not isinstance(data, dict):
        return f"{path or 'the event'} is not a JSON object"
    for key, expected in pattern.items():
        if key == "$or":
            reasons = [explain(alternative, data, path) for alternative in expected]
            if all(reasons):
                return "no alternative of $or matched: " + "; ".join(reasons)
            continue
        where = f"{path}.{key}" if path else key
        value = data.get(key, _MISSING)
        if isinstance(expected, dict):
            if value is _MISSING:
                return f"{where} is missing"
            candidates = value if isinstance(value, list) else [value]
            reasons = [explain(expected, item, where) for item in candidates]
            if all(reasons):
                return reasons[0] if reasons else f"{where} is an empty list"
        elif not _field_matches(expected, value):
            if value is _MISSING:
                return f"{where} is missing"
            return f"{where}: {_show(value)} matches none of {_show(expected)}"
    return None


def _show(value) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= 80 else text[:77] + "..."


def _field_matches(matchers: list, value) -> bool:
    if value is _MISSING:
        return any(isinstance(m, dict) and m.get("exists") is False for m in matchers)
    values = value if isinstance(value, list) else [value]
    return any(_matches(matcher, item) for matcher in matchers for item in values)


def _matches(matcher, value) -> bool:
    if not isinstance(matcher, dict):
        if isinstance(value, (dict, list)):
            return False
        if _is_number(matcher) and _is_number(value):
            return float(matcher) == float(value)
        return type(matcher) is type(value) and matcher == value
    (operator, argument), = matcher.items()
    if operator == "exists":
        return argument is True
    if operator == "numeric":
        pairs = zip(argument[::2], argument[1::2], strict=True)
        return _is_number(value) and all(_compare(value, op, bound) for op, bound in pairs)
    if operator == "anything-but":
        return _anything_but(argument, value)
    if not isinstance(value, str):
        return False
    if operator in ("prefix", "suffix"):
        if isinstance(argument, dict):  # {"equals-ignore-case": "..."}
            argument, value = argument["equals-ignore-case"].lower(), value.lower()
        return value.startswith(argument) if operator == "prefix" else value.endswith(argument)
    if operator == "equals-ignore-case":
        return value.lower() == argument.lower()
    if operator == "wildcard":
        return _wildcard(argument).fullmatch(value) is not None
    if operator == "cidr":
        try:
            return ipaddress.ip_address(value) in ipaddress.ip_network(argument, strict=False)
        except ValueError:
            return False
    return False


def _anything_but(argument, value) -> bool:
    if isinstance(argument, dict):
        if not isinstance(value, str):
            return False
        (form, excluded), = argument.items()
        excluded = excluded if isinstance(excluded, list) else [excluded]
        return not any(_matches({form: item}, value) for item in excluded)
    excluded = argument if isinstance(argument, list) else [argument]
    return not any(_matches(item, value) for item in excluded)


def _wildcard(pattern: str) -> re.Pattern:
    parts = re.split(r"(\\\*|\*)", pattern)
    return re.compile("".join(".*" if part == "*" else re.escape("*") if part == "\\*"
                              else re.escape(part) for part in parts), re.S)


def _compare(value, op, bound) -> bool:
    return {"=": value == bound, "<": value < bound, "<=": value <= bound,
            ">": value > bound, ">=": value >= bound}[op]
