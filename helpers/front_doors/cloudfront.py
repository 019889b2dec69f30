"""CloudFront distributions with Lambda@Edge: a real HTTP endpoint per distribution, a
real cache, and functions at the four trigger points.

moto keeps the distributions (created with plain boto3, ``cloudfront``);
``lab.cloudfront_url(distribution_id)`` opens one on its own port of 127.0.0.1, the lab's
one edge location. A request takes the way CloudFront's guide draws
(https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/lambda-cloudfront-trigger-events.html):

1. the cache behaviour is chosen by the viewer's path (its path patterns in order, the
   default behaviour last); a method it does not allow is answered 403;
2. **viewer-request** runs on every request; it may change the request or answer
   itself (that response is neither cached nor seen by viewer-response);
3. the cache (``cloudfront_cache``) answers a hit: ``X-Cache: Hit from cloudfront``, and
   no origin trigger runs;
4. on a miss, **origin-request** runs; it may change the request (even its origin) or
   answer itself (that response is cached);
5. the origin answers: an S3 origin is a lab bucket, read through the lab's S3; a custom
   origin is an HTTP server on loopback (its read timeout answers 504; one that cannot
   be reached, 502);
6. **origin-response** runs, for error statuses too; what it returns is cached, for as
   long as the cache policy and ``Cache-Control`` say (errors: 10 seconds);
7. **viewer-response** runs before the viewer gets the answer, except for an origin's
   status of 400 or more and for responses a viewer-request function made.

A function's error answers 503 (older CloudFront guides said 500), as do a throttle and
a function that does not answer within its trigger's limit (viewer 5 s, origin 30 s);
an answer CloudFront refuses (``cloudfront_answers``) answers 502. CloudFront's own
answers carry its HTML error page and ``X-Cache: Error from cloudfront``.

Trace records (``helpers.front_doors.http``): ``cloudfront.request``, ``invoke`` (source
"cloudfront", cloudfront_request_id), ``cloudfront.response``, with the fields
distribution (its id), behaviour (its path pattern), cache ("Hit", "Miss",
"LambdaGeneratedResponse", "Error", or None before the cache was reached) and triggers
(the event types that ran, in order); and

- ``cloudfront.trigger``: request_id, distribution, event_type, function (the version's
  ARN), lambda_request_id, outcome ("continued", "generated", "changed", "function_error",
  "invalid", "throttled", "timeout", "not_found"), changes (in words), detail, seconds, event
- ``cloudfront.origin``: request_id, distribution, origin (its domain name), origin_type ("s3",
  "custom"), method, uri, status, seconds, detail

A response's outcome is "integration" (the origin's or the cache's answer, as the
triggers left it), "generated" (a function's own response), or why CloudFront answered
itself: "function_error", "invalid", "throttled", "timeout", "not_found",
"method_not_allowed", "origin_error", "origin_timeout", "disabled", "no_distribution".
Introduced in notebook 10.
"""

from __future__ import annotations

import base64
import fnmatch
import http.client
import ipaddress
import os
import time
import uuid
from urllib.parse import unquote

from ..aws import ACCOUNT_ID
from ..errors import LabError, LambdaApiError
from ..events.cloudfront import (
    cloudfront_event,
    custom_origin,
    header_map,
    header_pairs,
    request_body,
    s3_origin,
)
from ..server import REASONS, Request, Response
from .cloudfront_answers import DISALLOWED, InvalidAnswer, disallowed, read_answer, replaced_body
from .cloudfront_cache import ALL_VIEWER, EdgeCache, cache_policy, time_to_live
from .http import Exchange, FrontDoor, TimedOut

__all__ = ["Distributions", "matching_behaviour"]

TRIGGER_TIMEOUTS = {"viewer": 5.0, "origin": 30.0}
BODY_LIMITS = {"viewer": 40 * 1024, "origin": 1024 * 1024}
ERROR_TTL = 10.0  # ErrorCachingMinTTL's default
POP = "LAB1-C1"  # the lab's one edge location
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "upgrade",
              "proxy-connection", "te", "trailer"}
STATUS = {"function_error": 503, "throttled": 503, "timeout": 503, "invalid": 502,
          "not_found": 502, "method_not_allowed": 403, "origin_error": 502,
          "origin_timeout": 504, "disabled": 403, "no_distribution": 403}
