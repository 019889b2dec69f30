"""API Gateway's Lambda proxy contract: the events it sends and the responses it accepts.

Pure functions, no server: ``helpers.api_gateway`` calls them for every request.

- ``rest_event`` builds payload format 1.0 (REST APIs, and HTTP APIs set to 1.0);
- ``http_event`` builds payload format 2.0 (HTTP APIs);
- ``map_v1_response`` and ``map_v2_response`` turn the function's return value into the
  HTTP response, or raise ``MalformedResponse`` when the return value breaks the
  contract (the gateway then answers with its own error).

Shapes follow the API Gateway developer guide:
https://docs.aws.amazon.com/apigateway/latest/developerguide/set-up-lambda-proxy-integrations.html
and https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-integrations-lambda.html
Introduced in notebook 07.
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from urllib.parse import parse_qsl, unquote

__all__ = [
    "Base64BodyError",
    "MalformedResponse",
    "http_event",
    "is_text_media_type",
    "map_v1_response",
    "map_v2_response",
    "media_type_matches",
    "request_time",
    "rest_event",
]

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
# Headers a client sends for its own connection; API Gateway does not pass them on.
_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "upgrade", "te"}
# Response headers the gateway owns; a function's value is passed on renamed.
_REMAPPED = {"connection", "content-length", "date", "server", "transfer-encoding"}
# Identity fields a REST event carries; only sourceIp and userAgent are known without auth.
_IDENTITY_KEYS = (
    "cognitoIdentityPoolId", "accountId", "cognitoIdentityId", "caller", "principalOrgId",
    "accessKey", "cognitoAuthenticationType", "cognitoAuthenticationProvider", "userArn",
    "user", "apiKey", "apiKeyId",
)


class MalformedResponse(ValueError):
    """The function's return value does not follow the proxy integration's contract."""


class Base64BodyError(MalformedResponse):
    """A body marked as base64 that is not: REST APIs report it as a configuration error."""


def request_time(epoch_ms: int) -> str:
    """API Gateway's request time format, ``09/Apr/2015:12:34:56 +0000``, in UTC."""
    t = time.gmtime(epoch_ms / 1000)
    return (f"{t.tm_mday:02d}/{_MONTHS[t.tm_mon - 1]}/{t.tm_year}:"
            f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} +0000")


def media_type_matches(content_type: str | None, patterns) -> bool:
    """True if ``content_type`` (parameters ignored) matches one of ``patterns``
    (``image/png``, ``image/*``, ``*/*``)."""
    if not content_type:
        return False
    kind = content_type.split(";", 1)[0].strip().lower()
    major, _, minor = kind.partition("/")
    for pattern in patterns:
        p_major, _, p_minor = pattern.strip().lower().partition("/")
        if p_major in ("*", major) and p_minor in ("*", minor):
            return True
    return False


def is_text_media_type(content_type: str | None) -> bool:
    """Whether an HTTP API passes a body of this type as text (else base64).

    The lab treats ``text/*`` and JSON, XML and JavaScript types as text, as AWS's
    examples show; anything else, or no Content-Type at all, is treated as binary.
    """
    if not content_type:
        return False
    kind = content_type.split(";", 1)[0].strip().lower()
    major, _, minor = kind.partition("/")
    if major == "text":
        return True
    return major == "application" and (
        minor in ("json", "xml", "javascript") or minor.endswith(("+json", "+xml"))
    )


def _header(pairs, name: str) -> str | None:
    name = name.lower()
    found = None
    for key, value in pairs:
        if key.lower() == name:
            found = value
    return found


def _body_field(body: bytes, as_base64: bool) -> tuple[str | None, bool]:
    if not body:
        return None, False
    if as_base64:
        return base64.b64encode(body).decode("ascii"), True
    return body.decode("utf-8", "replace"), False


def _identity(source_ip: str, user_agent: str | None) -> dict:
    identity = dict.fromkeys(_IDENTITY_KEYS)
    identity["sourceIp"] = source_ip
    identity["userAgent"] = user_agent
    return identity


