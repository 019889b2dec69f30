"""What every event source mapping's poller shares, whatever it reads.

A source (``Source``) knows one kind of event source: how to check a mapping's settings
against it (``prepare``), what ``GetEventSourceMapping`` adds for it, and which
``Poller`` reads it. A poller reads batches with the source's own API, invokes the
function synchronously through the Lambda service, and records each batch in the
trace. This base gives every poller its thread, stopping, the function it invokes,
invoking with back-off while throttled, a reading of ``batchItemFailures``, and one
``mapping.error`` record per distinct problem. Introduced in notebook 06.
"""

from __future__ import annotations

import json
import threading
import time
import uuid

from ..errors import LambdaApiError

THROTTLE_FIRST_S = 1  # back-off after a throttled invoke, in AWS seconds (then doubling)
ERROR_REPEAT_S = 10.0  # the same poller error is recorded at most this often
RESERVED_REFRESH_S = 0.5

__all__ = ["Poller", "Source", "batch_item_failures"]


class Source:
    """One kind of event source (its name is the service in its ARN: ``sqs``, ...)."""

    kind = ""
    default_batch_size = 10
    poller: type = None  # the Poller subclass that reads it

    def __init__(self, mappings):
        self.mappings = mappings  # the EventSourceMappings it belongs to

    def prepare(self, mapping, body: dict, spec, update: bool) -> None:
        """Check the mapping's settings against the source (raise LambdaApiError), and
        note what the poller needs in ``mapping.source``."""

    def configuration(self, mapping) -> dict:
        """What GetEventSourceMapping shows for this source, besides the common fields."""
        return {}


def batch_item_failures(payload: bytes, ids: list[str]) -> tuple[list[str] | None, str]:
    """(the reported identifiers, outcome) of a ``ReportBatchItemFailures`` response.

    ``None`` and "invalid response" when the response breaks the contract (the whole
    batch then failed); an empty list and "success" when nothing failed.
    https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html
    """
    try:
        response = json.loads(payload or b"null")
    except ValueError:
        return None, "invalid response"
    if response is None:
        return [], "success"
    if not isinstance(response, dict):
        return None, "invalid response"
    items = response.get("batchItemFailures")
    if not items:
        return [], "success"
    if not isinstance(items, list):
        return None, "invalid response"
    reported = set()
    for item in items:
        identifier = item.get("itemIdentifier") if isinstance(item, dict) else None
        if not isinstance(identifier, str) or identifier not in ids:
            return None, "invalid response"
        reported.add(identifier)
    return [i for i in ids if i in reported], "partial"


class Poller:
    """A mapping's poller: ``_run`` (the subclass's loop) on its own thread, until stopped."""

    source_name = ""  # the invoke's source in the trace ("sqs", ...)

    def __init__(self, service, mapping, clients, on_running=None):
        self.service = service
        self.mapping = mapping
        self.clients = clients
        self.trace = service.trace
        self._on_running = on_running or (lambda mapping: None)
        self._stop = threading.Event()
        self._reserved = None
        self._reserved_read = 0.0
        self._last_error = ("", 0.0)
        self._thread = threading.Thread(target=self._run, daemon=True,
                                        name=f"lab-esm-{mapping.uuid[:8]}")

    # -- lifecycle --------------------------------------------------------------------------

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def settings_changed(self) -> None:
        """The mapping changed; pollers read it for every batch."""

    def join(self, timeout: float, finish_batches: bool = True) -> bool:
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def _run(self) -> None:
        raise NotImplementedError

    # -- the function -----------------------------------------------------------------------

    def function(self):
        mapping = self.mapping
        return self.service.functions.find(mapping.function_name, None, mapping.account_id,
                                           mapping.region)

    def reserved_concurrency(self) -> int | None:
        """The function's reserved concurrency, read at most every 0.5 s."""
        if time.monotonic() - self._reserved_read > RESERVED_REFRESH_S:
            try:
                self._reserved = self.function().reserved_concurrency
            except Exception:  # the function is gone: batches will say so
                pass
            self._reserved_read = time.monotonic()
        return self._reserved

    def invoke(self, spec, payload: bytes, batch_id: str, deadline: float, on_throttle=None):
        """Invoke synchronously, retrying throttles with back-off until ``deadline``.

        Returns ``(outcome, request_id, None, None)``, or ``(None, request_id, why,
        error type)`` when no invoke happened: why is ``"throttled"`` (given up) or
        ``"error"`` (the invoke was refused).
        """
        throttles = 0
        while True:
            request_id = str(uuid.uuid4())
            self.trace.record("invoke", request_id=request_id, function=spec.arn,
                              version=spec.version, invocation_type="RequestResponse",
                              source=self.source_name, batch=batch_id)
            try:
                outcome = self.service.invoke(spec, payload, self.mapping.function_arn,
                                              request_id=request_id, source=self.source_name)
                return outcome, request_id, None, None
            except LambdaApiError as error:
                if error.status != 429:
                    return None, request_id, "error", error.code
                throttles += 1
                delay = self.service.clock.lab_seconds(THROTTLE_FIRST_S * 2 ** (throttles - 1))
                if on_throttle is not None:
                    on_throttle()
                if time.monotonic() + delay >= deadline or self._stop.is_set():
                    return None, request_id, "throttled", "TooManyRequestsException"
                self.trace.record("batch.throttled", mapping=self.mapping.uuid, batch=batch_id,
                                  request_id=request_id, retry_in_s=round(delay, 3),
                                  reason=error.reason)
                self._stop.wait(delay)

    def record_error(self, operation: str, error: Exception) -> None:
        text = f"{operation}: {error}"
        previous, when = self._last_error
        if text != previous or time.monotonic() - when > ERROR_REPEAT_S:
            self._last_error = (text, time.monotonic())
            self.trace.record("mapping.error", mapping=self.mapping.uuid, error=text)
