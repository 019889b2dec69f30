"""API Gateway's data plane: a real HTTP front door that invokes Lambda synchronously.

moto keeps the APIs (the control plane: REST APIs with resources, methods, integrations,
deployments and stages; HTTP APIs with routes, integrations and stages). This module
serves them on one HTTP server on 127.0.0.1:

    http://127.0.0.1:PORT/restapis/{api_id}/{stage}/...    a REST API's deployed stage
    http://127.0.0.1:PORT/httpapis/{api_id}/...            an HTTP API's $default stage
    http://127.0.0.1:PORT/httpapis/{api_id}/{stage}/...    an HTTP API's other stages

``lab.api_url(api_id, stage)`` gives the base URL. Each request is matched to a resource
or route as API Gateway matches it, turned into a Lambda proxy event (payload format 1.0
or 2.0, see ``helpers.api_gateway_events``), and invoked synchronously through the lab's
Lambda service with the integration's timeout; the function's response is mapped back.
The gateway's own errors use AWS's status codes and bodies:
https://docs.aws.amazon.com/lambda/latest/dg/services-apigateway-errors.html

Every request is recorded in the lab's trace as every front door records it
(``helpers.front_doors.http``: ``apigateway.request``, ``invoke`` with source
"apigateway" and api_request_id, ``apigateway.response``, and ``apigateway.abandoned``
when a function finishes after the gateway stopped waiting, a 504 or 503), with API
Gateway's own fields: api_type ("REST", "HTTP"), api_id, stage, route (the matched
resource or route key) and extended_request_id. The request_id is API Gateway's, as in
the ``x-amzn-RequestId`` or ``apigw-requestid`` header. A response's outcome is
"integration" for the function's own response, or "function_error", "malformed",
"rejected", "timeout", "missing_token", "forbidden", "too_large", "configuration"; its
detail says why, as API Gateway's execution log would. Introduced in notebook 07.
"""

from __future__ import annotations

import base64
import os
import re
import time
import uuid
from dataclasses import dataclass
from urllib.parse import unquote

from ..aws import ACCOUNT_ID, policy_allows
from ..errors import LabError, LambdaApiError
from ..events.apigw import is_text_media_type, media_type_matches, rest_event
from ..events.apigwv2 import http_event
from ..server import Request, Response
from .api_gateway_responses import (
    Base64BodyError,
    MalformedResponse,
    map_v1_response,
    map_v2_response,
)
from .http import Exchange, FrontDoor, PayloadTooLarge, TimedOut, forwarded_headers, trace_id

MAX_REQUEST_BYTES = 10 * 1024 * 1024  # API Gateway's payload quota (REST and HTTP APIs)
PRINCIPAL = "apigateway.amazonaws.com"
LAMBDA_URI = re.compile(
    r"^arn:aws[a-z-]*:apigateway:[a-z0-9-]+:lambda:path/2015-03-31/functions/(.+)/invocations$")
STAGE_VARIABLE = re.compile(r"\$\{stageVariables\.([A-Za-z0-9_]+)\}")
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")

__all__ = ["ApiGateway"]


def _json_error(message: str, compact: bool) -> bytes:
    # REST APIs write {"message": "..."}, HTTP APIs {"message":"..."}, as AWS does.
    return (f'{{"message":"{message}"}}' if compact else f'{{"message": "{message}"}}').encode()


# Errors as the client sees them: (status, message, compact JSON).
REST_ERRORS = {
    "forbidden": (403, "Forbidden", True),
    "missing_token": (403, "Missing Authentication Token", True),
    "too_large": (413, "Request Too Long", True),
    "rejected": (500, "Internal server error", False),  # Lambda refused the invoke
    "function_error": (502, "Internal server error", False),
    "malformed": (502, "Internal server error", False),
    "configuration": (500, "Internal server error", False),  # API_CONFIGURATION_ERROR
    "timeout": (504, "Endpoint request timed out", False),
}
HTTP_ERRORS = {
    "forbidden": (404, "Not Found", True),
    "missing_token": (404, "Not Found", True),
    "too_large": (413, "Request Too Long", True),
    "rejected": (500, "Internal Server Error", True),
    "function_error": (500, "Internal Server Error", True),
    "malformed": (500, "Internal Server Error", True),
    "configuration": (500, "Internal Server Error", True),
    "timeout": (503, "Service Unavailable", True),
}