def rest_event(*, method: str, path: str, raw_query: str, headers: list[tuple[str, str]],
               body: bytes, body_is_binary: bool, resource_path: str, resource_id: str | None,
               path_parameters: dict | None, stage: str, stage_variables: dict | None,
               api_id: str, account_id: str, region: str, request_id: str,
               extended_request_id: str, epoch_ms: int, source_ip: str,
               deployment_id: str | None = None, version: str | None = None) -> dict:
    """A payload format 1.0 event.

    ``path`` is the request path without the stage (URL-decoded); ``headers`` are the
    request's headers in order, duplicates included. For an HTTP API using payload
    format 1.0 pass ``version="1.0"``.
    """
    single, multi = {}, {}
    for name, value in headers:
        if name.lower() in _HOP_BY_HOP:
            continue
        single[name] = value  # the last value wins
        multi.setdefault(name, []).append(value)
    query_single, query_multi = {}, {}
    for name, value in parse_qsl(raw_query, keep_blank_values=True):
        query_single[name] = value
        query_multi.setdefault(name, []).append(value)
    body_text, encoded = _body_field(body, body_is_binary)
    domain = f"{api_id}.execute-api.{region}.amazonaws.com"
    context = {
        "accountId": account_id,
        "apiId": api_id,
        "domainName": domain,
        "domainPrefix": api_id,
        "extendedRequestId": extended_request_id,
        "httpMethod": method,
        "identity": _identity(source_ip, _header(headers, "user-agent")),
        "path": f"/{stage}{path}" if version is None else path,
        "protocol": "HTTP/1.1",
        "requestId": request_id,
        "requestTime": request_time(epoch_ms),
        "requestTimeEpoch": epoch_ms,
        "resourceId": resource_id,
        "resourcePath": resource_path,
        "stage": stage,
    }
    if deployment_id is not None:
        context["deploymentId"] = deployment_id
    event = {
        "resource": resource_path,
        "path": path,
        "httpMethod": method,
        "headers": single,
        "multiValueHeaders": multi,
        "queryStringParameters": query_single or None,
        "multiValueQueryStringParameters": query_multi or None,
        "pathParameters": path_parameters or None,
        "stageVariables": stage_variables or None,
        "requestContext": context,
        "body": body_text,
        "isBase64Encoded": encoded,
    }
    if version is not None:
        event = {"version": version, **event}
    return event


def http_event(*, method: str, raw_path: str, raw_query: str, headers: list[tuple[str, str]],
               body: bytes, route_key: str, path_parameters: dict | None, stage: str,
               stage_variables: dict | None, api_id: str, account_id: str, region: str,
               request_id: str, epoch_ms: int, source_ip: str) -> dict:
    """A payload format 2.0 event (HTTP APIs).

    Header names are lowercased and repeated headers joined with commas; cookies move
    from the Cookie header to ``cookies``; repeated query parameters are joined with
    commas; a body is base64-encoded unless its Content-Type is text.
    """
    joined: dict[str, str] = {}
    cookies: list[str] = []
    for name, value in headers:
        lower = name.lower()
        if lower in _HOP_BY_HOP:
            continue
        if lower == "cookie":
            cookies.extend(part.strip() for part in value.split(";") if part.strip())
            continue
        joined[lower] = f"{joined[lower]},{value}" if lower in joined else value
    query: dict[str, str] = {}
    for name, value in parse_qsl(raw_query, keep_blank_values=True):
        query[name] = f"{query[name]},{value}" if name in query else value
    domain = f"{api_id}.execute-api.{region}.amazonaws.com"
    event = {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": raw_path,
        "rawQueryString": raw_query,
    }
    if cookies:
        event["cookies"] = cookies
    event["headers"] = joined
    if query:
        event["queryStringParameters"] = query
    event["requestContext"] = {
        "accountId": account_id,
        "apiId": api_id,
        "domainName": domain,
        "domainPrefix": api_id,
        "http": {
            "method": method,
            "path": unquote(raw_path),
            "protocol": "HTTP/1.1",
            "sourceIp": source_ip,
            "userAgent": joined.get("user-agent", ""),
        },
        "requestId": request_id,
        "routeKey": route_key,
        "stage": stage,
        "time": request_time(epoch_ms),
        "timeEpoch": epoch_ms,
    }
    body_text, encoded = _body_field(body, not is_text_media_type(joined.get("content-type")))
    if body_text is not None:
        event["body"] = body_text
    if path_parameters:
        event["pathParameters"] = path_parameters
    event["isBase64Encoded"] = encoded
    if stage_variables:
        event["stageVariables"] = stage_variables
    return event


