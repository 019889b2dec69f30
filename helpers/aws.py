"""What every part of the lab shares about AWS: the account, ARNs, limits, and policies.

- ``ACCOUNT_ID`` and ``REGION``: the lab's one account and its default region;
- ``Arn`` / ``parse_arn`` and ``function_name_parts``: every documented way to name a
  function (name, ``name:qualifier``, full ARN, partial ARN ``123456789012:function:name``);
- limits that several services apply (``MAX_SYNC_PAYLOAD``: 6 MB);
- ``policy_allows``: one evaluator of resource-based policies, used wherever a service
  checks a function's permission (S3, API Gateway, and the services that follow).

Pure functions: nothing here talks to the lab.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

ACCOUNT_ID = "123456789012"
REGION = "us-east-1"

# https://docs.aws.amazon.com/lambda/latest/api/API_Invoke.html
MAX_SYNC_PAYLOAD = 6 * 1024 * 1024  # request and response of a synchronous invoke
# What Lambda's error for a response over the limit names (6 MB and 100 bytes).
MAX_SYNC_RESPONSE = 6291556
MAX_ASYNC_PAYLOAD = 1024 * 1024  # InvocationType=Event (256 KB before October 2025)

__all__ = [
    "ACCOUNT_ID",
    "MAX_ASYNC_PAYLOAD",
    "MAX_SYNC_RESPONSE",
    "MAX_SYNC_PAYLOAD",
    "REGION",
    "Arn",
    "FunctionName",
    "function_arn",
    "function_name_parts",
    "parse_arn",
    "policy_allows",
    "wildcard_match",
]


@dataclass(frozen=True)
class Arn:
    """``arn:partition:service:region:account:resource``."""

    partition: str
    service: str
    region: str
    account: str
    resource: str

    @property
    def resource_type(self) -> str:
        """``function`` of ``function:name``; ``""`` for resources without a type (SQS)."""
        for separator in (":", "/"):
            if separator in self.resource:
                return self.resource.split(separator, 1)[0]
        return ""

    @property
    def resource_id(self) -> str:
        """``name`` of ``function:name``, the queue name of an SQS ARN."""
        for separator in (":", "/"):
            if separator in self.resource:
                return self.resource.split(separator, 1)[1]
        return self.resource

    def __str__(self) -> str:
        return (f"arn:{self.partition}:{self.service}:{self.region}:{self.account}:"
                f"{self.resource}")


def parse_arn(text: str) -> Arn | None:
    """The parts of an ARN, or None if ``text`` is not one."""
    parts = str(text or "").split(":", 5)
    if len(parts) != 6 or parts[0] != "arn" or not parts[2]:
        return None
    return Arn(*parts[1:])


def function_arn(name: str, region: str = REGION, account: str = ACCOUNT_ID,
                 qualifier: str | None = None) -> str:
    arn = f"arn:aws:lambda:{region}:{account}:function:{name}"
    return f"{arn}:{qualifier}" if qualifier else arn


@dataclass(frozen=True)
class FunctionName:
    """A function as a caller named it, taken apart."""

    name: str
    qualifier: str | None
    account: str | None  # None: the caller's account
    region: str | None  # None: the request's region


_NAME = re.compile(r"[a-zA-Z0-9-_]+")
_QUALIFIER = re.compile(r"\$LATEST|[a-zA-Z0-9-_$]+")


def function_name_parts(value: str, qualifier: str | None = None) -> FunctionName | None:
    """Read ``value`` in any form the Lambda API documents, or None if it is none of them.

    ``my-function``, ``my-function:v1``, ``123456789012:function:my-function[:v1]``,
    ``arn:aws:lambda:us-east-1:123456789012:function:my-function[:v1]``. A qualifier in
    the name and a different ``qualifier`` argument do not agree: None.
    https://docs.aws.amazon.com/lambda/latest/api/API_Invoke.html#API_Invoke_RequestSyntax
    """
    parts = str(value or "").split(":")
    account = region = None
    if parts[0] == "arn":
        if len(parts) not in (7, 8) or parts[2] != "lambda" or parts[5] != "function":
            return None
        region, account, rest = parts[3], parts[4], parts[6:]
    elif len(parts) in (3, 4) and parts[1] == "function":
        account, rest = parts[0], parts[2:]
        if not account.isdigit():
            return None
    elif len(parts) in (1, 2):
        rest = parts
    else:
        return None
    name = rest[0]
    named_qualifier = rest[1] if len(rest) > 1 else None
    if not _NAME.fullmatch(name) or len(name) > 64:
        return None
    if named_qualifier is not None and not _QUALIFIER.fullmatch(named_qualifier):
        return None
    if named_qualifier and qualifier and named_qualifier != qualifier:
        return None
    return FunctionName(name, named_qualifier or qualifier or None, account, region)


# -- resource-based policies ---------------------------------------------------------------


def wildcard_match(pattern: str, value: str, ignore_case: bool = False) -> bool:
    """IAM's ``*`` (any run of characters) and ``?`` (one character)."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, re.S | (re.I if ignore_case else 0)) is not None


