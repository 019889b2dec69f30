"""The shared matcher: the EventBridge rule language in its three dialects (Lambda event
filtering, EventBridge rules, SNS filter policies), and SNS's own differences."""

from __future__ import annotations

import json

import pytest

from helpers.patterns import filter_policies
from helpers.patterns.rules import (
    EVENTBRIDGE,
    LAMBDA,
    SNS,
    PatternError,
    check_pattern,
    explain,
    pattern_matches,
)

ORDER = {"source": "shop.orders", "detail-type": "Order Placed",
         "detail": {"amount": 150, "currency": "EUR", "customer": {"tier": "gold"},
                    "items": ["book", "pen"], "ip": "10.0.3.7", "note": None,
                    "file": "reports/2024/q1.PNG", "empty": ""}}

MATCHING = [
    ({"source": ["shop.orders"]}, True),
    ({"source": ["shop.payments"]}, False),
    ({"source": ["shop.payments", "shop.orders"]}, True),  # values are alternatives
    ({"source": ["shop.orders"], "detail-type": ["Order Cancelled"]}, False),  # fields AND
    ({"detail": {"customer": {"tier": ["gold"]}}}, True),
    ({"detail": {"items": ["pen"]}}, True),  # one element of a list is enough
    ({"detail": {"amount": [150]}}, True),
    ({"detail": {"amount": ["150"]}}, False),  # a string never equals a number
    ({"detail": {"note": [None]}}, True),
    ({"detail": {"empty": [""]}}, True),
    ({"detail": {"missing": [None]}}, False),  # null is not absent
    ({"detail": {"amount": [{"numeric": [">", 100, "<=", 200]}]}}, True),
    ({"detail": {"amount": [{"numeric": [">", 150]}]}}, False),
    ({"detail": {"amount": [{"numeric": ["=", 1.5e2]}]}}, True),
    ({"detail": {"currency": [{"anything-but": ["USD", "GBP"]}]}}, True),
    ({"detail": {"currency": [{"anything-but": "EUR"}]}}, False),
    ({"detail": {"absent": [{"anything-but": "EUR"}]}}, False),  # anything-but needs a value
    ({"detail": {"currency": [{"anything-but": {"prefix": "E"}}]}}, False),
    ({"detail": {"currency": [{"anything-but": {"suffix": "D"}}]}}, True),
    ({"detail": {"currency": [{"anything-but": {"equals-ignore-case": "eur"}}]}}, False),
    ({"detail": {"file": [{"anything-but": {"wildcard": "*/2023/*"}}]}}, True),
    ({"detail": {"currency": [{"prefix": "EU"}]}}, True),
    ({"detail": {"file": [{"suffix": ".png"}]}}, False),
    ({"detail": {"file": [{"suffix": {"equals-ignore-case": ".png"}}]}}, True),
    ({"detail": {"file": [{"prefix": {"equals-ignore-case": "REPORTS/"}}]}}, True),
    ({"detail": {"currency": [{"equals-ignore-case": "eur"}]}}, True),
    ({"detail": {"file": [{"wildcard": "reports/*/q?.PNG"}]}}, False),  # ? is literal
    ({"detail": {"file": [{"wildcard": "reports/*.PNG"}]}}, True),
    ({"detail": {"file": [{"wildcard": "*.png"}]}}, False),
    ({"detail": {"ip": [{"cidr": "10.0.0.0/16"}]}}, True),
    ({"detail": {"ip": [{"cidr": "10.1.0.0/16"}]}}, False),
    ({"detail": {"amount": [{"exists": True}]}}, True),
    ({"detail": {"refund": [{"exists": False}]}}, True),
    ({"detail": {"amount": [{"exists": False}]}}, False),
    ({"$or": [{"source": ["nope"]}, {"detail": {"currency": ["EUR"]}}]}, True),
    ({"$or": [{"source": ["nope"]}, {"detail": {"currency": ["USD"]}}]}, False),
    ({"detail": {"customer": ["gold"]}}, False),  # a value where the event has an object
]


@pytest.mark.parametrize("pattern, expected", MATCHING, ids=[json.dumps(p) for p, _ in MATCHING])
def test_eventbridge_patterns_match_as_documented(pattern, expected):
    check_pattern(pattern, EVENTBRIDGE)
    assert pattern_matches(pattern, ORDER) is expected
    reason = explain(pattern, ORDER)
    assert (reason is None) is expected


def test_a_non_match_says_which_field_and_why():
    assert explain({"detail": {"amount": [{"numeric": [">", 500]}]}}, ORDER) == \
        'detail.amount: 150 matches none of [{"numeric": [">", 500]}]'
    assert explain({"detail": {"refund": ["yes"]}}, ORDER) == "detail.refund is missing"
    assert "no alternative of $or matched" in explain(
        {"$or": [{"source": ["a"]}, {"source": ["b"]}]}, ORDER)