# -- responses -------------------------------------------------------------------------


def _header_value(name, value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, int, float)):
        return str(value)
    raise MalformedResponse(f"header {name!r} has a {type(value).__name__} value")


def _status(result: dict) -> int:
    status = result.get("statusCode")
    if isinstance(status, bool) or not isinstance(status, int):
        raise MalformedResponse(f"statusCode must be an integer, not {status!r}")
    if not 100 <= status <= 599:
        raise MalformedResponse(f"statusCode {status} is not an HTTP status code")
    return status


def _body_bytes(result: dict, decode_base64: bool) -> bytes:
    body = result.get("body")
    if body is None:
        return b""
    if not isinstance(body, str):
        raise MalformedResponse(f"body must be a string, not {type(body).__name__} "
                                "(serialize it with json.dumps)")
    if decode_base64:
        try:
            return base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            raise Base64BodyError("isBase64Encoded is true but body is not base64") from None
    return body.encode("utf-8")


def _is_base64(result: dict) -> bool:
    flag = result.get("isBase64Encoded", False)
    if flag is None:
        return False
    if not isinstance(flag, bool):
        raise MalformedResponse(f"isBase64Encoded must be true or false, not {flag!r}")
    return flag


def _finish_headers(pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
    out = []
    for name, value in pairs:
        if name.lower() in _REMAPPED:
            name = f"x-amzn-Remapped-{name}"
        out.append((name, value))
    if not any(name.lower() == "content-type" for name, _ in out):
        out.insert(0, ("Content-Type", "application/json"))
    return out


def _parse(payload: bytes):
    try:
        return json.loads(payload)
    except ValueError:
        raise MalformedResponse("the function did not return JSON") from None


def map_v1_response(payload: bytes, *, accept: str | None = None,
                    binary_media_types=(), always_decode: bool = False):
    """(status, headers, body) from a payload format 1.0 response.

    ``headers`` and ``multiValueHeaders`` are merged, and ``multiValueHeaders`` wins for
    a name in both. A base64 body (``isBase64Encoded``) is decoded when the client's
    first Accept type is one of the REST API's binary media types, or always for an
    HTTP API (``always_decode``); otherwise the base64 text itself is sent.
    """
    result = _parse(payload)
    if not isinstance(result, dict):
        raise MalformedResponse("the function must return an object with a statusCode")
    status = _status(result)
    headers = result.get("headers") or {}
    multi = result.get("multiValueHeaders") or {}
    if not isinstance(headers, dict) or not isinstance(multi, dict):
        raise MalformedResponse("headers and multiValueHeaders must be objects")
    multi_names = {name.lower() for name in multi}
    pairs = [(name, _header_value(name, value)) for name, value in headers.items()
             if name.lower() not in multi_names]
    for name, values in multi.items():
        if not isinstance(values, list):
            raise MalformedResponse(f"multiValueHeaders[{name!r}] must be a list")
        pairs.extend((name, _header_value(name, value)) for value in values)
    encoded = _is_base64(result)
    first_accept = (accept or "").split(",", 1)[0]
    decode = encoded and (always_decode or media_type_matches(first_accept, binary_media_types))
    body = _body_bytes(result, decode)
    return status, _finish_headers(pairs), body


def map_v2_response(payload: bytes):
    """(status, headers, body) from a payload format 2.0 response.

    A JSON object with a ``statusCode`` is a full response (``cookies`` become
    Set-Cookie headers). Any other valid JSON is the body of a 200 response with
    Content-Type application/json; a string is sent as it is, anything else serialized.
    """
    result = _parse(payload)
    if not (isinstance(result, dict) and "statusCode" in result):
        body = result if isinstance(result, str) else json.dumps(result)
        return 200, [("Content-Type", "application/json")], body.encode("utf-8")
    status = _status(result)
    headers = result.get("headers") or {}
    if not isinstance(headers, dict):
        raise MalformedResponse("headers must be an object")
    pairs = [(name, _header_value(name, value)) for name, value in headers.items()]
    cookies = result.get("cookies") or []
    if not isinstance(cookies, list) or not all(isinstance(c, str) for c in cookies):
        raise MalformedResponse("cookies must be a list of strings")
    pairs.extend(("Set-Cookie", cookie) for cookie in cookies)
    body = _body_bytes(result, _is_base64(result))
    return status, _finish_headers(pairs), body
