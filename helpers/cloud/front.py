"""The front: the one endpoint every boto3 client in the lab talks to.

``AWS_ENDPOINT_URL`` points here, in the kernel and in every function. For each request
the front reads which service and operation it calls (``helpers.cloud.operations``),
then either answers it itself or hands it to moto, in this process:

    front.answer("lambda", "Invoke", handler)       # the lab answers; moto never sees it
    front.before("s3", "PutBucketNotificationConfiguration", check)   # may refuse it
    front.after("s3", "PutObject", observer)        # sees what moto answered

``handler(request) -> Response`` and ``check(request)`` may raise ``AwsError``: the
client gets the service's own error shape. ``observer(request, response)`` runs once
moto has answered; it may amend the response, and an exception in it is recorded in
the trace (``front.hook_error``), never shown to the client. Operation ``"*"`` means
every operation of the service (its hooks run first). Every request's SigV4 signature
is checked before anything else (``helpers.cloud.signatures``). A request in flight is
``front.current()`` on its thread, so code that moto calls back can see it.
"""

from __future__ import annotations

import re
import threading
import uuid
from dataclasses import dataclass, field
from urllib.parse import parse_qsl

from ..errors import AwsError
from ..server import HttpServer, Request, Response
from . import operations
from .protocols import error_response, protocol_of

MAX_BODY = 80 * 1024 * 1024  # Lambda's 50 MB zip, base64-encoded in JSON, fits
SHAPE_SERVICES = {"s3": "s3", "query": "sns", "json": "lambda"}  # a service of each shape
# REST APIs whose paths carry no date (API Gateway's); the rest start /YYYY-MM-DD/.
REST_JSON_PREFIXES = ("/restapis", "/v2/", "/apikeys", "/domainnames", "/usageplans",
                      "/clientcertificates", "/vpclinks", "/tags/", "/account")

__all__ = ["AwsRequest", "Front"]


@dataclass
class AwsRequest:
    """An AWS API request: the HTTP request, and what it calls."""

    http: Request
    service: str | None
    region: str
    access_key: str | None
    operation: str | None = None
    params: dict = field(default_factory=dict)  # the path's labels, decoded
    request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    host_id: str | None = None  # S3's extended request id (x-amz-id-2)
    account_id: str = "123456789012"

    @property
    def method(self) -> str:
        return self.http.method

    @property
    def path(self) -> str:
        return self.http.path

    @property
    def body(self) -> bytes:
        return self.http.body

    def header(self, name: str, default: str | None = None) -> str | None:
        return self.http.header(name, default)

    def query(self, name: str, default: str | None = None) -> str | None:
        for key, value in parse_qsl(self.http.query, keep_blank_values=True):
            if key == name:
                return value
        return default


def _credential_scope(request: Request) -> tuple[str | None, str, str | None]:
    """(signing name, region, access key) of a SigV4-signed request."""
    authorization = request.header("authorization") or ""
    credential = None
    if authorization.startswith("AWS4-HMAC-SHA256"):
        for part in authorization[len("AWS4-HMAC-SHA256"):].split(","):
            name, _, value = part.strip().partition("=")
            if name == "Credential":
                credential = value
                break
    elif "X-Amz-Credential=" in request.query:  # a presigned URL
        credential = dict(parse_qsl(request.query)).get("X-Amz-Credential")
    if credential:
        pieces = credential.split("/")
        if len(pieces) == 5:
            return pieces[3], pieces[2], pieces[0]
    if "AWSAccessKeyId=" in request.query:  # an S3 URL presigned with Signature Version 2
        return "s3", "us-east-1", dict(parse_qsl(request.query)).get("AWSAccessKeyId")
    return None, "us-east-1", None


def _error_shape(service: str | None, request: Request) -> str:
    """How the service words a refused signature: "s3", "query" or JSON's way. An
    unsigned request names no service: its shape tells the protocol (AWS tells it by the
    host name, which all services share here)."""
    if service is None:
        if request.header("x-amz-target"):
            return "json"
        if "Action=" in request.query or request.body.startswith(b"Action=") or \
                b"&Action=" in request.body[:4096]:
            return "query"
        path = request.path
        if re.match(r"/\d{4}-\d{2}-\d{2}/(distribution|origin-access|cache-policy)", path):
            return "query"  # CloudFront writes its errors as the query services do
        if re.match(r"/\d{4}-\d{2}-\d{2}/", path) or path.startswith(REST_JSON_PREFIXES):
            return "json"
        return "s3"
    if service == "s3":
        return "s3"
    return "query" if protocol_of(service)[0] == "query" else "json"


