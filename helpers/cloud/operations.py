"""Which AWS service and operation a request is, read the way the service itself reads it.

The service comes from the request's SigV4 credential scope (``.../us-east-1/lambda/
aws4_request``). The operation depends on the service's protocol, which botocore's own
service models describe (the same models that built the request; of a service that
offers several, such as CloudWatch, the one botocore chooses):

- ``json``: the ``X-Amz-Target`` header (``AmazonSQS.SendMessage``);
- ``query``: the ``Action`` parameter (``Action=Publish``), in the body or the URL;
- ``smithy-rpc-v2-cbor``: the last path segment (``.../operation/GetMetricData``);
- ``rest-json`` and ``rest-xml``: the method and path against each operation's
  ``requestUri`` (``POST /2015-03-31/functions/{FunctionName}/invocations``); when
  several match (S3's PutObject, CopyObject and UploadPart share one), the one whose
  required query parameters and headers the request carries wins.

The front only asks for the operations of services it has hooks for, so a request to
any other service costs nothing here.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from urllib.parse import parse_qsl, unquote

__all__ = ["Operation", "identify", "service_of"]

# Signing names (credential scope) that differ from botocore's service names, or cover two.
SIGNING_NAMES = {"monitoring": "cloudwatch", "email": "ses", "eventbridge": "events"}


@dataclass(frozen=True)
class Operation:
    name: str
    params: dict  # the path's labels, decoded ({"FunctionName": "my-function"})


def service_of(signing_name: str, path: str, target: str | None, body: bytes) -> str:
    """botocore's name for the service a request signed for ``signing_name`` calls."""
    name = SIGNING_NAMES.get(signing_name, signing_name)
    if name == "dynamodb" and (target or "").startswith("DynamoDBStreams"):
        return "dynamodbstreams"
    if name == "apigateway" and path.startswith("/v2/"):
        return "apigatewayv2"
    if name == "ses" and path.startswith("/v2/"):
        return "sesv2"
    if name == "elasticloadbalancing":
        return "elbv2" if b"Version=2015-12-01" in body else "elb"
    return name


@dataclass
class _Route:
    name: str
    regex: re.Pattern
    literal_query: tuple  # ("notification",) or (("List", "ALL"),): must be in the query
    required_query: tuple  # required members located in the query string
    required_headers: tuple  # required members located in headers (lower case)
    literal_length: int  # characters of the template outside labels
    deprecated: bool  # an older operation with the same request loses (PutBucketNotification)

    def constraints(self) -> int:
        return len(self.literal_query) + len(self.required_query) + len(self.required_headers)


class _Service:
    """One service's protocol and, for REST protocols, its routes."""

    def __init__(self, name: str):
        model = _session().get_service_model(name)
        self.protocol = getattr(model, "resolved_protocol", model.protocol)  # botocore's choice
        self.routes: dict[str, list[_Route]] = {}
        if self.protocol not in ("rest-json", "rest-xml"):
            return
        for operation in model.operation_names:
            op = model.operation_model(operation)
            route = _compile(operation, op.http["method"], op.http["requestUri"],
                             op.input_shape, bool(op.deprecated))
            self.routes.setdefault(op.http["method"], []).append(route)
        for routes in self.routes.values():  # most specific first
            routes.sort(key=lambda r: (r.constraints(), r.literal_length, not r.deprecated),
                        reverse=True)

    def match(self, method: str, path: str, query: dict, headers) -> Operation | None:
        for route in self.routes.get(method, ()):
            found = route.regex.fullmatch(path)
            if found is None:
                continue
            if any((item not in query) if isinstance(item, str) else
                   (query.get(item[0]) != item[1]) for item in route.literal_query):
                continue
            if any(name not in query for name in route.required_query):
                continue
            if any(headers(name) is None for name in route.required_headers):
                continue
            return Operation(route.name, {k: unquote(v) for k, v in found.groupdict().items()})
        return None


_services: dict[str, _Service] = {}
_services_lock = threading.Lock()
_botocore_session = None


def _session():
    global _botocore_session
    if _botocore_session is None:
        import botocore.session

        _botocore_session = botocore.session.get_session()
    return _botocore_session


def _service(name: str) -> _Service:
    service = _services.get(name)
    if service is None:
        with _services_lock:
            service = _services.get(name) or _Service(name)
            _services[name] = service
    return service


def _compile(name, method, request_uri, input_shape, deprecated=False) -> _Route:
    template, _, literal = request_uri.partition("?")
    pattern, literal_length = [], 0
    for piece in re.split(r"(\{[^}]+\})", template):
        if piece.startswith("{"):
            label = piece[1:-1]
            greedy = label.endswith("+")
            label = label.rstrip("+")
            pattern.append(f"(?P<{re.sub(r'[^A-Za-z0-9_]', '_', label)}>"
                           f"{'.+' if greedy else '[^/]+'})")
        else:
            pattern.append(re.escape(piece))
            literal_length += len(piece)
    if not template.endswith("/"):
        pattern.append("/?")  # a trailing slash is tolerated, as the services do
    literal_query = tuple(
        (key, value) if sep else key
        for key, sep, value in (part.partition("=") for part in literal.split("&") if part))
    required_query, required_headers = [], []
    if input_shape is not None:
        for member in input_shape.required_members:
            shape = input_shape.members[member]
            location = shape.serialization.get("location")
            wire_name = shape.serialization.get("name", member)
            if location == "querystring":
                required_query.append(wire_name)
            elif location == "header":
                required_headers.append(wire_name.lower())
    return _Route(name, re.compile("".join(pattern)), literal_query, tuple(required_query),
                  tuple(required_headers), literal_length, deprecated)


def identify(service: str, method: str, path: str, query_string: str, header,
             body: bytes) -> Operation | None:
    """The operation a request calls, or None if the service's model has no such request.

    ``header(name)`` returns a request header's value (or None); ``path`` is undecoded.
    """
    try:
        model = _service(service)
    except Exception:  # a service botocore does not know: nobody hooks it
        return None
    protocol = model.protocol
    if protocol == "json":
        target = header("x-amz-target") or ""
        return Operation(target.rpartition(".")[2], {}) if target else None
    if protocol == "query":
        params = dict(parse_qsl(query_string))
        if "Action" not in params and body:
            params.update(parse_qsl(body.decode("utf-8", "replace")))
        action = params.get("Action")
        return Operation(action, {}) if action else None
    if protocol == "smithy-rpc-v2-cbor":
        return Operation(path.rstrip("/").rpartition("/")[2], {})
    query = dict(parse_qsl(query_string, keep_blank_values=True))
    return model.match(method, path, query, header)