REASON_TEXT = {
    "function_error": "The Lambda function associated with the CloudFront distribution "
                      "was invalid or could not run (function execution error).",
    "throttled": "The Lambda function associated with the CloudFront distribution was "
                 "throttled.",
    "timeout": "The Lambda function associated with the CloudFront distribution did not "
               "answer in time.",
    "invalid": "The Lambda function returned an invalid response to CloudFront.",
    "not_found": "The Lambda function associated with the CloudFront distribution is "
                 "invalid or doesn't have the required permissions.",
    "method_not_allowed": "This distribution is not configured to allow the HTTP request "
                          "method that was used for this request.",
    "origin_error": "CloudFront wasn't able to connect to the origin.",
    "origin_timeout": "CloudFront attempted to establish a connection with the origin, "
                      "but the origin did not respond in time.",
    "disabled": "The distribution is disabled.",
    "no_distribution": "The distribution does not exist.",
}


def matching_behaviour(behaviours, path: str):
    """The first cache behaviour whose path pattern matches ``path`` (``*`` any run of
    characters, ``?`` one character, case-sensitive); the default behaviour is last."""
    for behaviour in behaviours:
        pattern = behaviour.path_pattern
        if pattern == "*":
            return behaviour
        if not pattern.startswith("/"):
            pattern = "/" + pattern
        escaped = pattern.replace("[", "[[]")
        if fnmatch.fnmatchcase(path, escaped):
            return behaviour
    return behaviours[-1]


def _edge_request_id() -> str:
    return base64.urlsafe_b64encode(os.urandom(39)).decode()


def _page(status: int, reason: str, request_id: str) -> Response:
    title = f"{status} {REASONS.get(status, '')}".strip()
    body = (f"<!DOCTYPE HTML PUBLIC \"-//W3C//DTD HTML 4.01 Transitional//EN\">\n<HTML><HEAD>"
            f"<TITLE>ERROR: The request could not be satisfied</TITLE></HEAD><BODY>\n"
            f"<H1>{title}</H1>\n<H2>The request could not be satisfied.</H2>\n<HR noshade "
            f"size=\"1px\">\n{reason}\n<BR clear=\"all\">\n<HR noshade size=\"1px\">\n<PRE>\n"
            f"Generated by cloudfront (CloudFront)\nRequest ID: {request_id}\n</PRE>\n"
            f"</BODY></HTML>").encode()
    return Response(status, [("Server", "CloudFront"), ("Content-Type", "text/html")], body)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class _Stop(Exception):
    """CloudFront answers the viewer itself: ``outcome`` says why."""

    def __init__(self, outcome: str, detail: str):
        super().__init__(detail)
        self.outcome, self.detail = outcome, detail


