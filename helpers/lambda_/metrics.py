"""Lambda's metrics in CloudWatch, as AWS publishes them (namespace ``AWS/Lambda``).

When an invocation ends, Lambda sends CloudWatch metrics about it
(https://docs.aws.amazon.com/lambda/latest/dg/monitoring-metrics-types.html). The lab
reads the same facts off its trace and writes them into CloudWatch in the lab, so
``get_metric_statistics`` and ``get_metric_data`` answer with plain boto3:

- invocation metrics, one sample per occurrence (view them with ``Sum``):
  ``Invocations`` (every time the handler ran, errors included, throttles not),
  ``Errors`` (0 or 1 for each invocation: its ``Sum`` counts the errors, its ``Average``
  is the error rate), ``Throttles``, ``DeadLetterErrors``, ``DestinationDeliveryFailures``
  and ``RecursiveInvocationsDropped``;
- ``Duration`` (milliseconds, the handler's time, without Init) and, for stream
  mappings, ``IteratorAge`` (milliseconds: the age of a batch's last record when the
  mapping invoked the function);
- ``ConcurrentExecutions``: at each invocation's start, how many were running then
  (view it with ``Maximum``);
- asynchronous invocation: ``AsyncEventsReceived`` (events queued), ``AsyncEventAge``
  (milliseconds from queueing to each invocation, retries included, in AWS's time when
  the lab runs faster) and ``AsyncEventsDropped`` (events that ended without the
  function succeeding, whether or not a dead-letter queue or on-failure destination got
  them);
- SQS event source mappings with ``MetricsConfig={"Metrics": ["EventCount"]}``:
  ``PolledEventCount``, ``FilteredOutEventCount``, ``InvokedEventCount``,
  ``FailedInvokeEventCount`` and ``DeletedEventCount``, dimension
  ``EventSourceMappingUUID``.

Dimensions as Lambda sends them: none (every function in the account), ``FunctionName``,
``FunctionName`` + ``Resource`` (``name:qualifier``, for an invoked version or alias)
and, for an alias, ``FunctionName`` + ``Resource`` + ``ExecutedVersion``.

Samples are added up per metric, dimensions and minute (Lambda's period) and written as
statistic sets before every CloudWatch request (``flush``): a read always sees every
invocation so far, where AWS takes about a minute. Introduced in notebook 02.
"""

from __future__ import annotations

import threading
from datetime import datetime, timezone

NAMESPACE = "AWS/Lambda"
PERIOD_S = 60
COUNT, MILLISECONDS = "Count", "Milliseconds"
EVENT_COUNTS = (  # an SQS mapping's EventCount metrics (MetricsConfig)
    "PolledEventCount", "FilteredOutEventCount", "InvokedEventCount",
    "FailedInvokeEventCount", "DeletedEventCount")
NOT_INVOKED = ("throttled", "lab error")  # SQS batch outcomes where the function never ran

__all__ = ["NAMESPACE", "LambdaMetrics"]


def function_dimensions(function_arn: str, qualifier: str | None = None,
                        executed_version: str | None = None) -> list[tuple]:
    """The dimension sets one function metric is sent with (each a tuple of pairs)."""
    parts = function_arn.split(":")
    name = parts[6] if len(parts) > 6 else function_arn
    if qualifier is None and len(parts) > 7:
        qualifier = parts[7]
    sets = [(), (("FunctionName", name),)]
    if qualifier:
        resource = (("FunctionName", name), ("Resource", f"{name}:{qualifier}"))
        sets.append(resource)
        is_alias = qualifier != "$LATEST" and not qualifier.isdigit()
        if is_alias and executed_version:
            sets.append(resource + (("ExecutedVersion", executed_version),))
    return sets


class _Sums:
    """SampleCount, Sum, Minimum and Maximum of the samples of one minute."""

    __slots__ = ("count", "total", "low", "high")

    def __init__(self):
        self.count, self.total, self.low, self.high = 0, 0.0, float("inf"), float("-inf")

    def add(self, value: float) -> None:
        self.count += 1
        self.total += value
        self.low = min(self.low, value)
        self.high = max(self.high, value)


