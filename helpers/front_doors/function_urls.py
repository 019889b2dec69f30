"""Function URLs: a function's own HTTP endpoint, one port of 127.0.0.1 per URL.

A URL configuration is created with plain boto3 (``create_function_url_config``, kept by
``helpers.cloud.function_url_state``); ``lab.function_url(function_name, qualifier=None)``
opens it on loopback and returns its base URL. Each request is checked as Lambda checks
it (``helpers.front_doors.function_url_access``: the auth type, both permissions, CORS),
turned into a payload format 2.0 event (``helpers.events.lambda_function_url``) and
invoked synchronously; the function's timeout is the only limit on the wait. The answer
is mapped back as the function URL guide describes it, with its inference: a return value
without ``statusCode`` is the JSON body of a 200 (a string comes back as a JSON string,
quotes included); ``cookies`` become Set-Cookie headers.
https://docs.aws.amazon.com/lambda/latest/dg/urls-invocation.html

What Lambda answers itself: **403** ``{"Message":"Forbidden. ..."}`` when the request may
not invoke; **429** when the function is throttled
(https://docs.aws.amazon.com/lambda/latest/dg/urls-configuration.html#urls-throttling);
**502** when the function raised, timed out or answered with a malformed response;
**413** when the event is over the 6 MB of a synchronous invoke. ``RESPONSE_STREAM``
needs a runtime that streams its response (AWS's Node.js runtimes, or a custom runtime);
the lab's Python runtime clients send one buffered response, so such a URL answers 501
and says so.

Trace records (``helpers.front_doors.http``): ``function_url.request``, ``invoke``
(source "function_url"), ``function_url.response``, with the fields url_id, auth_type,
invoke_mode and caller (the signer's ARN for AWS_IAM). The request_id is the Lambda
request id, as in the ``x-amzn-RequestId`` header and ``requestContext.requestId``. A
response's outcome is "integration", "preflight", or why Lambda answered itself:
"forbidden", "throttled", "function_error", "malformed", "too_large", "streaming",
"not_found", "deleted". Introduced in notebook 14.
"""

from __future__ import annotations

import json
import time
import uuid

from ..aws import ACCOUNT_ID, MAX_SYNC_PAYLOAD, function_name_parts
from ..errors import LabError, LambdaApiError
from ..events.lambda_function_url import function_url_event
from ..server import Request, Response
from .function_url_access import Denied, cors_headers, preflight_headers
from .http import (
    Exchange,
    FrontDoor,
    MalformedResponse,
    PayloadTooLarge,
    body_bytes,
    forwarded_headers,
    header_value,
    is_base64,
    parse_json,
    status_code,
    trace_id,
)

FORBIDDEN = ("Forbidden. For troubleshooting Function URL authorization issues, see: "
             "https://docs.aws.amazon.com/lambda/latest/dg/urls-auth.html")
STREAMING = ("This function URL's InvokeMode is RESPONSE_STREAM. Streaming a response needs "
             "a runtime that streams (AWS's Node.js runtimes, or a custom runtime); the lab "
             "runs Python handlers, whose runtime clients send one buffered response. Use "
             "InvokeMode BUFFERED in the lab.")

__all__ = ["FunctionUrls", "map_url_response"]


def map_url_response(payload: bytes):
    """(status, headers, body) of a function URL's answer to the client."""
    result = parse_json(payload)
    if not (isinstance(result, dict) and "statusCode" in result):
        return 200, [("Content-Type", "application/json")], payload  # the value, as JSON
    status = status_code(result)
    headers = result.get("headers") or {}
    if not isinstance(headers, dict):
        raise MalformedResponse("headers must be an object")
    pairs = [(name, header_value(name, value)) for name, value in headers.items()
             if name.lower() not in ("content-length", "transfer-encoding", "connection")]
    cookies = result.get("cookies") or []
    if not isinstance(cookies, list) or not all(isinstance(c, str) for c in cookies):
        raise MalformedResponse("cookies must be a list of strings")
    pairs.extend(("Set-Cookie", cookie) for cookie in cookies)
    if not any(name.lower() == "content-type" for name, _ in pairs):
        pairs.insert(0, ("Content-Type", "application/json"))
    return status, pairs, body_bytes(result, is_base64(result))


def _json(status: int, message: str) -> Response:
    return Response(status, [("Content-Type", "application/json")],
                    json.dumps({"Message": message}, separators=(",", ":")).encode())