def _template_key(template: str):
    """Sort key: literal segments beat {param}, which beats {greedy+}, left to right."""
    return tuple(0 if s.endswith("+}") else 1 if s.startswith("{") else 2
                 for s in template.split("/") if s)


def match_template(template: str, segments: list[str]) -> dict | None:
    """Path parameters if ``segments`` (decoded) match ``template``, else None."""
    parts = [s for s in template.split("/") if s]
    params = {}
    for index, part in enumerate(parts):
        if part.startswith("{") and part.endswith("+}"):
            if index != len(parts) - 1 or index >= len(segments):
                return None
            params[part[1:-2]] = "/".join(segments[index:])
            return params
        if index >= len(segments):
            return None
        if part.startswith("{") and part.endswith("}"):
            params[part[1:-1]] = segments[index]
        elif part != segments[index]:
            return None
    return params if len(parts) == len(segments) else None


def _segments(raw_path: str) -> list[str]:
    return [unquote(s) for s in raw_path.split("/") if s]


@dataclass
class _Target:
    """The function an integration invokes."""

    name: str
    qualifier: str | None


def parse_lambda_uri(uri: str | None, stage_variables: dict) -> _Target:
    """The function named by an integration URI (stage variables substituted)."""
    if not uri:
        raise ValueError("the integration has no URI")

    def substitute(match):
        name = match.group(1)
        if name not in stage_variables:
            raise ValueError(f"stage variable {name!r} is not set")
        return stage_variables[name]

    uri = STAGE_VARIABLE.sub(substitute, uri)
    match = LAMBDA_URI.match(uri)
    arn = match.group(1) if match else uri
    if ":function:" in arn:
        name, _, qualifier = arn.split(":function:", 1)[1].partition(":")
        return _Target(arn.rsplit(":", 1)[0] if qualifier else arn, qualifier or None)
    if match is None or not arn:
        raise ValueError(f"{uri!r} does not name a Lambda function")
    name, _, qualifier = arn.partition(":")
    return _Target(name, qualifier or None)


def _request_ids(kind: str) -> tuple[str, str]:
    """(request id, extended request id) in the shape each kind of API uses."""
    if kind == "REST":
        extended = base64.b64encode(os.urandom(9)).decode()[:11] + "="
        return str(uuid.uuid4()), extended
    short = base64.b64encode(os.urandom(12)).decode()[:15] + "="
    return short, short


