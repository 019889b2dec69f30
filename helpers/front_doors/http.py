"""What every HTTP front door shares: listeners, bounded requests, a timed invoke, the
checks of a function's HTTP answer, and the trace records.

A front door (API Gateway, an Application Load Balancer's listeners, function URLs) is
one or more real HTTP endpoints on 127.0.0.1 (``open_listener``). Each reads a request
up to its service's payload limit (``max_body``: a larger body is never kept, the
request is marked ``too_large`` and the front door answers with its service's own
error), turns it into an event, invokes the function synchronously through the Lambda
service (``invoke_function``) and maps the answer back. An integration timeout, where
the service has one, gives up waiting as the service does; the function keeps running,
and when it finishes later that is recorded (``<name>.abandoned``).

One request and its answer are an ``Exchange``; every front door records it in the trace
the same way, with fields of its own added:

- ``<name>.request``: request_id, method, path, function, event (None if none was built;
  a body over 64 KB shortened), and the front door's own fields
- ``<name>.response``: request_id, status, outcome ("integration" when the function's
  answer was passed on; otherwise why not), detail (why, as the service's logs would say),
  headers, body (the first 64 KB), lambda_request_id, function, seconds, and the same
  fields
- ``<name>.abandoned``: request_id, lambda_request_id, function, outcome,
  seconds_after_response
- ``invoke`` (source ``<name>``), with the exchange's request id under ``link_field``

Introduced in notebook 07.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field

from ..aws import MAX_SYNC_PAYLOAD
from ..server import HttpServer, Request, Response

TRACE_BODY_CHARS = 64 * 1024  # bodies longer than this are shortened in the trace

__all__ = [
    "Exchange",
    "FrontDoor",
    "MalformedResponse",
    "PayloadTooLarge",
    "TimedOut",
    "body_bytes",
    "forwarded_headers",
    "header_value",
    "is_base64",
    "parse_json",
    "status_code",
    "trace_id",
]


class TimedOut(Exception):
    """The integration did not answer within its timeout."""


class PayloadTooLarge(Exception):
    """The event is over the 6 MB a synchronous invoke carries."""

    def __init__(self, size: int, limit: int = MAX_SYNC_PAYLOAD):
        super().__init__(f"{size} bytes; the limit is {limit}")
        self.size, self.limit = size, limit


class MalformedResponse(ValueError):
    """The function's return value does not follow the front door's response contract."""


# -- requests -------------------------------------------------------------------------------


def trace_id() -> str:
    """A new X-Amzn-Trace-Id value, ``Root=1-<epoch hex>-<24 hex digits>``."""
    return f"Root=1-{int(time.time()):08x}-{os.urandom(12).hex()}"


def forwarded_headers(headers, source_ip: str, port: int, proto: str, trace: str,
                      drop=()) -> list[tuple[str, str]]:
    """The request's headers as a proxy passes them on: the client's address appended to
    X-Forwarded-For, X-Forwarded-Port and -Proto, and X-Amzn-Trace-Id (``drop``: header
    names, lowercase, that are not passed on)."""
    forwarded = [(name, value) for name, value in headers if name.lower() not in drop]
    names = {name.lower(): index for index, (name, _) in enumerate(forwarded)}
    if "x-forwarded-for" in names:
        index = names["x-forwarded-for"]
        forwarded[index] = (forwarded[index][0], f"{forwarded[index][1]}, {source_ip}")
    else:
        forwarded.append(("X-Forwarded-For", source_ip))
    forwarded.append(("X-Forwarded-Port", str(port)))
    forwarded.append(("X-Forwarded-Proto", proto))
    if "x-amzn-trace-id" not in names:
        forwarded.append(("X-Amzn-Trace-Id", trace))
    return forwarded


# -- the function's answer ------------------------------------------------------------------


def parse_json(payload: bytes):
    try:
        return json.loads(payload)
    except ValueError:
        raise MalformedResponse("the function did not return JSON") from None


def status_code(result: dict) -> int:
    status = result.get("statusCode")
    if isinstance(status, bool) or not isinstance(status, int):
        raise MalformedResponse(f"statusCode must be an integer, not {status!r}")
    if not 100 <= status <= 599:
        raise MalformedResponse(f"statusCode {status} is not an HTTP status code")
    return status


def header_value(name, value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, int, float)):
        return str(value)
    raise MalformedResponse(f"header {name!r} has a {type(value).__name__} value")


def is_base64(result: dict) -> bool:
    flag = result.get("isBase64Encoded", False)
    if flag is None:
        return False
    if not isinstance(flag, bool):
        raise MalformedResponse(f"isBase64Encoded must be true or false, not {flag!r}")
    return flag


def body_bytes(result: dict, decode_base64: bool, base64_error=MalformedResponse) -> bytes:
    """The body's bytes: a string, base64-decoded if asked (``base64_error`` is raised
    when it is not base64)."""
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
            raise base64_error("isBase64Encoded is true but body is not base64") from None
    return body.encode("utf-8")


# -- one request and its answer -------------------------------------------------------------


@dataclass
class Exchange:
    """One HTTP request through a front door, and what the trace records about it."""

    request: Request
    request_id: str
    fields: dict = field(default_factory=dict)  # the front door's own trace fields
    started: float = field(default_factory=time.perf_counter)
    function: str | None = None
    lambda_request_id: str | None = None
    trace_id: str | None = None


def _shorten(event: dict) -> dict:
    body = event.get("body")
    if isinstance(body, str) and len(body) > TRACE_BODY_CHARS:
        event = dict(event)
        event["body"] = body[:TRACE_BODY_CHARS] + f"… ({len(body)} characters in all)"
    return event


class FrontDoor:
    """Listeners on loopback; subclasses answer each request (``handle``) and describe it
    with ``record_request``, ``invoke_function`` and ``finish``."""

    name = "front-door"  # the trace's prefix: "apigateway.request", ...
    link_field = "front_door_request_id"  # the exchange's id, as the ``invoke`` record names it
    max_body = 10 * 1024 * 1024

    def __init__(self, service, functions, region: str, listen: bool = True):
        self.service = service
        self.functions = functions
        self.trace = service.trace
        self.region = region
        self._executor = ThreadPoolExecutor(max_workers=256,
                                            thread_name_prefix=f"lab-{self.name}-invoke")
        self._listeners: list[HttpServer] = []
        if listen:  # one endpoint for everything (API Gateway); others open one per resource
            self.server = self.open_listener(self.handle)
            self.url, self.port = self.server.url, self.server.port

    def open_listener(self, handle) -> HttpServer:
        """A new endpoint on 127.0.0.1 whose requests ``handle(Request) -> Response`` answers."""

        def serve(request: Request) -> Response:
            response = handle(request)
            if request.method == "HEAD":
                response.body = b""
            return response

        server = HttpServer(serve, name=f"lab-{self.name}", max_body=self.max_body)
        self._listeners.append(server)
        return server

    def close_listener(self, server: HttpServer) -> None:
        server.close()
        if server in self._listeners:
            self._listeners.remove(server)

    def handle(self, request: Request) -> Response:
        raise NotImplementedError

    # -- the trace ----------------------------------------------------------------------

    def record_request(self, exchange: Exchange, path: str, event: dict | None = None):
        self.trace.record(
            f"{self.name}.request", request_id=exchange.request_id,
            method=exchange.request.method, path=path, function=exchange.function,
            event=_shorten(event) if event is not None else None, **exchange.fields)

    def finish(self, exchange: Exchange, response: Response, outcome: str,
               detail: str | None = None) -> Response:
        """Record the answer the client gets, and return it."""
        text = response.body[:TRACE_BODY_CHARS].decode("utf-8", "replace")
        self.trace.record(
            f"{self.name}.response", request_id=exchange.request_id, status=response.status,
            outcome=outcome, detail=detail, headers=list(response.headers), body=text,
            lambda_request_id=exchange.lambda_request_id, function=exchange.function,
            seconds=round(time.perf_counter() - exchange.started, 4), **exchange.fields)
        return response

    # -- the invoke ---------------------------------------------------------------------

    def invoke_function(self, exchange: Exchange, spec, invoked_arn: str, event: dict,
                        timeout_s: float | None = None, lambda_request_id: str | None = None):
        """Invoke ``spec`` with ``event`` and return its outcome.

        Raises PayloadTooLarge (nothing is invoked), LambdaApiError (Lambda refused: a
        throttle), or TimedOut after ``timeout_s`` (None: wait for the function, whose
        own timeout ends it)."""
        payload = json.dumps(event, separators=(",", ":")).encode()
        if len(payload) > MAX_SYNC_PAYLOAD:
            raise PayloadTooLarge(len(payload))
        exchange.lambda_request_id = lambda_request_id or str(uuid.uuid4())
        self.trace.record("invoke", request_id=exchange.lambda_request_id, function=spec.arn,
                          version=spec.version, invocation_type="RequestResponse",
                          source=self.name, **{self.link_field: exchange.request_id})
        if timeout_s is None:
            return self.service.invoke(spec, payload, invoked_arn,
                                       request_id=exchange.lambda_request_id, source=self.name)
        return self.invoke_with_timeout(
            spec, payload, invoked_arn, exchange.lambda_request_id, timeout_s,
            on_abandoned=lambda result, error, late: self._abandoned(exchange, result, error,
                                                                     late))

    def invoke_with_timeout(self, spec, payload: bytes, invoked_arn: str, request_id: str,
                            timeout_s: float, on_abandoned=None):
        """The function's outcome, or TimedOut after ``timeout_s`` (LambdaApiError when
        Lambda refuses the invoke). ``on_abandoned(outcome, error, seconds_late)`` is
        called when a function it stopped waiting for finishes."""
        future = self._executor.submit(self.service.invoke, spec, payload, invoked_arn,
                                       request_id=request_id, source=self.name)
        try:
            return future.result(timeout=timeout_s)
        except FutureTimeout:
            gave_up = time.perf_counter()

            def finished(done):
                if on_abandoned is not None:
                    error = done.exception()
                    on_abandoned(None if error else done.result(), error,
                                 time.perf_counter() - gave_up)

            future.add_done_callback(finished)
            raise TimedOut(f"no answer in {timeout_s * 1000:.0f} ms") from None

    def _abandoned(self, exchange: Exchange, result, error, seconds_late: float) -> None:
        if error is not None:
            outcome = f"api error: {error}"
        else:
            outcome = (f"function error: {result.error_type}" if result.function_error
                       else "response")
        self.trace.record(
            f"{self.name}.abandoned", request_id=exchange.request_id,
            lambda_request_id=exchange.lambda_request_id, function=exchange.function,
            outcome=outcome, seconds_after_response=round(seconds_late, 3))

    def stop(self) -> None:
        for server in list(self._listeners):
            server.close()
        self._listeners.clear()
        self._executor.shutdown(wait=False)
