"""Event filtering for event source mappings: which records reach the function.

A mapping's ``FilterCriteria`` holds up to five patterns; a record is sent to the function
when it matches at least one of them, and (for SQS) deleted without invoking anything when
it matches none. Patterns use the EventBridge rule language: every field named in a
pattern must be present and match (AND); the values listed for a field are alternatives
(OR). For SQS the message body is matched under ``body``: as JSON when it is a JSON
object, as a plain string otherwise. Introduced in notebook 06.

https://docs.aws.amazon.com/lambda/latest/dg/invocation-eventfiltering.html
"""

from __future__ import annotations

import json
import numbers

MAX_PATTERN_CHARS = 4096
OPERATORS = ("prefix", "suffix", "equals-ignore-case", "anything-but", "numeric", "exists")
NUMERIC_OPERATORS = ("=", "<", "<=", ">", ">=")
_MISSING = object()

__all__ = ["FilterPatternError", "matches_any", "parse_filter_criteria", "pattern_matches"]


class FilterPatternError(ValueError):
    """A filter pattern that Lambda would reject."""


def parse_filter_criteria(criteria) -> list[dict]:
    """The patterns of a ``FilterCriteria`` value, checked; [] when there are none."""
    if not criteria:
        return []
    if not isinstance(criteria, dict) or not isinstance(criteria.get("Filters", []), list):
        raise FilterPatternError("FilterCriteria must be {'Filters': [{'Pattern': ...}]}.")
    patterns = []
    for item in criteria.get("Filters") or []:
        text = item.get("Pattern") if isinstance(item, dict) else None
        if not isinstance(text, str) or len(text) > MAX_PATTERN_CHARS:
            raise FilterPatternError("Invalid filter pattern definition.")
        try:
            pattern = json.loads(text)
        except ValueError:
            raise FilterPatternError("Invalid filter pattern definition.") from None
        _check_pattern(pattern)
        patterns.append(pattern)
    return patterns


def _check_pattern(pattern) -> None:
    if not isinstance(pattern, dict) or not pattern:
        raise FilterPatternError("Invalid filter pattern definition.")
    for key, value in pattern.items():
        if key == "$or":
            if not isinstance(value, list) or len(value) < 2:
                raise FilterPatternError("Invalid filter pattern definition.")
            for alternative in value:
                _check_pattern(alternative)
        elif isinstance(value, dict):
            _check_pattern(value)
        elif isinstance(value, list) and value:
            for matcher in value:
                _check_matcher(matcher)
        else:
            raise FilterPatternError("Invalid filter pattern definition.")


def _check_matcher(matcher) -> None:
    if matcher is None or isinstance(matcher, (str, bool, numbers.Number)):
        return
    if not isinstance(matcher, dict) or len(matcher) != 1:
        raise FilterPatternError("Invalid filter pattern definition.")
    (operator, argument), = matcher.items()
    valid = {
        "prefix": isinstance(argument, str),
        "suffix": isinstance(argument, str),
        "equals-ignore-case": isinstance(argument, str),
        "exists": isinstance(argument, bool),
        "numeric": _valid_numeric(argument),
        "anything-but": _valid_anything_but(argument),
    }.get(operator, False)
    if not valid:
        raise FilterPatternError("Invalid filter pattern definition.")


def _valid_numeric(argument) -> bool:
    if not isinstance(argument, list) or not argument or len(argument) % 2:
        return False
    pairs = zip(argument[::2], argument[1::2], strict=True)
    return all(op in NUMERIC_OPERATORS and _is_number(value) for op, value in pairs)


def _valid_anything_but(argument) -> bool:
    if isinstance(argument, dict):
        return len(argument) == 1 and next(iter(argument)) in ("prefix", "suffix") and \
            isinstance(next(iter(argument.values())), str)
    values = argument if isinstance(argument, list) else [argument]
    return bool(values) and all(isinstance(v, (str, numbers.Number)) for v in values)


def _is_number(value) -> bool:
    return isinstance(value, numbers.Number) and not isinstance(value, bool)


# -- matching -------------------------------------------------------------------------------


def matches_any(patterns: list[dict], data: dict) -> bool:
    """True when there are no patterns, or when ``data`` matches at least one."""
    return not patterns or any(pattern_matches(pattern, data) for pattern in patterns)


def pattern_matches(pattern: dict, data) -> bool:
    if not isinstance(data, dict):
        return False
    for key, expected in pattern.items():
        if key == "$or":
            if not any(pattern_matches(alternative, data) for alternative in expected):
                return False
            continue
        value = data.get(key, _MISSING)
        if isinstance(expected, dict):
            candidates = value if isinstance(value, list) else [value]
            if not any(pattern_matches(expected, item) for item in candidates):
                return False
        elif not _field_matches(expected, value):
            return False
    return True


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
    if operator == "prefix":
        return isinstance(value, str) and value.startswith(argument)
    if operator == "suffix":
        return isinstance(value, str) and value.endswith(argument)
    if operator == "equals-ignore-case":
        return isinstance(value, str) and value.lower() == argument.lower()
    if operator == "numeric":
        pairs = zip(argument[::2], argument[1::2], strict=True)
        return _is_number(value) and all(_compare(value, op, bound) for op, bound in pairs)
    if operator == "anything-but":
        if isinstance(argument, dict):
            return not _matches(argument, value) and isinstance(value, str)
        excluded = argument if isinstance(argument, list) else [argument]
        return not any(_matches(item, value) for item in excluded)
    return False


def _compare(value, op, bound) -> bool:
    return {"=": value == bound, "<": value < bound, "<=": value <= bound,
            ">": value > bound, ">=": value >= bound}[op]
