"""The event API Gateway sends a Lambda proxy integration, payload format 1.0
(Powertools' ``APIGatewayProxyEventModel``): REST APIs, and HTTP APIs set to 1.0.

Pure functions, no server: ``helpers.front_doors.api_gateway`` calls ``rest_event`` for
every request. The shape follows the API Gateway developer guide:
https://docs.aws.amazon.com/apigateway/latest/developerguide/set-up-lambda-proxy-integrations.html
Introduced in notebook 07.
"""

from __future__ import annotations

import base64
import time
from urllib.parse import parse_qsl

POWERTOOLS_MODEL = "APIGatewayProxyEventModel"  # aws_lambda_powertools...parser.models

__all__ = [
    "POWERTOOLS_MODEL",
    "body_field",
    "is_text_media_type",
    "media_type_matches",
    "request_time",
    "rest_event",
]

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
# Headers a client sends for its own connection; API Gateway does not pass them on.
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "upgrade", "te"}
# Identity fields a REST event carries; only sourceIp and userAgent are known without auth.
_IDENTITY_KEYS = (
    "cognitoIdentityPoolId", "accountId", "cognitoIdentityId", "caller", "principalOrgId",
    "accessKey", "cognitoAuthenticationType", "cognitoAuthenticationProvider", "userArn",
    "user", "apiKey", "apiKeyId",
)


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


def body_field(body: bytes, as_base64: bool) -> tuple[str | None, bool]:
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
        if name.lower() in HOP_BY_HOP:
            continue
        single[name] = value  # the last value wins
        multi.setdefault(name, []).append(value)
    query_single, query_multi = {}, {}
    for name, value in parse_qsl(raw_query, keep_blank_values=True):
        query_single[name] = value
        query_multi.setdefault(name, []).append(value)
    body_text, encoded = body_field(body, body_is_binary)
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