class Distributions(FrontDoor):
    """Every distribution the lab serves. Started by the lab on first use
    (``lab.cloudfront_url``)."""

    name = "cloudfront"
    link_field = "cloudfront_request_id"

    def __init__(self, service, functions, state, cache: EdgeCache, s3_client, region: str):
        super().__init__(service, functions, region, listen=False)
        self.state = state  # helpers.cloud.cloudfront_state.CloudFrontState
        self.cache = cache
        self.s3 = s3_client  # the lab's own S3 client: how an S3 origin is read
        self._urls: dict[str, str] = {}

    def url_for(self, distribution_id: str) -> str:
        """The base URL of a distribution (no trailing slash); a clear error if there is
        no such distribution."""
        if self.state.distribution(distribution_id, ACCOUNT_ID) is None:
            raise LabError(f"There is no distribution {distribution_id!r} in this lab. "
                           "Create it first: cloudfront.create_distribution(...)['"
                           "Distribution']['Id'].")
        if distribution_id not in self._urls:
            server = self.open_listener(lambda request: self.handle(request, distribution_id))
            self._urls[distribution_id] = server.url
        return self._urls[distribution_id]

    # -- one request ----------------------------------------------------------------------

    def handle(self, request: Request, distribution_id: str) -> Response:
        edge_id = _edge_request_id()
        exchange = Exchange(request, edge_id, fields={
            "distribution": distribution_id, "behaviour": None, "cache": None,
            "triggers": []})
        path = request.target.partition("?")[0]
        try:
            return self._answer(exchange, distribution_id)
        except _Stop as stop:
            self._record_once(exchange, path)
            return self._error(exchange, stop.outcome, stop.detail)
        except Exception as error:  # a bug in the lab still answers, and says why
            self._record_once(exchange, path)
            return self._error(exchange, "origin_error", f"lab error: {error!r}")

    def _record_once(self, exchange: Exchange, path: str) -> None:
        if not getattr(exchange, "recorded", False):
            exchange.recorded = True
            self.record_request(exchange, path)

    def _error(self, exchange: Exchange, outcome: str, detail: str) -> Response:
        exchange.fields["cache"] = "Error"
        response = _page(STATUS[outcome], REASON_TEXT[outcome], exchange.request_id)
        self._edge_headers(response, exchange, "Error")
        return self.finish(exchange, response, outcome, detail)

    @staticmethod
    def _edge_headers(response: Response, exchange: Exchange, result: str) -> None:
        response.set_header("X-Cache", f"{result} from cloudfront")
        response.set_header("Via", f"1.1 {uuid.uuid4().hex}.cloudfront.net (CloudFront)")
        response.set_header("X-Amz-Cf-Pop", POP)
        response.set_header("X-Amz-Cf-Id", exchange.request_id)

    def _answer(self, exchange: Exchange, distribution_id: str) -> Response:
        request = exchange.request
        path, _, query = request.target.partition("?")
        spec = self.state.distribution(distribution_id, ACCOUNT_ID)
        if spec is None:
            raise _Stop("no_distribution", "the distribution was deleted")
        if not spec.enabled:
            raise _Stop("disabled", "the distribution is disabled")
        behaviour = matching_behaviour(spec.behaviours, path)
        exchange.fields["behaviour"] = behaviour.path_pattern
        headers = [(name, value) for name, value in request.headers
                   if name.lower() not in DISALLOWED and name.lower() not in HOP_BY_HOP
                   and not disallowed(name) and name.lower() != "host"]
        headers.insert(0, ("Host", spec.domain_name))
        if request.body:
            headers.append(("Content-Length", str(len(request.body))))
        cf_request = {"clientIp": request.client[0], "headers": header_map(headers),
                      "method": request.method, "querystring": query, "uri": path}
        self._record_once(exchange, path)
        if request.method not in behaviour.allowed_methods:
            raise _Stop("method_not_allowed", f"{request.method} is not allowed by the "
                        f"cache behaviour {behaviour.path_pattern}")
        body = request.body
        ctx = {"spec": spec, "behaviour": behaviour, "exchange": exchange}

        # viewer-request
        answer = self._trigger(ctx, "viewer-request", cf_request, None, body)
        if answer is not None and answer.kind == "response":
            exchange.fields["cache"] = "LambdaGeneratedResponse"
            response = Response(answer.status, answer.headers or [], answer.body or b"")
            self._edge_headers(response, exchange, "LambdaGeneratedResponse")
            return self.finish(exchange, response, "generated", "; ".join(answer.changes))
        if answer is not None:
            cf_request, body = self._continued(answer, cf_request, body)

        # the cache
        policy = cache_policy(behaviour)
        cacheable = request.method in behaviour.cached_methods and policy.max_ttl > 0
        cookie = next((e["value"] for e in cf_request["headers"].get("cookie", [])), None)
        key = self.cache.key(spec.id, policy, request.method, cf_request["uri"],
                             cf_request["querystring"], cookie)
        cached = self.cache.get(key) if cacheable else None
        if cached is not None:
            exchange.fields["cache"] = "Hit"
            status, description = cached.status, cached.description
            response_headers = list(cached.headers) + [("Age", str(
                cached.age(time.monotonic())))]
            response_body = cached.body
        else:
            exchange.fields["cache"] = "Miss"
            status, description, response_headers, response_body, generated = \
                self._from_origin(ctx, cf_request, body, policy)
            if cacheable:
                ttl = ERROR_TTL if status >= 400 else time_to_live(policy, response_headers)
                self.cache.put(key, status, description, response_headers, response_body, ttl)

        # viewer-response
        if status < 400:
            before = {"status": str(status), "statusDescription": description,
                      "headers": header_map(response_headers)}
            viewer_request = {k: v for k, v in cf_request.items() if k != "origin"}
            answer = self._trigger(ctx, "viewer-response", viewer_request, before, None)
            if answer is not None:
                response_headers = answer.headers
                if answer.body is not None:
                    response_body = answer.body
        response = Response(status, [(n, v) for n, v in response_headers
                                     if n.lower() not in HOP_BY_HOP], response_body)
        self._edge_headers(response, exchange, exchange.fields["cache"])
        return self.finish(exchange, response, "integration")

    @staticmethod
    def _continued(answer, cf_request: dict, body: bytes):
        new = dict(answer.request)
        replaced = replaced_body(new)
        new.pop("body", None)
        new.setdefault("querystring", "")
        return new, (replaced if replaced is not None else body)

    # -- the origin -----------------------------------------------------------------------

    def _origin_object(self, origin) -> dict:
        if origin.kind == "s3":
            return s3_origin(origin.domain_name, origin.path, self.region,
                             origin.custom_headers, bool(origin.access_identity))
        protocol = "https" if origin.protocol_policy == "https-only" else "http"
        port = origin.https_port if protocol == "https" else origin.http_port
        return custom_origin(origin.domain_name, origin.path, port, protocol,
                             origin.read_timeout, origin.keepalive_timeout,
                             origin.ssl_protocols, origin.custom_headers)

    def _from_origin(self, ctx, cf_request: dict, body: bytes, policy):
        """(status, description, headers, body, generated) of a cache miss."""
        spec, behaviour = ctx["spec"], ctx["behaviour"]
        origin = spec.origin(behaviour.target_origin_id)
        if origin is None:
            raise _Stop("origin_error", f"no origin {behaviour.target_origin_id!r}")
        via = f"1.1 {uuid.uuid4().hex[:32]}.cloudfront.net (CloudFront)"
        # the origin gets the cache key's cookies and query string, or all of them with
        # the AllViewer origin request policy
        all_viewer = behaviour.origin_request_policy_id == ALL_VIEWER
        headers = {name: values for name, values in cf_request["headers"].items()
                   if not (name == "cookie" and not (policy.cookies or all_viewer))}
        headers["host"] = [{"key": "Host", "value": origin.domain_name}]
        headers["via"] = [{"key": "Via", "value": via}]
        headers["x-forwarded-for"] = [{"key": "X-Forwarded-For",
                                       "value": cf_request["clientIp"]}]
        headers["user-agent"] = [{"key": "User-Agent", "value": "Amazon CloudFront"}]
        origin_request = dict(cf_request, headers=headers,
                              querystring=cf_request["querystring"]
                              if policy.query_strings or all_viewer else "",
                              origin=self._origin_object(origin))
        answer = self._trigger(ctx, "origin-request", origin_request, None, body)
        if answer is not None and answer.kind == "response":
            return answer.status, answer.description, answer.headers, answer.body or b"", True
        if answer is not None:
            origin_request, body = self._continued(answer, origin_request, body)
        status, description, response_headers, response_body = self._fetch(
            ctx["exchange"], spec.id, origin_request, body)
        before = {"status": str(status), "statusDescription": description,
                  "headers": header_map(response_headers)}
        answer = self._trigger(ctx, "origin-response", origin_request, before, None)
        if answer is not None:
            status, response_headers = answer.status, answer.headers
            description = answer.description or description
            if answer.body is not None:
                response_body = answer.body
        return status, description, response_headers, response_body, False

    def _fetch(self, exchange: Exchange, distribution_id: str, cf_request: dict, body: bytes):
        origin = cf_request["origin"]
        kind = next(iter(origin))
        config = origin[kind]
        uri = (config.get("path") or "") + cf_request["uri"]
        started = time.perf_counter()
        detail = None
        try:
            if kind == "s3":
                status, description, headers, data = self._from_s3(config, uri, cf_request)
            else:
                status, description, headers, data = self._from_server(
                    config, uri, cf_request, body)
        except _Stop as stop:
            status, detail = STATUS[stop.outcome], stop.detail
            raise
        finally:
            self.trace.record("cloudfront.origin", request_id=exchange.request_id,
                              distribution=distribution_id,
                              origin=config.get("domainName"), origin_type=kind,
                              method=cf_request["method"], uri=uri,
                              status=locals().get("status"), detail=detail,
                              seconds=round(time.perf_counter() - started, 4))
        return status, description, headers, data

    def _from_s3(self, config: dict, uri: str, cf_request: dict):
        bucket = config["domainName"].split(".s3", 1)[0]
        key = unquote(uri.lstrip("/"))
        from botocore.exceptions import ClientError

        try:
            found = self.s3.get_object(Bucket=bucket, Key=key)
        except ClientError as error:
            code = error.response["Error"].get("Code", "Error")
            status = error.response["ResponseMetadata"]["HTTPStatusCode"]
            message = error.response["Error"].get("Message", "")
            body = (f"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code>"
                    f"<Message>{message}</Message></Error>").encode()
            return status, REASONS.get(status, ""), [
                ("Content-Type", "application/xml"), ("Server", "AmazonS3")], body
        data = found["Body"].read()
        headers = [("Content-Type", found.get("ContentType") or "binary/octet-stream"),
                   ("ETag", found.get("ETag", "")), ("Server", "AmazonS3")]
        if found.get("LastModified") is not None:
            headers.append(("Last-Modified", found["LastModified"].strftime(
                "%a, %d %b %Y %H:%M:%S GMT")))
        if found.get("CacheControl"):
            headers.append(("Cache-Control", found["CacheControl"]))
        return 200, "OK", headers, data

    def _from_server(self, config: dict, uri: str, cf_request: dict, body: bytes):
        host, port = config["domainName"], int(config.get("port") or 80)
        if not _is_loopback(host):
            raise _Stop("origin_error", f"the lab reaches origins on loopback only, not "
                        f"{host}")
        target = uri + (f"?{cf_request['querystring']}" if cf_request["querystring"] else "")
        connection = http.client.HTTPConnection(host, port, timeout=float(
            config.get("readTimeout") or 30))
        try:
            connection.putrequest(cf_request["method"], target, skip_host=True,
                                  skip_accept_encoding=True)
            pairs = header_pairs(cf_request["headers"])
            pairs += header_pairs(config.get("customHeaders") or {})
            for name, value in pairs:
                if name.lower() != "content-length":
                    connection.putheader(name, value)
            connection.putheader("Content-Length", str(len(body or b"")))
            connection.endheaders(body or None)
            answer = connection.getresponse()
            data = answer.read()
            headers = [(n, v) for n, v in answer.getheaders() if n.lower() not in HOP_BY_HOP]
            return answer.status, answer.reason, headers, data
        except TimeoutError:
            raise _Stop("origin_timeout", f"no answer from {host}:{port} within "
                        f"{config.get('readTimeout')} s") from None
        except OSError as error:
            raise _Stop("origin_error", f"cannot reach {host}:{port}: {error}") from None
        finally:
            connection.close()

    # -- the triggers ---------------------------------------------------------------------

    def _trigger(self, ctx, event_type: str, cf_request: dict, response: dict | None,
                 body: bytes | None):
        """Run the behaviour's function for ``event_type``: its checked answer (None when
        no function is associated); _Stop when CloudFront answers itself."""
        association = ctx["behaviour"].association(event_type)
        if association is None:
            return None
        exchange, spec = ctx["exchange"], ctx["spec"]
        exchange.fields["triggers"].append(event_type)
        side = event_type.split("-")[0]
        body_object = None
        if association.include_body and body is not None:
            body_object = request_body(body, BODY_LIMITS[side])
        event = cloudfront_event(
            event_type=event_type, distribution_id=spec.id, domain_name=spec.domain_name,
            request_id=exchange.request_id, client_ip=cf_request["clientIp"],
            method=cf_request["method"], uri=cf_request["uri"],
            querystring=cf_request["querystring"], headers=cf_request["headers"],
            origin=cf_request.get("origin"), body=body_object, response=response)
        started = time.perf_counter()
        record = {"outcome": None, "changes": [], "detail": None}
        try:
            answer = self._run(exchange, association.function_arn, event, side, record,
                               event_type)
            record["outcome"] = ("generated" if answer.kind == "response"
                                 and event_type.endswith("-request") else
                                 "changed" if answer.changes else "continued")
            record["changes"], record["detail"] = list(answer.changes), answer.note
            return answer
        except _Stop as stop:
            record["outcome"], record["detail"] = stop.outcome, stop.detail
            raise
        finally:
            self.trace.record("cloudfront.trigger", request_id=exchange.request_id,
                              distribution=spec.id, event_type=event_type,
                              function=association.function_arn,
                              lambda_request_id=exchange.lambda_request_id,
                              seconds=round(time.perf_counter() - started, 4), event=event,
                              **record)

    def _run(self, exchange, arn: str, event: dict, side: str, record, event_type: str):
        try:
            spec = self.functions.find(arn, None, ACCOUNT_ID, "us-east-1")
        except LambdaApiError as error:
            raise _Stop("not_found", f"Lambda: {error}") from None
        exchange.function = spec.version_arn
        try:
            outcome = self.invoke_function(exchange, spec, arn, event,
                                           timeout_s=TRIGGER_TIMEOUTS[side])
        except TimedOut as error:
            raise _Stop("timeout", f"{event_type}: {error} (the limit is "
                        f"{TRIGGER_TIMEOUTS[side]:.0f} s)") from None
        except LambdaApiError as error:
            if error.status == 429:
                raise _Stop("throttled", f"Lambda: {error.status} {error.code}") from None
            raise _Stop("not_found", f"Lambda: {error.status} {error.code}") from None
        if outcome.function_error:
            raise _Stop("function_error", f"{event_type}: function error: "
                        f"{outcome.error_type}")
        try:
            return read_answer(event_type, outcome.payload, event)
        except InvalidAnswer as error:
            raise _Stop("invalid", f"{event_type}: {error}") from None

