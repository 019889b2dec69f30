"""Recursive loop detection: how Lambda notices a function that keeps triggering itself.

A function that writes into the bucket that triggers it starts a loop: each object it
writes produces a new event, which invokes it again. Lambda follows such chains with
the X-Ray trace header: every invocation's trace header (``_X_AMZN_TRACE_ID`` inside
the function) carries a ``Lineage`` field, the AWS SDK copies that header onto every
request the function makes (``X-Amzn-Trace-Id``), and the service that turns the
request into a new event hands the lineage on. Lambda counts how many times each
function ran in the chain; when a function would run more than 16 times and its
recursion setting (``PutFunctionRecursionConfig``) is ``Terminate``, the default,
Lambda does not invoke it and sends the event to the dead-letter queue or on-failure
destination, if there is one
(https://docs.aws.amazon.com/lambda/latest/dg/invocation-recursion.html).

The lab does the same for S3 event notifications. Lineage fields look like
``a87bd80c:1|68fd508a:5``: one ``<function hash>:<count>`` entry per function in the
chain. Introduced in notebook 04.
"""

from __future__ import annotations

import zlib
from urllib.parse import unquote

RECURSION_LIMIT = 16  # invocations of one function in one chain; the 17th is stopped
RECURSIVE_LOOP_MODES = ("Allow", "Terminate")
DEFAULT_RECURSIVE_LOOP = "Terminate"
STOPPED_REASON = "recursive loop detected"

__all__ = [
    "DEFAULT_RECURSIVE_LOOP",
    "RECURSION_LIMIT",
    "RECURSIVE_LOOP_MODES",
    "STOPPED_REASON",
    "advance",
    "count_for",
    "format_lineage",
    "function_key",
    "lineage_from_trace_header",
]


def function_key(function_arn: str) -> str:
    """The short hash that stands for a function (unqualified ARN) in a lineage."""
    parts = function_arn.split(":")
    unqualified = ":".join(parts[:7]) if len(parts) > 7 else function_arn
    return f"{zlib.crc32(unqualified.encode()):08x}"


def lineage_from_trace_header(header: str | None) -> dict[str, int]:
    """The lineage in an ``X-Amzn-Trace-Id`` header: {function hash: count}; {} if none.

    The SDK URL-quotes the header (``|`` arrives as ``%7C``), so it is unquoted first.
    """
    if not header:
        return {}
    for part in unquote(header).split(";"):
        name, _, value = part.strip().partition("=")
        if name != "Lineage":
            continue
        lineage = {}
        for entry in value.split("|"):
            pieces = entry.split(":")
            if len(pieces) < 2:
                continue
            try:
                lineage[pieces[-2]] = int(pieces[-1])
            except ValueError:
                continue
        return lineage
    return {}


def format_lineage(lineage: dict[str, int]) -> str:
    return "|".join(f"{key}:{count}" for key, count in lineage.items())


def count_for(lineage: dict[str, int], function_arn: str) -> int:
    """How many times the function has already run in this chain."""
    return lineage.get(function_key(function_arn), 0)


def advance(lineage: dict[str, int], function_arn: str) -> dict[str, int]:
    """The lineage of the function's next invocation in this chain (a new dict)."""
    key = function_key(function_arn)
    advanced = dict(lineage)
    advanced[key] = advanced.get(key, 0) + 1
    return advanced
