"""The event an HTTP API sends a Lambda proxy integration, payload format 2.0
(Powertools' ``APIGatewayProxyEventV2Model``).

Pure functions, no server: ``helpers.front_doors.api_gateway`` calls ``http_event``.
The shape follows the API Gateway developer guide:
https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-integrations-lambda.html
Introduced in notebook 07.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, unquote

from .apigw import HOP_BY_HOP, body_field, is_text_media_type, request_time

POWERTOOLS_MODEL = "APIGatewayProxyEventV2Model"  # aws_lambda_powertools...parser.models

__all__ = ["POWERTOOLS_MODEL", "http_event"]


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
        if lower in HOP_BY_HOP:
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
    body_text, encoded = body_field(body, not is_text_media_type(joined.get("content-type")))
    if body_text is not None:
        event["body"] = body_text
    if path_parameters:
        event["pathParameters"] = path_parameters
    event["isBase64Encoded"] = encoded
    if stage_variables:
        event["stageVariables"] = stage_variables
    return event