def _values(value) -> list:
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _principal_matches(principal, service: str | None, account: str | None) -> bool:
    if principal == "*":
        return True
    if not isinstance(principal, dict):
        return False
    if service and any(p in (service, "*") for p in _values(principal.get("Service"))):
        return True
    for aws in _values(principal.get("AWS")):
        if aws == "*" or (account and (aws == account or aws == f"arn:aws:iam::{account}:root")):
            return True
    return False


_OPERATORS = {
    "StringEquals": lambda actual, expected: actual == expected,
    "StringNotEquals": lambda actual, expected: actual != expected,
    "StringEqualsIgnoreCase": lambda actual, expected: actual.lower() == expected.lower(),
    "StringLike": lambda actual, expected: wildcard_match(expected, actual),
    "StringNotLike": lambda actual, expected: not wildcard_match(expected, actual),
    "ArnEquals": lambda actual, expected: actual == expected,
    "ArnNotEquals": lambda actual, expected: actual != expected,
    "ArnLike": lambda actual, expected: wildcard_match(expected, actual),
    "ArnNotLike": lambda actual, expected: not wildcard_match(expected, actual),
    "Bool": lambda actual, expected: actual.lower() == expected.lower(),
}
_NEGATED = {"StringNotEquals", "StringNotLike", "ArnNotEquals", "ArnNotLike"}


def _condition_holds(operator: str, key: str, expected, context: dict) -> bool:
    """One condition, as IAM evaluates it: a key the request does not carry makes the
    condition false, unless the operator ends in ``IfExists`` (or is ``Null``)."""
    actual = context.get(key.lower())
    if operator == "Null":
        wanted_missing = str(_values(expected)[0]).lower() == "true"
        return (actual is None) == wanted_missing
    if_exists = operator.endswith("IfExists")
    base = operator[:-len("IfExists")] if if_exists else operator
    test = _OPERATORS.get(base)
    if test is None:
        return False  # an operator the lab does not evaluate never grants access
    if actual is None:
        return if_exists
    results = [test(str(actual), str(value)) for value in _values(expected)]
    return all(results) if base in _NEGATED else any(results)


def policy_allows(statements: list[dict], *, action: str, resource: str,
                  service: str | None = None, account: str | None = None,
                  context: dict | None = None) -> bool:
    """Whether a resource-based policy lets a caller perform ``action`` on ``resource``.

    The caller is an AWS service principal (``service="s3.amazonaws.com"``) or an account.
    ``context`` holds the request's condition keys (``{"aws:SourceArn": ...}``). An
    explicit Deny wins over any Allow; with no matching Allow the answer is no.
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html
    """
    context = {key.lower(): value for key, value in (context or {}).items()}
    allowed = False
    for statement in statements:
        if not _principal_matches(statement.get("Principal"), service, account):
            continue
        if not any(wildcard_match(a, action, ignore_case=True)
                   for a in _values(statement.get("Action"))):
            continue
        resources = _values(statement.get("Resource")) or [resource]
        if not any(wildcard_match(r, resource) for r in resources):
            continue
        conditions = statement.get("Condition") or {}
        if not all(_condition_holds(operator, key, expected, context)
                   for operator, tests in conditions.items()
                   for key, expected in tests.items()):
            continue
        if statement.get("Effect", "Allow") == "Deny":
            return False
        allowed = True
    return allowed
