"""The Lambda Runtime API, served on loopback for one execution environment.

AWS gives every execution environment its own Runtime API endpoint; so does the lab:
each environment gets a small HTTP/1.1 server on 127.0.0.1 (``helpers.server``) with the
documented paths (``/2018-06-01/runtime/invocation/next``, ``.../{id}/response``,
``.../{id}/error``, ``/2018-06-01/runtime/init/error``). Any runtime client that speaks
this API works, the lab's own and AWS's ``awslambdaric`` alike. A response over
Lambda's limit is not read into the lab: the invoke fails with
``Function.ResponseSizeTooLarge``.
https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html
"""

from __future__ import annotations

import json
import re

from ..aws import MAX_SYNC_RESPONSE
from ..server import HttpServer, Request, Response

PREFIX = "/2018-06-01/runtime"
NEXT_PATH = PREFIX + "/invocation/next"
INIT_ERROR_PATH = PREFIX + "/init/error"
INVOCATION_PATH = re.compile(re.escape(PREFIX) + r"/invocation/([^/]+)/(response|error)$")

__all__ = ["RuntimeApiServer"]


def _json(status: int, document) -> Response:
    return Response(status, [("Content-Type", "application/json")],
                    json.dumps(document).encode())


ACCEPTED = {"status": "OK"}
NOT_FOUND = {"errorMessage": "Not found", "errorType": "NotFound"}
INVALID_ID = {"errorMessage": "Invalid request ID", "errorType": "InvalidRequestID"}
TOO_LARGE = {"errorMessage": f"Exceeded maximum allowed payload size ({MAX_SYNC_RESPONSE} "
             "bytes).", "errorType": "RequestEntityTooLarge"}
RETIRED = {"errorMessage": "Environment retired", "errorType": "Gone"}


class RuntimeApiServer:
    """Serves one environment; ``environment`` answers the calls. ``sock``: the listening
    socket a sandbox opened for it (None: a new one on 127.0.0.1)."""

    def __init__(self, environment, sock=None):
        self.environment = environment
        # idle_timeout: a runtime waits in GET /next for as long as the environment lives
        self._server = HttpServer(self._handle, name="lab-runtime-api",
                                  max_body=MAX_SYNC_RESPONSE, idle_timeout=24 * 3600,
                                  sock=sock)
        self.address = self._server.address

    def close(self) -> None:
        self._server.close()

    def _handle(self, request: Request) -> Response:
        environment = self.environment
        path = request.path
        if request.method == "GET" and path == NEXT_PATH:
            invocation = environment.next_invocation()
            if invocation is None:  # the environment is being shut down
                return _json(410, RETIRED)
            return Response(200, invocation.runtime_headers(), invocation.event)
        if request.method != "POST":
            return _json(404, NOT_FOUND)
        error_type = request.header("lambda-runtime-function-error-type")
        if path == INIT_ERROR_PATH:
            environment.init_failed(request.body, error_type)
            return _json(202, ACCEPTED)
        match = INVOCATION_PATH.match(path)
        if not match:
            return _json(404, NOT_FOUND)
        request_id, kind = match.groups()
        if kind == "response":
            status = environment.invocation_succeeded(
                request_id, None if request.too_large else request.body,
                request.header("content-type", "application/json"))
        else:
            status = environment.invocation_failed(request_id, request.body, error_type)
        if status == 202:
            return _json(202, ACCEPTED)
        return _json(413, TOO_LARGE) if status == 413 else _json(400, INVALID_ID)
