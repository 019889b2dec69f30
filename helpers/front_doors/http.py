"""What every HTTP front door shares: a listener, bounded requests, a timed invoke.

A front door (API Gateway today) is a real HTTP endpoint on 127.0.0.1. It reads each
request up to its service's payload limit (a larger body is never kept: the request is
marked ``too_large`` and the front door answers with its service's own error), turns
it into an event, invokes the function synchronously through the Lambda service with
the integration's timeout, and maps the answer back. ``invoke_with_timeout`` gives up
waiting at the timeout, as the services do; the function keeps running, and when it
finishes later that is recorded in the trace (``<name>.abandoned``).
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout

from ..server import HttpServer, Request, Response

__all__ = ["FrontDoor", "TimedOut"]


class TimedOut(Exception):
    """The integration did not answer within its timeout."""


class FrontDoor:
    """One HTTP endpoint; subclasses implement ``handle(Request) -> Response``."""

    name = "front-door"  # the trace's prefix: "apigateway.request", ...
    max_body = 10 * 1024 * 1024

    def __init__(self, service, functions, region: str):
        self.service = service
        self.functions = functions
        self.trace = service.trace
        self.region = region
        self._executor = ThreadPoolExecutor(max_workers=256,
                                            thread_name_prefix=f"lab-{self.name}-invoke")
        self.server = HttpServer(self._serve, name=f"lab-{self.name}", max_body=self.max_body)
        self.url = self.server.url
        self.port = self.server.port

    def _serve(self, request: Request) -> Response:
        response = self.handle(request)
        if request.method == "HEAD":
            response.body = b""
        return response

    def handle(self, request: Request) -> Response:
        raise NotImplementedError

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

    def stop(self) -> None:
        self.server.close()
        self._executor.shutdown(wait=False)
