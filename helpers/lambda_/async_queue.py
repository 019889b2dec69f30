"""Asynchronous invocation: Lambda's internal queue, retries, destinations and DLQs.

``InvocationType="Event"`` returns 202 at once; the event waits in an internal queue and
workers invoke the function. A function error or timeout is retried about 1 minute and
then about 2 minutes later (``MaximumRetryAttempts``, default 2); an event older than
``MaximumEventAgeInSeconds`` (default 6 hours) is not retried; throttled events are
retried with back-off (1 s growing to 5 minutes). At the end, the invocation record goes
to the on-success or on-failure destination and the original event to the dead-letter
queue, for real, in the lab. Introduced in notebook 02.

Delays that AWS does not let you configure run ``speedup`` times faster in the lab
(``helpers.start_lab(speedup=60)``); the trace always says what AWS would have waited.
"""

from __future__ import annotations

import heapq
import itertools
import json
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone

from ..errors import LambdaApiError
from ..send import DeliveryError
from . import recursion

RETRY_DELAYS_S = (60, 120)  # before the 2nd and the 3rd attempt
THROTTLE_FIRST_S = 1
THROTTLE_MAX_S = 300
THROTTLE_WINDOW_S = 6 * 3600  # throttled events are kept up to 6 hours
DLQ_MESSAGE_BYTES = 1024  # ErrorMessage attribute: "first 1 KB of the error message"
RECURSION_CONDITION = "RecursiveInvocationException"  # a stopped loop's record (lab's name)

__all__ = ["AsyncEvent", "AsyncInvoker", "ScaledClock"]


class ScaledClock:
    """Time for the delays AWS does not let you configure: ``speedup`` times faster."""

    def __init__(self, speedup: float = 1.0):
        if speedup <= 0:
            raise ValueError("speedup must be a positive number")
        self.speedup = float(speedup)

    def lab_seconds(self, aws_seconds: float) -> float:
        return aws_seconds / self.speedup

    def aws_age(self, since_monotonic: float) -> float:
        return (time.monotonic() - since_monotonic) * self.speedup


@dataclass
class AsyncEvent:
    request_id: str
    function_name: str  # as the caller named it (name or ARN, maybe qualified)
    qualifier: str | None
    payload: bytes
    account_id: str
    region: str
    invoked_arn: str = ""
    queued_at: float = field(default_factory=time.monotonic)
    queued_wall: float = field(default_factory=time.time)
    attempts: int = 0  # times the function ran
    throttles: int = 0
    last_outcome: object = None
    state: str = "queued"  # queued, running, retry, done
    aws_waited: float = 0.0  # the scaled waits so far (retries, back-off), in AWS seconds
    lab_waited: float = 0.0  # the same waits, as long as they took in the lab
    lineage: dict | None = None  # recursion lineage of the request that caused it

    @property
    def invoked_qualifier(self) -> str | None:
        """The version or alias the caller invoked (None: $LATEST, unqualified)."""
        parts = self.invoked_arn.split(":")
        return parts[7] if len(parts) > 7 else None

    def aws_age(self) -> float:
        """The event's age as AWS would count it: the scaled waits count what AWS would
        have waited; everything else (the function running, the queue) counts as it was."""
        return time.monotonic() - self.queued_at - self.lab_waited + self.aws_waited