class LambdaMetrics:
    """Lambda's metrics, from the trace to CloudWatch.

    ``write(namespace, metric_data)`` stores datums (``helpers.cloud.cloudwatch``);
    ``event_counts(uuid)`` says whether an event source mapping asked for its EventCount
    metrics.
    """

    def __init__(self, trace, write, event_counts=lambda uuid: False):
        self._write = write
        self._event_counts = event_counts
        self._pending: dict[tuple, _Sums] = {}  # (name, unit, dimensions, minute) -> sums
        self._running: dict[tuple, int] = {}  # dimensions -> invocations running now
        self._started: dict[tuple, tuple] = {}  # (request id, attempt) -> (time, dims)
        self._queued: dict[str, float] = {}  # async request id -> AWS-time queueing moment
        self._lock = threading.Lock()
        self._flushing = threading.Lock()
        self._unsubscribe = trace.subscribe(self._observe)

    # -- samples --------------------------------------------------------------------------

    def _add(self, name: str, value: float, when: float, dimension_sets, unit=COUNT) -> None:
        minute = int(when // PERIOD_S) * PERIOD_S
        for dimensions in dimension_sets:
            key = (name, unit, dimensions, minute)
            sums = self._pending.get(key)
            if sums is None:
                sums = self._pending[key] = _Sums()
            sums.add(value)

    def _observe(self, event) -> None:
        handler = getattr(self, "_on_" + event.kind.replace(".", "_"), None)
        if handler is not None:
            with self._lock:
                handler(event, event.fields)

    def _on_attempt_start(self, event, f) -> None:
        dims = function_dimensions(f["function"], f.get("qualifier"), f.get("version"))
        self._started[(f["request_id"], f.get("attempt"))] = (event.time, dims)
        for dimensions in dims:
            self._running[dimensions] = running = self._running.get(dimensions, 0) + 1
            self._add("ConcurrentExecutions", running, event.time, [dimensions])
        queued = self._queued.get(f["request_id"]) if f.get("source") == "async" else None
        if queued is not None:
            self._add("AsyncEventAge", max(0.0, (event.time - queued) * 1000), event.time,
                      dims, MILLISECONDS)

    def _on_attempt_end(self, event, f) -> None:
        started = self._started.pop((f["request_id"], f.get("attempt")), None)
        if started is None:
            return
        when, dims = started  # Lambda stamps an invocation's metrics with its start
        for dimensions in dims:
            self._running[dimensions] = max(0, self._running.get(dimensions, 1) - 1)
        self._add("Invocations", 1, when, dims)
        self._add("Errors", 0 if f.get("outcome") == "response" else 1, when, dims)
        if f.get("duration_ms") is not None:
            self._add("Duration", float(f["duration_ms"]), when, dims, MILLISECONDS)

    def _on_throttle(self, event, f) -> None:
        self._add("Throttles", 1, event.time,
                  function_dimensions(f["function"], f.get("qualifier"), f.get("version")))

    def _on_event_queued(self, event, f) -> None:
        self._queued[f["request_id"]] = event.time
        self._add("AsyncEventsReceived", 1, event.time,
                  function_dimensions(f["function"], f.get("qualifier")))

    def _on_event_retry(self, event, f) -> None:
        if f["request_id"] in self._queued:  # AWS would have waited aws_delay_s
            self._queued[f["request_id"]] -= f["aws_delay_s"] - f["lab_delay_s"]

    def _on_event_completed(self, event, f) -> None:
        self._queued.pop(f["request_id"], None)
        if not f.get("function"):
            return
        dims = function_dimensions(f["function"], f.get("qualifier"))
        if f.get("outcome") != "succeeded" and f.get("condition") != "Success":
            self._add("AsyncEventsDropped", 1, event.time, dims)
        if f.get("condition") == "RecursiveInvocationException":
            self._add("RecursiveInvocationsDropped", 1, event.time, dims)
        if f.get("destination_error"):
            self._add("DestinationDeliveryFailures", 1, event.time, dims)
        if f.get("dead_letter_error"):
            self._add("DeadLetterErrors", 1, event.time, dims)

    def _on_batch_start(self, event, f) -> None:
        if "iterator_age_ms" in f and f.get("sequence_numbers") and f.get("function"):
            self._add("IteratorAge", float(f["iterator_age_ms"]), event.time,
                      function_dimensions(f["function"]), MILLISECONDS)
        if "message_ids" in f:
            self._mapping_count(f["mapping"], "PolledEventCount", len(f["message_ids"]),
                                event.time)

    def _on_batch_filtered(self, event, f) -> None:
        if "message_ids" in f:
            self._mapping_count(f["mapping"], "PolledEventCount", len(f["message_ids"]),
                                event.time)
            self._mapping_count(f["mapping"], "FilteredOutEventCount", len(f["message_ids"]),
                                event.time)

    def _on_batch_end(self, event, f) -> None:
        if "deleted" not in f:
            return  # a stream batch: its records are not counted (see the docstring)
        deleted, retried = len(f["deleted"]), len(f["retried"])
        if f.get("outcome") not in NOT_INVOKED:
            self._mapping_count(f["mapping"], "InvokedEventCount", deleted + retried,
                                event.time)
        self._mapping_count(f["mapping"], "FailedInvokeEventCount", retried, event.time)
        self._mapping_count(f["mapping"], "DeletedEventCount", deleted, event.time)

    def _on_batch_discarded(self, event, f) -> None:
        if f.get("destination") and not f.get("delivered") and f.get("function"):
            self._add("DestinationDeliveryFailures", 1, event.time,
                      function_dimensions(f["function"]))

    def _mapping_count(self, uuid: str, name: str, count: int, when: float) -> None:
        if count and self._event_counts(uuid):
            self._add(name, count, when, [(("EventSourceMappingUUID", uuid),)])

    # -- to CloudWatch --------------------------------------------------------------------

    def flush(self) -> int:
        """Write the samples gathered since the last flush; how many datums it wrote."""
        with self._flushing:  # in order: a later flush never overtakes an earlier one
            with self._lock:
                pending, self._pending = self._pending, {}
            if not pending:
                return 0
            data = [{
                "MetricName": name,
                "Dimensions": [{"Name": key, "Value": value} for key, value in dimensions],
                "Timestamp": datetime.fromtimestamp(minute, timezone.utc).replace(tzinfo=None),
                "Unit": unit,
                "StatisticValues": {"SampleCount": sums.count, "Sum": sums.total,
                                    "Minimum": sums.low, "Maximum": sums.high},
            } for (name, unit, dimensions, minute), sums in pending.items()]
            self._write(NAMESPACE, data)
            return len(data)

    def stop(self) -> None:
        self._unsubscribe()
