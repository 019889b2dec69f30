"""What API Gateway does with a Lambda proxy integration's answer: the HTTP response.

``map_v1_response`` (payload format 1.0) and ``map_v2_response`` (2.0, with its
inference for answers that are not a response object) turn the function's return value
into status, headers and body, or raise ``MalformedResponse`` when the value breaks the
contract (the gateway then answers with its own error).
https://docs.aws.amazon.com/apigateway/latest/developerguide/set-up-lambda-proxy-integrations.html
https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-integrations-lambda.html
Introduced in notebook 07.
"""

from __future__ import annotations

import json

from ..events.apigw import media_type_matches
from .http import (
    MalformedResponse,
    body_bytes,
    header_value,
    is_base64,
    parse_json,
    status_code,
)

# Response headers the gateway owns; a function's value is passed on renamed.
_REMAPPED = {"connection", "content-length", "date", "server", "transfer-encoding"}

__all__ = ["Base64BodyError", "MalformedResponse", "map_v1_response", "map_v2_response"]


class Base64BodyError(MalformedResponse):
    """A body marked as base64 that is not: REST APIs report it as a configuration error."""


def _finish_headers(pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
    out = []
    for name, value in pairs:
        if name.lower() in _REMAPPED:
            name = f"x-amzn-Remapped-{name}"
        out.append((name, value))
    if not any(name.lower() == "content-type" for name, _ in out):
        out.insert(0, ("Content-Type", "application/json"))
    return out


def map_v1_response(payload: bytes, *, accept: str | None = None,
                    binary_media_types=(), always_decode: bool = False):
    """(status, headers, body) from a payload format 1.0 response.

    ``headers`` and ``multiValueHeaders`` are merged, and ``multiValueHeaders`` wins for
    a name in both. A base64 body (``isBase64Encoded``) is decoded when the client's
    first Accept type is one of the REST API's binary media types, or always for an
    HTTP API (``always_decode``); otherwise the base64 text itself is sent.
    """
    result = parse_json(payload)
    if not isinstance(result, dict):
        raise MalformedResponse("the function must return an object with a statusCode")
    status = status_code(result)
    headers = result.get("headers") or {}
    multi = result.get("multiValueHeaders") or {}
    if not isinstance(headers, dict) or not isinstance(multi, dict):
        raise MalformedResponse("headers and multiValueHeaders must be objects")
    multi_names = {name.lower() for name in multi}
    pairs = [(name, header_value(name, value)) for name, value in headers.items()
             if name.lower() not in multi_names]
    for name, values in multi.items():
        if not isinstance(values, list):
            raise MalformedResponse(f"multiValueHeaders[{name!r}] must be a list")
        pairs.extend((name, header_value(name, value)) for value in values)
    encoded = is_base64(result)
    first_accept = (accept or "").split(",", 1)[0]
    decode = encoded and (always_decode or media_type_matches(first_accept, binary_media_types))
    body = body_bytes(result, decode, Base64BodyError)
    return status, _finish_headers(pairs), body


def map_v2_response(payload: bytes):
    """(status, headers, body) from a payload format 2.0 response.

    A JSON object with a ``statusCode`` is a full response (``cookies`` become
    Set-Cookie headers). Any other valid JSON is the body of a 200 response with
    Content-Type application/json; a string is sent as it is, anything else serialized.
    """
    result = parse_json(payload)
    if not (isinstance(result, dict) and "statusCode" in result):
        body = result if isinstance(result, str) else json.dumps(result)
        return 200, [("Content-Type", "application/json")], body.encode("utf-8")
    status = status_code(result)
    headers = result.get("headers") or {}
    if not isinstance(headers, dict):
        raise MalformedResponse("headers must be an object")
    pairs = [(name, header_value(name, value)) for name, value in headers.items()]
    cookies = result.get("cookies") or []
    if not isinstance(cookies, list) or not all(isinstance(c, str) for c in cookies):
        raise MalformedResponse("cookies must be a list of strings")
    pairs.extend(("Set-Cookie", cookie) for cookie in cookies)
    body = body_bytes(result, is_base64(result), Base64BodyError)
    return status, _finish_headers(pairs), body