class Front:
    """The lab's endpoint for AWS APIs, on 127.0.0.1. ``moto(request) -> Response``."""

    def __init__(self, moto, signatures, before_moto=None, trace=None):
        self.moto = moto
        self.signatures = signatures  # a SignatureChecker (helpers.cloud.signatures)
        self.before_moto = before_moto  # called with the service before moto sees it
        self.trace = trace
        self._answers: dict[tuple[str, str], object] = {}
        self._before: dict[tuple[str, str], list] = {}
        self._after: dict[tuple[str, str], list] = {}
        self._hooked: set[str] = set()
        self._local = threading.local()
        self.server = HttpServer(self._handle, name="lab-front", max_body=MAX_BODY)
        self.url = self.server.url

    # -- registration -----------------------------------------------------------------------

    def answer(self, service: str, operation: str, handler) -> None:
        self._answers[(service, operation)] = handler
        self._hooked.add(service)

    def before(self, service: str, operation: str, hook) -> None:
        self._before.setdefault((service, operation), []).append(hook)
        self._hooked.add(service)

    def after(self, service: str, operation: str, hook) -> None:
        self._after.setdefault((service, operation), []).append(hook)
        self._hooked.add(service)

    def current(self) -> AwsRequest | None:
        """The request this thread is handling (None outside one)."""
        return getattr(self._local, "request", None)

    def serve_on(self, sock) -> HttpServer:
        """The front on another listening socket (a sandbox's AWS endpoint, opened inside
        its own network): the same answers, the same signature checks."""
        return HttpServer(self._handle, name="lab-front", max_body=MAX_BODY, sock=sock)

    def close(self) -> None:
        self.server.close()

    # -- one request ------------------------------------------------------------------------

    def _handle(self, http: Request) -> Response:
        signing_name, region, access_key = _credential_scope(http)
        service = None
        if signing_name is not None:
            service = operations.service_of(signing_name, http.path,
                                            http.header("x-amz-target"), http.body)
        request = AwsRequest(http, service, region, access_key)
        shape = _error_shape(service, http)
        self._local.request = request
        try:
            if http.too_large:  # refused unread: its payload cannot be checked either
                raise AwsError(413, "RequestEntityTooLargeException",
                               f"Request must be smaller than {MAX_BODY} bytes")
            self.signatures.check(request, shape)
            if service in self._hooked:
                found = operations.identify(service, http.method, http.path, http.query,
                                            http.header, http.body)
                if found is not None:
                    request.operation, request.params = found.name, found.params
            handler = self._answers.get((service, request.operation))
            if handler is not None:
                return handler(request)
            for hook in self._hooks(self._before, service, request.operation):
                hook(request)
            if self.before_moto is not None:
                self.before_moto(service)
            response = self.moto(http.method, http.target, http.headers, http.body,
                                 http.client, (self.server.host, self.server.port))
            for hook in self._hooks(self._after, service, request.operation):
                try:
                    hook(request, response)
                except Exception as error:  # an observer's bug never fails the request
                    if self.trace is not None:
                        self.trace.record("front.hook_error", service=service,
                                          operation=request.operation, error=repr(error))
            return response
        except AwsError as error:
            return error_response(service or SHAPE_SERVICES[shape], error, request)
        except Exception as error:  # a bug in the lab: the client gets AWS's 500
            if self.trace is not None:
                self.trace.record("front.error", service=service,
                                  operation=request.operation, error=repr(error))
            return error_response(service, AwsError(
                500, "ServiceException" if service == "lambda" else "InternalFailure",
                f"The lab could not answer {service} {request.operation}: {error!r}",
                sender=False), request)
        finally:
            self._local.request = None

    @staticmethod
    def _hooks(table, service, operation) -> list:
        """The service's hooks for every operation first, then the operation's own."""
        return table.get((service, "*"), []) + table.get((service, operation), [])