class FunctionUrls(FrontDoor):
    """Every function URL the lab serves. Started by the lab on first use
    (``lab.function_url``)."""

    name = "function_url"
    link_field = "function_url_request_id"
    max_body = MAX_SYNC_PAYLOAD

    def __init__(self, service, functions, state, access, region: str):
        super().__init__(service, functions, region, listen=False)
        self.state = state  # helpers.cloud.function_url_state.FunctionUrlState
        self.access = access  # helpers.front_doors.function_url_access.UrlAccess
        self._urls: dict[str, str] = {}  # url id -> base URL on loopback

    def url_for(self, function_name: str, qualifier: str | None = None) -> str:
        """The base URL of a function's (or alias's) URL; a clear error if it has none."""
        parts = function_name_parts(function_name, qualifier)
        if parts is None:
            raise LabError(f"{function_name!r} is not a function name or ARN.")
        config = self.state.get(ACCOUNT_ID, self.region, parts.name, parts.qualifier)
        if config is None:
            which = f"{parts.name}:{parts.qualifier}" if parts.qualifier else parts.name
            extra = f", Qualifier={parts.qualifier!r}" if parts.qualifier else ""
            raise LabError(f"{which} has no function URL. Create it first: lambda_client."
                           f"create_function_url_config(FunctionName={parts.name!r}{extra}, "
                           "AuthType='NONE').")
        if config.url_id not in self._urls:
            url_id = config.url_id
            server = self.open_listener(lambda request: self.handle(request, url_id))
            self._urls[url_id] = server.url
        return self._urls[config.url_id]

    # -- requests -------------------------------------------------------------------------

    def handle(self, request: Request, url_id: str) -> Response:
        exchange = Exchange(request, str(uuid.uuid4()), fields={
            "url_id": url_id, "auth_type": None, "invoke_mode": None, "caller": None})
        try:
            return self._answer(exchange, url_id)
        except Exception as error:  # a bug in the lab still answers, and says why
            return self.finish(exchange, _json(500, "Internal Server Error"), "lab_error",
                               f"lab error: {error!r}")

    def _answer(self, exchange: Exchange, url_id: str) -> Response:
        request = exchange.request
        raw_path, _, raw_query = request.target.partition("?")
        config = self.state.by_url_id(url_id)
        if config is None:
            self.record_request(exchange, raw_path)
            return self.finish(exchange, _json(404, "Not Found"), "deleted",
                               "the function URL was deleted")
        exchange.function = config.invoked_arn
        exchange.fields.update(auth_type=config.auth_type, invoke_mode=config.invoke_mode)
        origin = request.header("origin")
        if (config.cors and request.method == "OPTIONS" and origin
                and request.header("access-control-request-method")):
            self.record_request(exchange, raw_path)
            return self.finish(exchange, Response(200, preflight_headers(config.cors, request)),
                               "preflight")
        answer, outcome, detail = self._invoke(exchange, config, raw_path, raw_query)
        for name, value in cors_headers(config.cors, origin):  # the configuration wins
            answer.set_header(name, value)
        answer.headers.append(("x-amzn-RequestId", exchange.request_id))
        return self.finish(exchange, answer, outcome, detail)

    def _invoke(self, exchange, config, raw_path, raw_query):
        """(the answer before CORS, outcome, detail)."""
        request = exchange.request

        def refuse(response, outcome, detail):
            return response, outcome, detail

        if request.too_large:
            self.record_request(exchange, raw_path)
            return refuse(_json(413, f"Request must be smaller than {MAX_SYNC_PAYLOAD} bytes "
                                     "for the InvokeFunction operation"),
                          "too_large", "the request body is over 6 MB")
        try:
            caller = self.access.check(config, request)
        except Denied as denied:
            self.record_request(exchange, raw_path)
            return refuse(_json(403, FORBIDDEN), "forbidden", str(denied))
        exchange.fields["caller"] = caller.user_arn if caller else None
        if config.invoke_mode == "RESPONSE_STREAM":
            self.record_request(exchange, raw_path)
            return refuse(_json(501, STREAMING), "streaming", "RESPONSE_STREAM")
        try:
            spec = self.functions.find(config.function_name, config.qualifier,
                                       config.account_id, config.region)
        except LambdaApiError as error:
            self.record_request(exchange, raw_path)
            return refuse(_json(502, "Internal Server Error"), "not_found", error.message)
        port = int(self._urls[config.url_id].rsplit(":", 1)[1])
        headers = forwarded_headers(request.headers, request.client[0], port, "http",
                                    trace_id())
        event = function_url_event(
            method=request.method, raw_path=raw_path, raw_query=raw_query, headers=headers,
            body=request.body, url_id=config.url_id, account_id=config.account_id,
            region=config.region, request_id=exchange.request_id,
            epoch_ms=int(time.time() * 1000), source_ip=request.client[0],
            caller=caller.event_fields() if caller else None)
        self.record_request(exchange, raw_path, event)
        try:
            outcome = self.invoke_function(exchange, spec, config.invoked_arn, event,
                                           lambda_request_id=exchange.request_id)
        except PayloadTooLarge as error:
            return refuse(_json(413, f"Request must be smaller than {error.limit} bytes for "
                                     "the InvokeFunction operation"),
                          "too_large", f"Lambda: RequestTooLargeException ({error})")
        except LambdaApiError as error:
            status = 429 if error.status == 429 else 502
            return refuse(_json(status, error.message if status == 429 else
                                "Internal Server Error"),
                          "throttled" if status == 429 else "not_found",
                          f"Lambda: {error.status} {error.reason or error.code}")
        if outcome.function_error:
            return refuse(Response(502, [("Content-Type", "text/plain")],
                                   b"Internal Server Error"),
                          "function_error", f"function error: {outcome.error_type}")
        try:
            status, pairs, body = map_url_response(outcome.payload)
        except MalformedResponse as error:
            return refuse(Response(502, [("Content-Type", "text/plain")],
                                   b"Internal Server Error"), "malformed", str(error))
        return Response(status, pairs, body), "integration", None
