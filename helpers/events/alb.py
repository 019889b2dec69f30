"""The event an Application Load Balancer sends a Lambda target (Powertools' ``AlbModel``).

Pure functions, no server: ``helpers.front_doors.alb`` calls ``alb_event`` for every
request it forwards to a Lambda target group. The shape follows the Elastic Load
Balancing guide:
https://docs.aws.amazon.com/elasticloadbalancing/latest/application/lambda-functions.html

- Header names are lowercase. By default a header sent twice keeps its last value, and
  so does a repeated query parameter; with the target group attribute
  ``lambda.multi_value_headers.enabled`` the event has ``multiValueHeaders`` and
  ``multiValueQueryStringParameters`` (lists, every value) instead.
- Query parameters are passed as sent: the load balancer does not URL-decode them.
- The body is passed as text for ``text/*``, ``application/json``,
  ``application/javascript`` and ``application/xml``; anything else is base64-encoded
  with ``isBase64Encoded: true``. No body is ``""``.

Powertools' ``AlbModel`` requires ``headers`` and ``queryStringParameters``, so it accepts
the default events and refuses the multi-value ones (it has no model for those).
Introduced in notebook 08.
"""

from __future__ import annotations

import base64

POWERTOOLS_MODEL = "AlbModel"  # aws_lambda_powertools.utilities.parser.models

TEXT_TYPES = ("application/json", "application/javascript", "application/xml")

__all__ = ["POWERTOOLS_MODEL", "alb_event", "body_is_text", "raw_query_pairs"]


def body_is_text(content_type: str | None) -> bool:
    """Whether the load balancer passes a body of this Content-Type as it is."""
    kind = (content_type or "").split(";", 1)[0].strip().lower()
    return kind.startswith("text/") or kind in TEXT_TYPES


def raw_query_pairs(raw_query: str) -> list[tuple[str, str]]:
    """``a=1&b=%20x`` as [("a", "1"), ("b", "%20x")]: split, never decoded."""
    pairs = []
    for part in raw_query.split("&"):
        if part:
            name, _, value = part.partition("=")
            pairs.append((name, value))
    return pairs


def alb_event(*, method: str, path: str, raw_query: str, headers: list[tuple[str, str]],
              body: bytes, target_group_arn: str, multi_value: bool) -> dict:
    """The event for one request: ``headers`` in the order they arrived (duplicates
    included), ``path`` and ``raw_query`` as they were sent."""
    content_type = None
    single: dict[str, str] = {}
    multi: dict[str, list[str]] = {}
    for name, value in headers:
        lower = name.lower()
        if lower == "content-type":
            content_type = value
        single[lower] = value
        multi.setdefault(lower, []).append(value)
    query_single: dict[str, str] = {}
    query_multi: dict[str, list[str]] = {}
    for name, value in raw_query_pairs(raw_query):
        query_single[name] = value
        query_multi.setdefault(name, []).append(value)
    if not body:
        text, encoded = "", False
    elif body_is_text(content_type):
        text, encoded = body.decode("utf-8", "replace"), False
    else:
        text, encoded = base64.b64encode(body).decode("ascii"), True
    event = {
        "requestContext": {"elb": {"targetGroupArn": target_group_arn}},
        "httpMethod": method,
        "path": path,
    }
    if multi_value:
        event["multiValueQueryStringParameters"] = query_multi
        event["multiValueHeaders"] = multi
    else:
        event["queryStringParameters"] = query_single
        event["headers"] = single
    event["body"] = text
    event["isBase64Encoded"] = encoded
    return event