class ApiGateway(FrontDoor):
    """The lab's API Gateway endpoint. Started by the lab on first use (``lab.api_url``)."""

    name = "apigateway"
    link_field = "api_request_id"
    max_body = MAX_REQUEST_BYTES

    def __init__(self, service, functions, state, region: str):
        super().__init__(service, functions, region)
        self.state = state  # helpers.cloud.apigateway_state.ApiGatewayState

    # -- URLs -----------------------------------------------------------------------------

    def url_for(self, api_id: str, stage: str) -> str:
        """The base URL of an API's stage; a clear error if it cannot answer yet."""
        kind = self.state.kind(api_id, ACCOUNT_ID, self.region)
        if kind == "REST":
            if self.state.rest_stage(api_id, stage, ACCOUNT_ID, self.region) is None:
                names = self.state.rest_stage_names(api_id, ACCOUNT_ID, self.region)
                raise LabError(
                    f"REST API {api_id} has no deployed stage {stage!r} (stages: "
                    f"{', '.join(names) or 'none'}). Deploy it first: apigateway."
                    f"create_deployment(restApiId={api_id!r}, stageName={stage!r}).")
            return f"{self.url}/restapis/{api_id}/{stage}"
        if kind == "HTTP":
            if stage not in self.state.http_stage_names(api_id, ACCOUNT_ID, self.region):
                raise LabError(
                    f"HTTP API {api_id} has no stage {stage!r}. Create it first: apigatewayv2."
                    f"create_stage(ApiId={api_id!r}, StageName={stage!r}, AutoDeploy=True).")
            base = f"{self.url}/httpapis/{api_id}"
            return base if stage == "$default" else f"{base}/{stage}"
        if kind is not None:
            raise LabError(f"API {api_id} is a {kind} API: the lab serves REST and HTTP APIs.")
        raise LabError(f"There is no REST or HTTP API with id {api_id!r} in this lab.")

    # -- requests -------------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        """Answer one request."""
        headers, body = request.headers, request.body
        source_ip, too_large = request.client[0], request.too_large
        raw_path, _, raw_query = request.target.partition("?")
        parts = raw_path.split("/", 4)
        kind = {"restapis": "REST", "httpapis": "HTTP"}.get(parts[1] if len(parts) > 1 else "")
        request_id, extended_id = _request_ids(kind or "REST")
        context = Exchange(request, request_id, fields={
            "api_type": kind, "api_id": None, "stage": None, "route": None,
            "extended_request_id": extended_id})
        try:
            if kind is None or len(parts) < 3:
                response = self._error(context, "forbidden", "not an API URL")
            elif too_large:
                response = self._error(context, "too_large", "over 10 MB")
            elif kind == "REST":
                response = self._rest(context, parts, raw_query, headers, body, source_ip)
            else:
                response = self._http(context, parts, raw_query, headers, body, source_ip)
        except Exception as error:  # a bug in the lab still answers, and says why
            response = self._error(context, "rejected", f"lab error: {error!r}")
        return response

    def _finish(self, context: Exchange, response: Response, outcome: str,
                detail: str | None = None) -> Response:
        if context.fields["api_type"] == "HTTP":
            response.headers.append(("Apigw-Requestid", context.request_id))
        else:
            response.headers.append(("x-amzn-RequestId", context.request_id))
            response.headers.append(("x-amz-apigw-id", context.fields["extended_request_id"]))
            if outcome == "integration":
                response.headers.append(("X-Amzn-Trace-Id", context.trace_id or ""))
        return self.finish(context, response, outcome, detail)

    def _error(self, context: Exchange, error: str, detail: str) -> Response:
        table = HTTP_ERRORS if context.fields["api_type"] == "HTTP" else REST_ERRORS
        status, message, compact = table[error]
        response = Response(status, [("Content-Type", "application/json")],
                                _json_error(message, compact))
        return self._finish(context, response, error, detail)

    # -- REST APIs ------------------------------------------------------------------------

    def _rest(self, context, parts, raw_query, headers, body, source_ip):
        request_method = context.request.method
        if len(parts) < 4 or not parts[3]:
            return self._error(context, "missing_token", "no stage in the URL")
        api_id, stage_name = parts[2], unquote(parts[3])
        context.fields.update(api_id=api_id, stage=stage_name)
        raw_path = "/" + (parts[4] if len(parts) > 4 else "")
        stage = self.state.rest_stage(api_id, stage_name, ACCOUNT_ID, self.region)
        if stage is None:
            self.record_request(context, raw_path)
            return self._error(context, "forbidden", "no such API or stage")
        segments = _segments(raw_path)
        matches = []
        for resource in stage.resources:
            params = match_template(resource.path, segments)
            if params is not None:
                matches.append((_template_key(resource.path), resource, params))
        matches.sort(key=lambda item: item[0], reverse=True)
        resource, params = (matches[0][1], matches[0][2]) if matches else (None, None)
        method = None
        if resource is not None:
            method = resource.methods.get(request_method) or resource.methods.get("ANY")
        if method is None:
            self.record_request(context, raw_path)
            return self._error(context, "missing_token", "no resource and method match")
        context.fields["route"] = f"{request_method} {resource.path}"
        if method.integration_type != "AWS_PROXY":
            self.record_request(context, raw_path)
            return self._error(context, "rejected",
                               f"integration type {method.integration_type}: the lab serves "
                               "Lambda proxy (AWS_PROXY) integrations only")
        content_type = next((v for k, v in headers if k.lower() == "content-type"), None)
        context.trace_id = trace_id()
        forwarded = forwarded_headers(headers, source_ip, self.port, "http", context.trace_id)
        path = "/" + "/".join(segments) if segments else "/"
        event = rest_event(
            method=request_method, path=path, raw_query=raw_query, headers=forwarded,
            body=body, body_is_binary=media_type_matches(content_type, stage.binary_media_types),
            resource_path=resource.path, resource_id=resource.resource_id,
            path_parameters=params, stage=stage_name, stage_variables=stage.variables,
            api_id=api_id, account_id=ACCOUNT_ID, region=self.region,
            request_id=context.request_id,
            extended_request_id=context.fields["extended_request_id"],
            epoch_ms=int(time.time() * 1000), source_ip=source_ip,
            deployment_id=stage.deployment_id)
        source_arn = (f"arn:aws:execute-api:{self.region}:{ACCOUNT_ID}:{api_id}/{stage_name}/"
                      f"{request_method}{resource.path}")
        accept = next((v for k, v in headers if k.lower() == "accept"), None)

        def mapper(payload):
            return map_v1_response(payload, accept=accept,
                                   binary_media_types=stage.binary_media_types)

        return self._integrate(context, raw_path, event, method.uri, method.credentials,
                               stage.variables, source_arn, method.timeout_ms / 1000, mapper)

    # -- HTTP APIs ------------------------------------------------------------------------

    def _http(self, context, parts, raw_query, headers, body, source_ip):
        api_id, request_method = parts[2], context.request.method
        context.fields["api_id"] = api_id
        rest = "/" + "/".join(parts[3:])
        names = self.state.http_stage_names(api_id, ACCOUNT_ID, self.region)
        first = unquote(parts[3]) if len(parts) > 3 else ""
        if first and first != "$default" and first in names:
            stage_name = first
            route_path = "/" + (parts[4] if len(parts) > 4 else "")
        elif "$default" in names:
            stage_name, route_path = "$default", rest
        else:
            self.record_request(context, rest)
            return self._error(context, "forbidden", "no such API or stage")
        context.fields["stage"] = stage_name
        stage = self.state.http_stage(api_id, stage_name, ACCOUNT_ID, self.region)
        if stage is None:
            self.record_request(context, rest)
            return self._error(context, "forbidden", "no such API or stage")
        route, params = self._match_route(stage.routes, request_method, route_path)
        if route is None:
            self.record_request(context, rest)
            return self._error(context, "missing_token", "no route matches")
        context.fields["route"] = route.route_key
        integration = route.integration
        if integration is None or integration.integration_type != "AWS_PROXY":
            self.record_request(context, rest)
            kind = integration.integration_type if integration else "none"
            return self._error(context, "rejected", f"integration type {kind}: the lab "
                               "serves Lambda proxy (AWS_PROXY) integrations only")
        forwarded = forwarded_headers(headers, source_ip, self.port, "http", trace_id())
        now_ms = int(time.time() * 1000)
        if integration.payload_format_version == "2.0":
            event = http_event(
                method=request_method, raw_path=rest, raw_query=raw_query,
                headers=forwarded, body=body, route_key=route.route_key,
                path_parameters=params, stage=stage_name, stage_variables=stage.variables,
                api_id=api_id, account_id=ACCOUNT_ID, region=self.region,
                request_id=context.request_id, epoch_ms=now_ms, source_ip=source_ip)
            mapper = map_v2_response
        else:
            content_type = next((v for k, v in forwarded if k.lower() == "content-type"), None)
            resource_path = route.route_key.split(" ", 1)[-1]
            event = rest_event(
                method=request_method, path=unquote(rest), raw_query=raw_query,
                headers=forwarded, body=body,
                body_is_binary=not is_text_media_type(content_type),
                resource_path=resource_path, resource_id=None, path_parameters=params,
                stage=stage_name, stage_variables=stage.variables, api_id=api_id,
                account_id=ACCOUNT_ID, region=self.region, request_id=context.request_id,
                extended_request_id=context.fields["extended_request_id"], epoch_ms=now_ms,
                source_ip=source_ip, version="1.0")

            def mapper(payload):
                return map_v1_response(payload, always_decode=True)

        if route.route_key == "$default":
            arn_route = "$default"
        else:
            arn_route = f"{request_method}{route.route_key.split(' ', 1)[-1]}"
        source_arn = (f"arn:aws:execute-api:{self.region}:{ACCOUNT_ID}:{api_id}/{stage_name}/"
                      f"{arn_route}")
        return self._integrate(context, rest, event, integration.uri, integration.credentials,
                               stage.variables, source_arn, integration.timeout_ms / 1000,
                               mapper)

    @staticmethod
    def _match_route(routes, method: str, route_path: str):
        segments = _segments(route_path)
        best, best_key, default = None, None, None
        for route in routes:
            if route.route_key == "$default":
                default = route
                continue
            verb, _, template = route.route_key.partition(" ")
            if verb not in (method, "ANY"):
                continue
            params = match_template(template, segments)
            if params is None:
                continue
            key = (_template_key(template), verb == method)
            if best_key is None or key > best_key:
                best, best_key = (route, params), key
        if best is not None:
            return best
        return (default, None) if default is not None else (None, None)

    # -- the integration ------------------------------------------------------------------

    def _integrate(self, context, path, event, uri, credentials, stage_variables,
                   source_arn, timeout_s, mapper) -> Response:
        try:
            target = parse_lambda_uri(uri, stage_variables)
        except ValueError as error:
            self.record_request(context, path, event)
            return self._error(context, "rejected", f"configuration error: {error}")
        context.function = target.name
        try:
            spec = self.functions.find(target.name, target.qualifier, ACCOUNT_ID,
                                       self.region)
        except Exception:
            self.record_request(context, path, event)
            return self._error(context, "rejected",
                               f"Lambda: function {target.name} not found")
        context.function = spec.arn
        invoked_arn = spec.arn + (f":{target.qualifier}" if target.qualifier else "")
        self.record_request(context, path, event)
        if not credentials:
            statements = self.functions.policy_statements(
                spec.name, target.qualifier, ACCOUNT_ID, self.region)
            if not policy_allows(statements, action="lambda:InvokeFunction",
                                 resource=invoked_arn, service=PRINCIPAL,
                                 context={"aws:SourceArn": source_arn,
                                          "aws:SourceAccount": ACCOUNT_ID}):
                return self._error(context, "rejected",
                                   "Invalid permissions on Lambda function "
                                   f"(no statement allows {PRINCIPAL} from {source_arn})")
        try:
            outcome = self.invoke_function(context, spec, invoked_arn, event, timeout_s)
        except PayloadTooLarge as error:
            return self._error(context, "rejected", f"Lambda: RequestTooLargeException ({error})")
        except TimedOut:
            return self._error(context, "timeout",
                               f"the integration did not answer in {timeout_s * 1000:.0f} ms")
        except LambdaApiError as error:
            reason = error.reason or error.code
            return self._error(context, "rejected", f"Lambda: {error.status} {reason}")
        if outcome.function_error:
            return self._error(context, "function_error",
                               f"function error: {outcome.error_type}")
        try:
            status, headers, body = mapper(outcome.payload)
        except Base64BodyError as error:
            return self._error(context, "configuration", f"configuration error: {error}")
        except MalformedResponse as error:
            return self._error(context, "malformed", f"Malformed Lambda proxy response: {error}")
        return self._finish(context, Response(status, headers, body), "integration")
