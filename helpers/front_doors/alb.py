"""Application Load Balancers with Lambda targets: a real HTTP endpoint per listener.

moto keeps the load balancers, listeners, rules and target groups (created with plain
boto3, ``elbv2``); ``lab.alb_url(load_balancer_arn, port=80)`` opens that listener on its
own port of 127.0.0.1 and returns its base URL. Each request is answered as the listener's
rules say (``helpers.front_doors.alb_routing``): a fixed response, a redirect, or a
forward to a target group, whose Lambda function is invoked synchronously with the
load balancer's event (``helpers.events.alb``). The function's timeout is the only
limit on the wait: a load balancer has no integration timeout of its own.
https://docs.aws.amazon.com/elasticloadbalancing/latest/application/lambda-functions.html

What the load balancer answers itself, as its troubleshooting guide lists it
(https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-troubleshooting.html),
with its own HTML error page:

- **502**: the function raised or timed out, was throttled, may not be invoked by
  ``elasticloadbalancing.amazonaws.com`` from this target group, or answered with a
  malformed response or more than 1 MB of JSON;
- **413**: a request body over 1 MB for a Lambda target;
- **503**: the target group has no registered target;
- **405**: the TRACE method; **400**: a WebSocket upgrade.

Trace records (``helpers.front_doors.http``): ``alb.request``, ``invoke`` (source "alb",
alb_request_id), ``alb.response``, with the fields load_balancer (its name),
listener_port, trace_id (the X-Amzn-Trace-Id the function sees), rule (its priority,
or "default"), action, target_group and multi_value. A response's outcome is
"integration", "fixed_response", "redirect", or why the load balancer answered itself:
"function_error", "malformed", "response_too_large", "too_large", "access_denied",
"throttled", "no_targets", "not_found", "unsupported", "bad_request", "no_listener".
Introduced in notebook 08.
"""

from __future__ import annotations

import uuid

from ..aws import ACCOUNT_ID, policy_allows
from ..errors import LabError, LambdaApiError
from ..events.alb import alb_event
from ..server import Request, Response
from .alb_routing import RequestFacts, final_action, matching_rule, pick_target_group, redirect
from .http import (
    Exchange,
    FrontDoor,
    MalformedResponse,
    body_bytes,
    forwarded_headers,
    header_value,
    is_base64,
    parse_json,
    status_code,
    trace_id,
)

MAX_BODY = 1024 * 1024  # request body and response JSON of a Lambda target: 1 MB each
PRINCIPAL = "elasticloadbalancing.amazonaws.com"
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "upgrade"}
TITLES = {400: "400 Bad Request", 405: "405 Method Not Allowed",
          413: "413 Request Entity Too Large", 500: "500 Internal Server Error",
          502: "502 Bad Gateway", 503: "503 Service Temporarily Unavailable"}
ERRORS = {  # outcome -> the status the load balancer answers with
    "function_error": 502, "malformed": 502, "response_too_large": 502, "throttled": 502,
    "access_denied": 502, "not_found": 502, "too_large": 413, "no_targets": 503,
    "unsupported": 500, "bad_request": 400, "method_not_allowed": 405, "no_listener": 503,
}

__all__ = ["LoadBalancers", "map_alb_response"]


class ResponseTooLarge(MalformedResponse):
    """More than 1 MB of response JSON."""


def map_alb_response(payload: bytes, multi_value: bool):
    """(status, headers, body, note) from a Lambda target's answer.

    ``statusCode`` is required; ``headers`` (or ``multiValueHeaders`` when the target
    group has multi-value headers on; the other one is ignored, and ``note`` says so),
    ``isBase64Encoded`` and ``body`` are optional. Hop-by-hop headers and Content-Length
    are the load balancer's own: a function's are dropped.
    """
    if len(payload) > MAX_BODY:
        raise ResponseTooLarge(f"{len(payload)} bytes of response JSON (1 MB at most)")
    result = parse_json(payload)
    if not isinstance(result, dict):
        raise MalformedResponse("the function must return an object with a statusCode")
    status = status_code(result)
    description = result.get("statusDescription")
    if description is not None and not isinstance(description, str):
        raise MalformedResponse("statusDescription must be a string such as '200 OK'")
    used, ignored = ("multiValueHeaders", "headers") if multi_value else (
        "headers", "multiValueHeaders")
    given = result.get(used) or {}
    if not isinstance(given, dict):
        raise MalformedResponse(f"{used} must be an object")
    pairs = []
    for name, value in given.items():
        if multi_value and not isinstance(value, list):
            raise MalformedResponse(f"multiValueHeaders[{name!r}] must be a list")
        for one in value if multi_value else [value]:
            if str(name).lower() not in HOP_BY_HOP:
                pairs.append((str(name), header_value(name, one)))
    note = None
    if result.get(ignored):
        mode = "on" if multi_value else "off"
        note = f"{ignored} ignored: multi-value headers are {mode} for the target group"
    return status, pairs, body_bytes(result, is_base64(result)), note


