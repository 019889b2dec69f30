"""Content filtering: the EventBridge rule language, and the services that speak it.

One matcher for every place where AWS filters JSON by a pattern: Lambda's event filtering
(event source mappings, ``helpers.pollers.filters``), EventBridge rules
(``helpers.push.eventbridge``) and SNS subscription filter policies
(``helpers.push.sns``). ``rules`` holds the language; each service accepts its own set of
operators (its dialect) and ``filter_policies`` adds what SNS does differently. Pure
functions: nothing here talks to the lab.
"""

from .rules import PatternError, check_pattern, explain, matches_any, pattern_matches

__all__ = ["PatternError", "check_pattern", "explain", "matches_any", "pattern_matches"]