REFUSED = [
    {},
    {"source": "shop.orders"},  # a value, not a list
    {"source": []},
    {"source": [{"prefix": 1}]},
    {"source": [{"unknown": "x"}]},
    {"source": [{"prefix": "a", "suffix": "b"}]},
    {"n": [{"numeric": [">", "1"]}]},
    {"n": [{"numeric": ["<", 5, ">", 1]}]},  # the lower bound comes first
    {"n": [{"numeric": [">", 5, "<", 1]}]},
    {"n": [{"exists": "yes"}]},
    {"s": [{"wildcard": "a**b"}]},
    {"ip": [{"cidr": "10.0.0.300/8"}]},
    {"s": [{"anything-but": ["a", 1]}]},
    {"$or": [{"a": ["b"]}]},
]


@pytest.mark.parametrize("pattern", REFUSED, ids=[json.dumps(p) for p in REFUSED])
def test_invalid_patterns_are_refused_with_a_reason(pattern):
    with pytest.raises(PatternError) as caught:
        check_pattern(pattern, EVENTBRIDGE)
    assert str(caught.value)


@pytest.mark.parametrize("pattern, lambda_ok, eventbridge_ok, sns_ok", [
    ({"s": [{"wildcard": "a*"}]}, False, True, False),
    ({"ip": [{"cidr": "10.0.0.0/8"}]}, False, True, True),
    ({"s": [{"anything-but": {"equals-ignore-case": "x"}}]}, False, True, False),
    ({"s": [{"prefix": {"equals-ignore-case": "x"}}]}, False, True, False),
    ({"s": [{"anything-but": {"prefix": "x"}}]}, True, True, True),
    ({"s": [{"equals-ignore-case": "x"}]}, True, True, True),
])
def test_each_service_accepts_its_own_operators(pattern, lambda_ok, eventbridge_ok, sns_ok):
    for dialect, accepted in ((LAMBDA, lambda_ok), (EVENTBRIDGE, eventbridge_ok),
                              (SNS, sns_ok)):
        if accepted:
            check_pattern(pattern, dialect)
        else:
            with pytest.raises(PatternError, match="does not support|takes"):
                check_pattern(pattern, dialect)


# -- SNS filter policies ------------------------------------------------------------------


def attributes(**values) -> dict:
    typed = {}
    for name, (kind, value) in values.items():
        typed[name] = {"DataType": kind, "StringValue": value} if kind != "Binary" else \
            {"DataType": kind, "BinaryValue": value}
    return typed


def sns_explain(policy: dict, scope="MessageAttributes", attrs=None, message="hello"):
    checked = filter_policies.check_policy(json.dumps(policy), scope)
    return filter_policies.explain_policy(checked, scope, attrs or {}, message)


def test_attribute_types_decide_how_values_compare():
    attrs = attributes(price=("Number", "3.015e2"), colour=("String", "red"),
                       sizes=("String.Array", '["S", "M"]'), blob=("Binary", b"x"),
                       code=("String", "301.5"))
    assert sns_explain({"price": [{"numeric": ["=", 301.5]}]}, attrs=attrs) is None
    assert sns_explain({"price": [301.5]}, attrs=attrs) is None
    assert sns_explain({"code": [{"numeric": ["=", 301.5]}]}, attrs=attrs)  # a String
    assert sns_explain({"sizes": ["M"]}, attrs=attrs) is None
    assert sns_explain({"colour": ["red"], "sizes": ["XL"]}, attrs=attrs)
    assert sns_explain({"blob": [{"exists": True}]}, attrs=attrs)  # Binary is ignored


def test_exists_false_needs_at_least_one_attribute():
    policy = {"store": [{"exists": False}]}
    assert sns_explain(policy, attrs=attributes(other=("String", "x"))) is None
    assert "no attributes" in sns_explain(policy, attrs={})


def test_the_message_body_scope_reads_the_message_as_json():
    policy = {"order": {"total": [{"numeric": [">=", 100]}]}}
    assert sns_explain(policy, "MessageBody", message='{"order": {"total": 120}}') is None
    assert sns_explain(policy, "MessageBody", message='{"order": {"total": 20}}')
    assert "not a JSON object" in sns_explain(policy, "MessageBody", message="plain text")


@pytest.mark.parametrize("policy, scope, reason", [
    ({"a": {"b": ["c"]}}, "MessageAttributes", "nested"),
    ({k: ["v"] for k in "abcdef"}, "MessageAttributes", "at most 5 keys"),
    ({"a": list(range(10)), "b": list(range(16))}, "MessageAttributes", "too complex"),
    ({"a": [{"numeric": [">", 2_000_000_000]}]}, "MessageAttributes", "between"),
    ({"a": [{"wildcard": "x*"}]}, "MessageAttributes", "does not support"),
    ({"a": ["b"]}, "Everything", "FilterPolicyScope"),
])
def test_sns_refuses_what_sns_refuses(policy, scope, reason):
    with pytest.raises(PatternError, match=reason):
        filter_policies.check_policy(json.dumps(policy), scope)


def test_sns_accepts_nesting_in_the_body_scope_and_cidr():
    filter_policies.check_policy(json.dumps({"a": {"b": [{"cidr": "10.0.0.0/8"}]}}),
                                 "MessageBody")
    with pytest.raises(PatternError, match="not valid JSON"):
        filter_policies.check_policy("{", "MessageBody")