class AsyncInvoker:
    """The internal queue and its workers, for every function in the lab."""

    def __init__(self, service, trace, clock: ScaledClock, workers: int = 8):
        self.service = service
        self.trace = trace
        self.clock = clock
        self._heap: list = []
        self._order = itertools.count()
        self._cond = threading.Condition()
        self._pending: dict[str, AsyncEvent] = {}
        self._ending = 0  # events completed whose record is being written
        self._stopped = False
        # Each worker takes the next due event from the queue itself: no hand-off thread.
        self._workers = [threading.Thread(target=self._run, daemon=True,
                                          name=f"lab-async-{number}")
                         for number in range(workers)]
        for worker in self._workers:
            worker.start()

    # -- the queue ------------------------------------------------------------------------

    def submit(self, event: AsyncEvent, function_arn: str) -> None:
        with self._cond:
            if self._stopped:
                raise LambdaApiError(503, "ServiceException", "The lab has stopped.")
            self._pending[event.request_id] = event
        self.trace.record("event.queued", request_id=event.request_id, function=function_arn,
                          qualifier=event.invoked_qualifier, payload_bytes=len(event.payload))
        self._schedule(event, 0.0)

    def _schedule(self, event: AsyncEvent, lab_delay: float) -> None:
        with self._cond:
            heapq.heappush(self._heap, (time.monotonic() + lab_delay, next(self._order), event))
            self._cond.notify()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._stopped:
                    now = time.monotonic()
                    if self._heap and self._heap[0][0] <= now:
                        break
                    self._cond.wait(self._heap[0][0] - now if self._heap else None)
                if self._stopped:
                    return
                _, _, event = heapq.heappop(self._heap)
                if self._heap and self._heap[0][0] <= now:
                    self._cond.notify()  # more is due: wake another worker
            self._attempt(event)

    def pending(self) -> list[AsyncEvent]:
        """Events not yet completed (queued, running or waiting for a retry)."""
        with self._cond:
            return list(self._pending.values())

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """Wait until no event is pending; True if that happened within ``timeout``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._cond:
                if not self._pending and not self._ending:
                    return True
            time.sleep(0.01)
        return False

    def stop(self) -> list[AsyncEvent]:
        """Stop the workers; every event still pending is recorded as dropped."""
        with self._cond:
            self._stopped = True
            self._cond.notify_all()
        for worker in self._workers:
            worker.join(timeout=5)
        left = self.pending()
        for event in left:
            self._complete(event, "dropped", reason="the lab stopped before the event ran")
        return left

    # -- one attempt ----------------------------------------------------------------------

    def _attempt(self, event: AsyncEvent) -> None:
        try:
            self._attempt_once(event)
        except Exception as exc:  # never lose an event to a bug: record why it ended
            self._complete(event, "dropped", reason=f"lab error: {exc!r}")

    def _attempt_once(self, event: AsyncEvent) -> None:
        if self._stopped:
            return
        functions, settings = self.service.functions, self.service.settings
        try:
            spec = functions.find(event.function_name, event.qualifier, event.account_id,
                                  event.region)
        except Exception:
            return self._complete(event, "dropped", reason="the function no longer exists")
        config = settings.event_invoke_config(spec.arn, event.invoked_qualifier)
        lineage = None
        if event.lineage is not None:  # a tracked chain: stop a recursive loop (notebook 04)
            lineage = recursion.advance(event.lineage, spec.arn)
            if (recursion.count_for(lineage, spec.arn) > recursion.RECURSION_LIMIT
                    and settings.of(spec.arn).recursive_loop == "Terminate"):
                return self._fail(event, spec, config, RECURSION_CONDITION,
                                  recursion.STOPPED_REASON)
        max_age = config["MaximumEventAgeInSeconds"]
        age = event.aws_age()
        if age > max_age:
            return self._fail(event, spec, config, "EventAgeExceeded",
                              f"maximum event age ({max_age} s) exceeded")
        if spec.reserved_concurrency == 0:
            return self._fail(event, spec, config, "RetriesExhausted",
                              "reserved concurrency is 0: the function is throttled")
        event.state = "running"
        try:
            outcome = self.service.invoke(
                spec, event.payload, event.invoked_arn, request_id=event.request_id,
                source="async", attempt=event.attempts + 1, lineage=lineage,
            )
        except LambdaApiError as error:
            if error.status != 429:
                return self._complete(event, "dropped",
                                      reason=f"{error.code}: {error.message}")
            event.throttles += 1
            aws_delay = min(THROTTLE_FIRST_S * 2 ** (event.throttles - 1), THROTTLE_MAX_S)
            if age + aws_delay > min(THROTTLE_WINDOW_S, max_age):
                return self._fail(event, spec, config, "EventAgeExceeded",
                                  "throttled until the maximum event age")
            return self._retry(event, aws_delay, "throttled")
        event.attempts += 1
        event.last_outcome = outcome
        if outcome.function_error is None:
            return self._succeed(event, spec, config)
        if event.attempts <= config["MaximumRetryAttempts"]:
            aws_delay = RETRY_DELAYS_S[min(event.attempts, len(RETRY_DELAYS_S)) - 1]
            return self._retry(event, aws_delay, outcome.error_type or "function error")
        return self._fail(event, spec, config, "RetriesExhausted", "retries exhausted")

    def _retry(self, event, aws_delay, reason):
        event.state = "retry"
        lab_delay = self.clock.lab_seconds(aws_delay)
        event.aws_waited += aws_delay
        event.lab_waited += lab_delay
        self.trace.record("event.retry", request_id=event.request_id, attempt=event.attempts,
                          reason=reason, aws_delay_s=aws_delay, lab_delay_s=lab_delay,
                          due=time.time() + lab_delay)
        self._schedule(event, lab_delay)

    # -- the end of an event ------------------------------------------------------------

    def _succeed(self, event, spec, config):
        target = config["DestinationConfig"].get("OnSuccess", {}).get("Destination")
        if not target:
            return self._complete(event, "succeeded")
        record = self._record(event, spec, "Success")
        delivered = self._deliver(target, record, spec, success=True)
        if delivered is True:
            return self._complete(event, "delivered", targets=[target], condition="Success")
        return self._complete(event, "dropped", reason=f"delivery to {target} failed: {delivered}",
                              condition="Success", destination_error=delivered)

    def _fail(self, event, spec, config, condition, reason):
        targets, failures, errors = [], [], {}
        target = config["DestinationConfig"].get("OnFailure", {}).get("Destination")
        if target:
            result = self._deliver(target, self._record(event, spec, condition), spec,
                                   success=False)
            if result is True:
                targets.append(target)
            else:
                failures.append(f"{target}: {result}")
                errors["destination_error"] = result
        dead_letter = (self.service.settings.of(spec.arn).dead_letter or {}).get("TargetArn")
        if dead_letter:
            result = self._dead_letter(event, dead_letter)
            if result is True:
                targets.append(dead_letter)
            else:
                failures.append(f"{dead_letter}: {result}")
                errors["dead_letter_error"] = result
        if targets:
            return self._complete(event, "delivered", targets=targets, condition=condition,
                                  reason=reason, failures=failures, **errors)
        why = reason + ("; delivery failed: " + "; ".join(failures) if failures
                        else "; no on-failure destination or dead-letter queue")
        return self._complete(event, "dropped", reason=why, condition=condition, **errors)

    def _complete(self, event, outcome, **details):
        with self._cond:
            if self._pending.pop(event.request_id, None) is None:
                return  # already completed: an event ends exactly once
            self._ending += 1  # not idle until its record is in the trace
        event.state = "done"
        parts = event.invoked_arn.split(":")
        try:
            self.trace.record("event.completed", request_id=event.request_id, outcome=outcome,
                              attempts=event.attempts, function=":".join(parts[:7]),
                              qualifier=event.invoked_qualifier, **details)
        finally:
            with self._cond:
                self._ending -= 1

    def _record(self, event, spec, condition) -> dict:
        """The invocation record sent to a destination (AWS's format, version 1.0)."""
        outcome = event.last_outcome
        record = {
            "version": "1.0",
            "timestamp": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
            "requestContext": {
                "requestId": event.request_id,
                "functionArn": spec.version_arn,
                "condition": condition,
                "approximateInvokeCount": event.attempts,
            },
            "requestPayload": _json_or_text(event.payload),
        }
        if outcome is not None:
            context = {"statusCode": 200, "executedVersion": outcome.executed_version}
            if outcome.function_error:
                context["functionError"] = outcome.function_error
            record["responseContext"] = context
            record["responsePayload"] = _json_or_text(outcome.payload)
        return record

    def _deliver(self, target: str, record: dict, spec, success: bool):
        """Send an invocation record to a destination ARN; True, or why it failed."""
        result = "Success" if success else "Failure"
        try:
            self.service.sender.send(
                target, json.dumps(record), source="lambda",
                detail_type=f"Lambda Function Invocation Result - {result}",
                resources=[spec.version_arn], key=_failure_key(spec, record))
        except DeliveryError as error:
            return str(error)
        return True

    def _dead_letter(self, event, target: str):
        """Send the original event to the function's dead-letter queue or topic."""
        outcome = event.last_outcome
        message = ""
        if outcome is not None:
            parsed = _json_or_text(outcome.payload)
            message = parsed.get("errorMessage", "") if isinstance(parsed, dict) else str(parsed)
        attributes = {
            "RequestID": {"DataType": "String", "StringValue": event.request_id},
            "ErrorCode": {"DataType": "Number", "StringValue": "200"},
            "ErrorMessage": {"DataType": "String",
                             "StringValue": message.encode()[:DLQ_MESSAGE_BYTES].decode(
                                 "utf-8", "ignore") or "(none)"},
        }
        try:
            self.service.sender.send(target, event.payload.decode("utf-8", "replace"),
                                     attributes=attributes)
        except DeliveryError as error:
            return str(error)
        return True


def _failure_key(spec, record: dict) -> str:
    """The object key of an invocation record sent to an S3 bucket (the lab's choice)."""
    stamp = record["timestamp"].replace(":", ".")
    return (f"aws/lambda/async/{spec.name}/{stamp[:10].replace('-', '/')}/"
            f"{stamp}-{record['requestContext']['requestId']}")


def _json_or_text(data: bytes):
    try:
        return json.loads(data)
    except (ValueError, TypeError):
        return data.decode("utf-8", "replace") if isinstance(data, bytes) else data
