"""Event filtering for event source mappings: which records reach the function.

A mapping's ``FilterCriteria`` holds up to five patterns; a record is sent to the function
when it matches at least one of them, and (for SQS) deleted without invoking anything when
it matches none. Patterns use the EventBridge rule language, in the dialect Lambda
accepts (``helpers.patterns.rules``, shared with EventBridge rules and SNS filter
policies): every field named in a pattern must be present and match (AND); the values
listed for a field are alternatives (OR). For SQS the message body is matched under
``body``: as JSON when it is a JSON object, as a plain string otherwise. Introduced in
notebook 06.

https://docs.aws.amazon.com/lambda/latest/dg/invocation-eventfiltering.html
"""

from __future__ import annotations

import json

from ..patterns.rules import LAMBDA, PatternError, check_pattern, matches_any, pattern_matches

MAX_PATTERN_CHARS = 4096
OPERATORS = tuple(sorted(LAMBDA.operators))

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
            check_pattern(pattern, LAMBDA)
        except (ValueError, PatternError):
            raise FilterPatternError("Invalid filter pattern definition.") from None
        patterns.append(pattern)
    return patterns
