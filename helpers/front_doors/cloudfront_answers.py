"""What a Lambda@Edge function may answer, and what CloudFront refuses with 502.

A request trigger (viewer-request, origin-request) returns the request, changed or not,
for CloudFront to go on with, or a response object (it has a ``status``) that CloudFront
answers with itself. A response trigger (origin-response, viewer-response) returns the
response, changed or not; a viewer-response function cannot change the status.
https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/lambda-generating-http-responses.html
https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/lambda-at-edge-function-restrictions.html

CloudFront answers 502 (``InvalidAnswer``) when the answer is not such an object, when
it changes a read-only header or adds a disallowed one, when a generated response is
over 40 KB (viewer triggers) or 1 MB (origin triggers), or when the URI and query string
are 8,192 characters or more
(https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/edge-functions-restrictions.html).
Introduced in notebook 10.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass

from ..events.cloudfront import header_pairs

__all__ = ["DISALLOWED", "READ_ONLY", "EdgeAnswer", "InvalidAnswer", "generated_limit",
           "read_answer", "replaced_body"]

READ_ONLY = {
    "viewer-request": {"content-length", "host", "transfer-encoding", "via"},
    "origin-request": {"accept-encoding", "content-length", "if-modified-since",
                       "if-none-match", "if-range", "if-unmodified-since",
                       "transfer-encoding", "via"},
    "origin-response": {"transfer-encoding", "via"},
    "viewer-response": {"warning", "via"},
}
DISALLOWED = {"connection", "expect", "keep-alive", "proxy-authenticate",
              "proxy-authorization", "proxy-connection", "trailer", "upgrade",
              "x-cache", "x-forwarded-proto", "x-real-ip", "x-amzn-auth", "x-amzn-cf-billing",
              "x-amzn-cf-id", "x-amzn-cf-xff", "x-amzn-errortype", "x-amzn-fle-profile",
              "x-amzn-header-count", "x-amzn-header-order", "x-amzn-lambda-integration-tag",
              "x-amzn-requestid"}
DISALLOWED_PREFIXES = ("x-accel-", "x-amz-cf-", "x-edge-")
MAX_URI_AND_QUERY = 8192
GENERATED_LIMITS = {"viewer": 40 * 1024, "origin": 1024 * 1024}


class InvalidAnswer(ValueError):
    """The function's answer breaks Lambda@Edge's rules: CloudFront answers 502."""


@dataclass
class EdgeAnswer:
    kind: str  # "request" (go on), "response" (a generated or changed response)
    request: dict | None = None
    status: int | None = None
    description: str = ""
    headers: list | None = None  # (name, value) pairs
    body: bytes | None = None  # None: keep the body CloudFront has
    changes: tuple = ()  # what the function changed, in words, for the trace and views
    note: str | None = None


def generated_limit(event_type: str) -> int:
    return GENERATED_LIMITS[event_type.split("-")[0]]


def disallowed(name: str) -> bool:
    name = name.lower()
    return name in DISALLOWED or name.startswith(DISALLOWED_PREFIXES)


def _check_headers(headers, what: str) -> None:
    if not isinstance(headers, dict):
        raise InvalidAnswer(f"{what}.headers must be an object")
    for name, values in headers.items():
        if name != name.lower():
            raise InvalidAnswer(f"header names are lowercase in {what}.headers: {name!r}")
        if not isinstance(values, list):
            raise InvalidAnswer(f"{what}.headers[{name!r}] must be a list of "
                                "{key, value} objects")
        for entry in values:
            if not isinstance(entry, dict) or not isinstance(entry.get("value"), str):
                raise InvalidAnswer(f"{what}.headers[{name!r}] entries need a string value")
            key = entry.get("key")
            if key is not None and (not isinstance(key, str) or key.lower() != name):
                raise InvalidAnswer(f"{what}.headers[{name!r}] has the key {key!r}: the "
                                    "key must be the same name")


def _values(headers: dict, name: str) -> list:
    return [entry.get("value") for entry in headers.get(name, [])]


def header_changes(event_type: str, before: dict, after: dict) -> list[str]:
    """What changed between two header maps, in words; InvalidAnswer for a read-only
    header changed or a disallowed header added."""
    changes = []
    for name in sorted(set(before) | set(after)):
        old, new = _values(before, name), _values(after, name)
        if old == new:
            continue
        if name in READ_ONLY[event_type]:
            raise InvalidAnswer(f"the {event_type} function changed the read-only header "
                                f"{name!r}")
        if disallowed(name):
            raise InvalidAnswer(f"the {event_type} function set the disallowed header "
                                f"{name!r}")
        if not old:
            changes.append(f"added {name}")
        elif not new:
            changes.append(f"removed {name}")
        else:
            changes.append(f"changed {name}")
    return changes


def _status(value, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise InvalidAnswer(f"{what}.status must be a string such as '200'")
    text = str(value)
    if not text.isdigit() or not 200 <= int(text) <= 599:
        raise InvalidAnswer(f"{what}.status {value!r} is not a status from 200 to 599")
    return int(text)


def _body(result: dict, what: str) -> bytes | None:
    if "body" not in result:
        return None
    body = result["body"]
    if body is None:
        return b""
    if not isinstance(body, str):
        raise InvalidAnswer(f"{what}.body must be a string")
    encoding = result.get("bodyEncoding", "text")
    if encoding == "base64":
        try:
            return base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            raise InvalidAnswer(f"{what}.bodyEncoding is base64 but the body is not") from None
    if encoding != "text":
        raise InvalidAnswer(f"{what}.bodyEncoding must be 'text' or 'base64'")
    return body.encode("utf-8")


def _response(event_type: str, result: dict, before: dict | None, generated: bool):
    what = "the response"
    status = _status(result.get("status"), what)
    description = result.get("statusDescription") or ""
    if not isinstance(description, str):
        raise InvalidAnswer(f"{what}.statusDescription must be a string")
    headers = result.get("headers") or {}
    _check_headers(headers, what)
    changes = header_changes(event_type, (before or {}).get("headers") or {}, headers)
    body = _body(result, what)
    note = None
    if generated:
        size = len(body or b"") + sum(len(n) + len(v) for n, v in header_pairs(headers))
        if size > generated_limit(event_type):
            raise InvalidAnswer(f"the generated response is {size} bytes; a {event_type} "
                                f"function may generate {generated_limit(event_type)}")
        if status == 204 and body:
            raise InvalidAnswer("a 204 response cannot have a body")
        changes = [f"generated a {status} response"]
    else:
        if body is not None:
            size = len(body) + sum(len(n) + len(v) for n, v in header_pairs(headers))
            if size > generated_limit(event_type):
                raise InvalidAnswer(f"the replaced response is {size} bytes; a {event_type} "
                                    f"function may generate {generated_limit(event_type)}")
            changes.append("replaced the body")
        old_status = int(before["status"])
        if status != old_status:
            if event_type == "viewer-response":
                note = (f"the function set status {status}: a viewer-response function "
                        f"cannot change the status, {old_status} is kept")
                status = old_status
            else:
                changes.append(f"status {old_status} -> {status}")
    return EdgeAnswer("response", status=status, description=description,
                      headers=header_pairs(headers), body=body, changes=tuple(changes),
                      note=note)


def _request(event_type: str, result: dict, before: dict) -> EdgeAnswer:
    what = "the request"
    uri, query = result.get("uri"), result.get("querystring", "")
    if not isinstance(uri, str) or not uri.startswith("/"):
        raise InvalidAnswer(f"{what}.uri must be a string that starts with '/'")
    if not isinstance(query, str):
        raise InvalidAnswer(f"{what}.querystring must be a string")
    if len(uri) + len(query) >= MAX_URI_AND_QUERY:
        raise InvalidAnswer(f"the URI and query string are {len(uri) + len(query)} "
                            f"characters; they must be under {MAX_URI_AND_QUERY}")
    for field in ("method", "clientIp"):
        if field in result and result[field] != before[field]:
            raise InvalidAnswer(f"{what}.{field} is read-only")
    headers = result.get("headers")
    if headers is None:
        raise InvalidAnswer(f"{what}.headers is required")
    _check_headers(headers, what)
    changes = header_changes(event_type, before["headers"], headers)
    if uri != before["uri"]:
        changes.insert(0, f"uri {before['uri']} -> {uri}")
    if query != before["querystring"]:
        changes.insert(0, f"querystring {before['querystring']!r} -> {query!r}")
    if event_type == "origin-request" and result.get("origin") != before.get("origin"):
        if not isinstance(result.get("origin"), dict) or len(result["origin"]) != 1 \
                or next(iter(result["origin"])) not in ("s3", "custom"):
            raise InvalidAnswer(f"{what}.origin must have one of 's3' or 'custom'")
        changes.append("changed the origin")
    body = result.get("body")
    if body != before.get("body") and body is not None:
        if not isinstance(body, dict) or body.get("action") not in ("read-only", "replace"):
            raise InvalidAnswer(f"{what}.body.action must be 'read-only' or 'replace'")
        if body.get("action") == "replace":
            changes.append("replaced the body")
    return EdgeAnswer("request", request=result, changes=tuple(changes))


def read_answer(event_type: str, payload: bytes, event: dict) -> EdgeAnswer:
    """The function's answer to ``event``, checked; InvalidAnswer if CloudFront refuses it."""
    try:
        result = json.loads(payload)
    except ValueError:
        raise InvalidAnswer("the function did not return JSON") from None
    if not isinstance(result, dict):
        raise InvalidAnswer("the function must return a request or a response object")
    cf = event["Records"][0]["cf"]
    if event_type.endswith("-request"):
        if "status" in result:
            return _response(event_type, result, None, generated=True)
        return _request(event_type, result, cf["request"])
    if "status" not in result:
        raise InvalidAnswer("a response function must return the response object")
    return _response(event_type, result, cf["response"], generated=False)


def replaced_body(request: dict) -> bytes | None:
    """The body an Include Body request function replaced (None: not replaced)."""
    body = request.get("body")
    if not isinstance(body, dict) or body.get("action") != "replace":
        return None
    data = body.get("data") or ""
    if body.get("encoding", "base64") == "base64":
        try:
            return base64.b64decode(data, validate=True)
        except (binascii.Error, ValueError):
            raise InvalidAnswer("request.body.data is not base64") from None
    return data.encode("utf-8")
