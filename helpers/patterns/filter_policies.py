"""SNS subscription filter policies: the rule language, as SNS speaks it.

A filter policy uses the EventBridge rule language (``helpers.patterns.rules``, dialect
``SNS``); what SNS does differently is here, explicitly:

- **Scope.** ``MessageAttributes`` (the default) matches the message's attributes: one
  level of keys, no nesting. ``MessageBody`` matches the message itself, which must then
  be a JSON object; nested keys are allowed.
- **Typed attributes.** A ``String`` attribute is a string, a ``Number`` attribute a
  number (``"3.015e2"`` equals ``301.5``), a ``String.Array`` or ``Number.Array`` a JSON
  list whose elements match one by one; ``Binary`` attributes are ignored.
- **No attributes, no match**: ``"exists": false`` matches only when the message has at
  least one attribute.
- **Limits**: at most 5 keys, at most 150 combinations of values (the product of the
  lengths of its lists), numbers between -10^9 and 10^9.
- No ``wildcard``; ``cidr`` is there.

https://docs.aws.amazon.com/sns/latest/dg/sns-subscription-filter-policies.html
https://docs.aws.amazon.com/sns/latest/dg/subscription-filter-policy-constraints.html
Introduced in notebook 12.
"""

from __future__ import annotations

import json
import math
import numbers

from .rules import SNS, PatternError, check_pattern, explain

SCOPES = ("MessageAttributes", "MessageBody")
MAX_KEYS = 5
MAX_COMBINATIONS = 150
MAX_NUMBER = 1_000_000_000

__all__ = ["MAX_COMBINATIONS", "MAX_KEYS", "SCOPES", "attribute_values", "check_policy",
           "explain_policy"]


def check_policy(text: str, scope: str | None) -> dict:
    """The policy in ``text``, checked for ``scope``; PatternError says what SNS refuses."""
    scope = scope or "MessageAttributes"
    if scope not in SCOPES:
        raise PatternError(f"FilterPolicyScope must be one of {', '.join(SCOPES)}")
    try:
        policy = json.loads(text)
    except (TypeError, ValueError):
        raise PatternError("the filter policy is not valid JSON") from None
    check_pattern(policy, SNS)
    if scope == "MessageAttributes":
        nested = [key for key, value in policy.items() if key != "$or" and isinstance(value, dict)]
        if nested:
            raise PatternError("scope MessageAttributes does not support nested keys "
                               f"({nested[0]})")
    keys = _leaf_keys(policy)
    if len(keys) > MAX_KEYS:
        raise PatternError(f"a filter policy can have at most {MAX_KEYS} keys, this one has "
                           f"{len(keys)}")
    combinations = _combinations(policy)
    if combinations > MAX_COMBINATIONS:
        raise PatternError(f"the policy is too complex: {combinations} combinations of values "
                           f"(at most {MAX_COMBINATIONS})")
    for number in _numbers(policy):
        if not -MAX_NUMBER <= number <= MAX_NUMBER:
            raise PatternError(f"numbers must be between -{MAX_NUMBER} and {MAX_NUMBER}")
    return policy


def _leaf_keys(policy: dict, path: str = "") -> set:
    keys = set()
    for key, value in policy.items():
        if key == "$or":
            for alternative in value:
                keys |= _leaf_keys(alternative, path)
        elif isinstance(value, dict):
            keys |= _leaf_keys(value, f"{path}{key}.")
        else:
            keys.add(path + key)
    return keys


def _combinations(policy: dict) -> int:
    total = 1
    for key, value in policy.items():
        if key == "$or":
            total *= sum(_combinations(alternative) for alternative in value)
        elif isinstance(value, dict):
            total *= _combinations(value)
        else:
            total *= len(value)
    return total


def _numbers(node):
    if isinstance(node, bool):
        return
    if isinstance(node, numbers.Number):
        yield node
    elif isinstance(node, dict):
        for value in node.values():
            yield from _numbers(value)
    elif isinstance(node, list):
        for value in node:
            yield from _numbers(value)


def attribute_values(attributes: dict) -> dict:
    """Publish's ``MessageAttributes`` as the values a policy sees (Binary left out).

    ``attributes``: ``{name: {"DataType": ..., "StringValue": ...}}`` as Publish takes them.
    """
    values = {}
    for name, attribute in (attributes or {}).items():
        kind = attribute.get("DataType", "String")
        text = attribute.get("StringValue")
        if kind.startswith("Binary") or text is None:
            continue
        if kind.startswith("Number") and not kind.endswith(".Array"):
            values[name] = _number(text)
        elif kind.endswith(".Array"):
            try:
                values[name] = json.loads(text)
            except ValueError:
                values[name] = text
        else:
            values[name] = text
    return values


def _number(text: str):
    try:
        value = float(text)
    except ValueError:
        return text
    return value if math.isfinite(value) else text


def explain_policy(policy: dict, scope: str | None, attributes: dict, message: str) -> str | None:
    """None if the message passes the policy; else why SNS would not deliver it."""
    if (scope or "MessageAttributes") == "MessageBody":
        try:
            body = json.loads(message)
        except (TypeError, ValueError):
            body = None
        if not isinstance(body, dict):
            return "the message body is not a JSON object (the policy's scope is MessageBody)"
        return explain(policy, body)
    values = attribute_values(attributes)
    if not values:
        return "the message has no attributes (the policy's scope is MessageAttributes)"
    return explain(policy, values)