def _page(status: int) -> Response:
    title = TITLES.get(status, str(status))
    body = (f"<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n"
            f"<center><h1>{title}</h1></center>\r\n</body>\r\n</html>\r\n").encode()
    return Response(status, [("Server", "awselb/2.0"), ("Content-Type", "text/html")], body)


class LoadBalancers(FrontDoor):
    """Every listener the lab serves. Started by the lab on first use (``lab.alb_url``)."""

    name = "alb"
    link_field = "alb_request_id"
    max_body = MAX_BODY

    def __init__(self, service, functions, state, region: str):
        super().__init__(service, functions, region, listen=False)
        self.state = state  # helpers.cloud.elbv2_state.Elbv2State
        self._urls: dict[tuple[str, int], str] = {}

    def url_for(self, load_balancer_arn: str, port: int = 80) -> str:
        """The base URL of a listener; a clear error if it cannot answer yet."""
        balancer = self.state.load_balancer(load_balancer_arn, ACCOUNT_ID, self.region)
        if balancer is None:
            raise LabError(f"There is no load balancer {load_balancer_arn!r} in this lab.")
        if balancer.type != "application":
            raise LabError(f"{balancer.name} is a {balancer.type} load balancer: Lambda "
                           "targets need an Application Load Balancer.")
        if int(port) not in balancer.ports:
            raise LabError(
                f"{balancer.name} has no listener on port {port} (listeners: "
                f"{', '.join(map(str, balancer.ports)) or 'none'}). Create it first: elbv2."
                f"create_listener(LoadBalancerArn=..., Protocol='HTTP', Port={port}, "
                "DefaultActions=[...]).")
        key = (load_balancer_arn, int(port))
        if key not in self._urls:
            server = self.open_listener(lambda request: self.handle(request, key, balancer))
            self._urls[key] = server.url
        return self._urls[key]

    # -- requests -------------------------------------------------------------------------

    def handle(self, request: Request, key, balancer) -> Response:
        trace = request.header("x-amzn-trace-id") or trace_id()
        exchange = Exchange(request, str(uuid.uuid4()), fields={
            "load_balancer": balancer.name, "listener_port": key[1], "trace_id": trace,
            "rule": None, "action": None, "target_group": None, "multi_value": None})
        try:
            return self._answer(exchange, key, trace)
        except Exception as error:  # a bug in the lab still answers, and says why
            return self._error(exchange, "unsupported", f"lab error: {error!r}")

    def _error(self, exchange, outcome: str, detail: str) -> Response:
        return self.finish(exchange, _page(ERRORS[outcome]), outcome, detail)

    def _answer(self, exchange: Exchange, key, trace: str) -> Response:
        request = exchange.request
        raw_path, _, raw_query = request.target.partition("?")
        listener = self.state.listener(key[0], key[1], ACCOUNT_ID, self.region)
        if listener is None:
            self.record_request(exchange, raw_path)
            return self._error(exchange, "no_listener", "the listener was deleted")
        if request.method == "TRACE":
            self.record_request(exchange, raw_path)
            return self._error(exchange, "method_not_allowed", "TRACE is not supported")
        if (request.header("upgrade") or "").lower() == "websocket":
            self.record_request(exchange, raw_path)
            return self._error(exchange, "bad_request", "Lambda targets refuse WebSocket")
        server_port = self._port_of(key)
        host = (request.header("host") or "127.0.0.1").rsplit(":", 1)[0]
        facts = RequestFacts(method=request.method, path=raw_path, query=raw_query,
                             host=host, port=server_port, headers=tuple(request.headers),
                             source_ip=request.client[0])
        rule = matching_rule(listener.rules, facts)
        action = final_action(rule) if rule is not None else {}
        kind = action.get("Type")
        if rule is not None:
            exchange.fields.update(rule=rule.priority or "default", action=kind)
        if kind == "fixed-response":
            self.record_request(exchange, raw_path)
            config = action.get("FixedResponseConfig") or {}
            body = (config.get("MessageBody") or "").encode()
            response = Response(int(config.get("StatusCode", 200)),
                                [("Content-Type", config.get("ContentType") or "text/plain")],
                                body)
            return self.finish(exchange, response, "fixed_response")
        if kind == "redirect":
            self.record_request(exchange, raw_path)
            status, location = redirect(action.get("RedirectConfig") or {}, facts)
            response = Response(status, [("Server", "awselb/2.0"), ("Location", location),
                                         ("Content-Type", "text/html")], b"")
            return self.finish(exchange, response, "redirect", location)
        if kind != "forward":
            self.record_request(exchange, raw_path)
            return self._error(exchange, "unsupported",
                               f"the lab does not perform {kind} actions")
        return self._forward(exchange, action, raw_path, raw_query, server_port, trace)

    def _port_of(self, key) -> int:
        return int(self._urls[key].rsplit(":", 1)[1])

    def _forward(self, exchange, action, raw_path, raw_query, port, trace) -> Response:
        request = exchange.request
        group_arn = pick_target_group(action)
        group = self.state.target_group(group_arn, ACCOUNT_ID, self.region) if group_arn \
            else None
        exchange.fields["target_group"] = group_arn
        if group is None or not group.targets:
            self.record_request(exchange, raw_path)
            return self._error(exchange, "no_targets", "the target group has no targets")
        exchange.fields["multi_value"] = group.multi_value_headers
        if group.target_type != "lambda":
            self.record_request(exchange, raw_path)
            return self._error(exchange, "unsupported", f"the lab serves Lambda targets only, "
                               f"not {group.target_type} targets")
        if request.too_large:
            self.record_request(exchange, raw_path)
            return self._error(exchange, "too_large", "the request body is over 1 MB")
        target = group.targets[0]
        try:
            spec = self.functions.find(target, None, ACCOUNT_ID, self.region)
        except LambdaApiError:
            self.record_request(exchange, raw_path)
            return self._error(exchange, "not_found", f"Lambda: function {target} not found")
        exchange.function = spec.arn
        headers = forwarded_headers(request.headers, request.client[0], port, "http", trace,
                                    drop={"transfer-encoding"})
        event = alb_event(method=request.method, path=raw_path, raw_query=raw_query,
                          headers=headers, body=request.body, target_group_arn=group.arn,
                          multi_value=group.multi_value_headers)
        self.record_request(exchange, raw_path, event)
        qualifier = target.split(":")[7] if target.count(":") == 7 else None
        statements = self.functions.policy_statements(spec.name, qualifier, ACCOUNT_ID,
                                                      self.region)
        if not policy_allows(statements, action="lambda:InvokeFunction", resource=target,
                             service=PRINCIPAL, context={"aws:SourceArn": group.arn,
                                                         "aws:SourceAccount": ACCOUNT_ID}):
            return self._error(exchange, "access_denied", f"no statement allows {PRINCIPAL} "
                               f"to invoke the function from {group.name}")
        try:
            outcome = self.invoke_function(exchange, spec, target, event)
        except LambdaApiError as error:
            return self._error(exchange, "throttled" if error.status == 429 else "not_found",
                               f"Lambda: {error.status} {error.reason or error.code}")
        if outcome.function_error:
            return self._error(exchange, "function_error", f"function error: {outcome.error_type}")
        try:
            status, headers, body, note = map_alb_response(outcome.payload,
                                                           group.multi_value_headers)
        except ResponseTooLarge as error:
            return self._error(exchange, "response_too_large", str(error))
        except MalformedResponse as error:
            return self._error(exchange, "malformed", f"invalid Lambda response: {error}")
        return self.finish(exchange, Response(status, headers, body), "integration", note)
