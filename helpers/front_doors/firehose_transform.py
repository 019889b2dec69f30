"""One batch through the transformation function, with Amazon Data Firehose's retries.

Firehose invokes the function synchronously with the batch's event. When the invocation
fails (a throttle, a function error, a timeout: the function's own, or Firehose's 5
minutes) it tries again, ``NumberOfRetries`` more times; then every record of the batch
fails, with the error code Firehose reports (``Lambda.InvokeLimitExceeded``,
``Lambda.FunctionError``, ``Lambda.FunctionTimedOut``, ...). An answer the function did
return is checked once and never retried: an invalid one fails the batch
(https://docs.aws.amazon.com/firehose/latest/dev/data-transformation-failure-handling.html).
AWS does not say how long Firehose waits between tries; the lab waits 1 s (less with
``lab.speedup``). Introduced in notebook 11.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field

from ..aws import function_name_parts, parse_arn
from ..errors import LambdaApiError
from ..events import kinesis_firehose as events
from .firehose_responses import read_answer
from .http import TimedOut

FIREHOSE_WAITS_S = 300  # Firehose waits this long for an invocation
RETRY_WAIT_S = 1.0
EVENT_IN_TRACE = 64 * 1024  # events up to this size are kept in the trace
TIMEOUT_MESSAGE = ("Firehose encountered timeout errors when calling AWS Lambda. The "
                   "maximum supported function timeout is 5 minutes.")

__all__ = ["Outcome", "Transformer"]


@dataclass
class Outcome:
    """How a batch ended: per record id its result, or an error code for all of them."""

    attempts: int
    ended_ms: int
    lambda_arn: str
    results: dict = field(default_factory=dict)
    error_code: str | None = None
    error_message: str | None = None


class Transformer:
    """``owner``: the FirehoseDelivery (its service, functions, trace, timed invoke)."""

    def __init__(self, owner):
        self.owner = owner

    def run(self, batch) -> Outcome | None:
        """Invoke until an answer, or the retries run out; None if the lab stopped."""
        settings, attempts = batch.settings, 0
        while not self.owner.stopping:
            attempts += 1
            code, message, answer = self._invoke(batch, attempts)
            ended = int(time.time() * 1000)
            if answer is not None:  # the function answered: checked once, never retried
                return Outcome(attempts, ended, settings.lambda_arn, answer.results,
                               answer.error_code)
            if attempts > settings.retries:
                return Outcome(attempts, ended, settings.lambda_arn, error_code=code,
                               error_message=message)
            self.owner.wait(self.owner.service.clock.lab_seconds(RETRY_WAIT_S))
        return None

    def _invoke(self, batch, attempt: int):
        """(error code, message, None) for a failed invocation, (None, None, the checked
        answer) when the function answered."""
        owner, settings = self.owner, batch.settings
        arn = parse_arn(settings.arn)
        details = {"stream": batch.stream, "batch": batch.number, "attempt": attempt,
                   "function": settings.lambda_arn}
        try:
            spec = owner.functions.find(settings.lambda_arn, None, arn.account, arn.region)
        except LambdaApiError as error:
            return self._failed(details, "not invoked", "Lambda.ResourceNotFound", None,
                                error.message)
        invocation_id, request_id = str(uuid.uuid4()), str(uuid.uuid4())
        event = events.transformation_event(
            invocation_id, settings.arn, arn.region,
            [events.record(r.record_id, r.data, r.arrival_ms, r.kinesis)
             for r in batch.records], settings.kinesis_stream_arn)
        payload = json.dumps(event).encode()
        details.update(invocation_id=invocation_id, request_id=request_id)
        if len(payload) <= EVENT_IN_TRACE:
            details["event"] = event
        parts = function_name_parts(settings.lambda_arn)
        invoked = spec.arn + (f":{parts.qualifier}" if parts and parts.qualifier else "")
        owner.trace.record("invoke", request_id=request_id, function=spec.arn,
                           version=spec.version, invocation_type="RequestResponse",
                           source=owner.name, stream=batch.stream, batch=batch.number)
        waits = owner.service.clock.lab_seconds(FIREHOSE_WAITS_S)
        try:
            outcome = owner.invoke_with_timeout(
                spec, payload, invoked, request_id, waits,
                on_abandoned=lambda result, error, late: owner.trace.record(
                    "firehose.abandoned", stream=batch.stream, request_id=request_id,
                    seconds_after=round(late, 3)))
        except TimedOut:
            return self._failed(details, "timed out", "Lambda.FunctionTimedOut",
                                TIMEOUT_MESSAGE, f"no answer in {FIREHOSE_WAITS_S} s (the "
                                f"lab waited {waits:g} s)")
        except LambdaApiError as error:
            if error.status == 429:
                return self._failed(details, "throttled", "Lambda.InvokeLimitExceeded", None,
                                    error.reason or error.message)
            return self._failed(details, "not invoked", f"Lambda.{error.code}", error.message,
                                error.message)
        if outcome.function_error:
            timed_out = outcome.error_type == "Sandbox.Timedout"
            return self._failed(details, "timed out" if timed_out else "function error",
                                "Lambda.FunctionTimedOut" if timed_out else
                                "Lambda.FunctionError", None, outcome.error_type or "")
        answer = read_answer(outcome.payload, batch.record_ids)
        results = {name: [i for i, r in answer.results.items() if r.result == name]
                   for name in ("Ok", "Dropped", "ProcessingFailed")}
        owner.trace.record("firehose.invocation", outcome="ok" if answer.error_code is None
                           else "invalid response", error_code=answer.error_code,
                           detail=answer.detail, results=results, **details)
        return None, None, answer

    def _failed(self, details, outcome, code, message, detail):
        self.owner.trace.record("firehose.invocation", outcome=outcome, error_code=code,
                                detail=detail, results={}, **details)
        return code, message, None
