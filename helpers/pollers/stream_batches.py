"""One slot of a stream shard: batches, in order, retried, bisected, or given up on.

A slot (one of a shard's ``ParallelizationFactor`` slots, see ``helpers.pollers.streams``)
takes its records in order and processes one batch at a time:

1. records that match none of the mapping's filters end at once (``batch.filtered``);
2. records older than ``MaximumRecordAgeInSeconds`` are discarded (``RecordAgeExceeded``);
3. the batch is invoked synchronously. A success ends its records. A partial batch
   response (``ReportBatchItemFailures``) ends the records before the lowest reported
   sequence number and retries from it. A failure retries the whole batch, or, with
   ``BisectBatchOnFunctionError``, splits it in two (which uses no retry) down to one
   record. Throttles and refused invokes are retried without using the retry budget.
4. when ``MaximumRetryAttempts`` run out, the records are discarded
   (``RetryAttemptsExhausted``): the on-failure destination gets AWS's record of the
   batch (its records are not in it) and the slot moves on.

With ``TumblingWindowInSeconds``, batches never span a window, each invoke gets the state
the last one returned (its response must carry ``state``), and once the window has passed
a last invoke with ``isFinalInvokeForWindow`` closes it. Introduced in notebooks 05 and 13.

https://docs.aws.amazon.com/lambda/latest/dg/services-kinesis-errors.html
https://docs.aws.amazon.com/lambda/latest/dg/services-kinesis-windows.html
"""

from __future__ import annotations

import json
import math
import threading
import time
import uuid as uuids
from collections import deque
from datetime import datetime, timezone

from ..aws import MAX_SYNC_PAYLOAD
from .base import batch_item_failures
from .filters import matches_any

RETRY_FIRST_S = 0.25  # AWS seconds before retrying a failed batch (then doubling)
RETRY_MAX_S = 4.0
NOT_INVOKED_WAIT_S = 1.0  # after a throttled or refused invoke
EVENT_OVERHEAD = len('{"Records": []}')

__all__ = ["Slot", "failure_record"]


def _iso(seconds: float) -> str:
    moment = datetime.fromtimestamp(seconds, timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def failure_record(*, request_id, function_arn, condition, invoke_count, outcome,
                   batch_key, batch_info) -> dict:
    """What a stream mapping's on-failure destination receives about discarded records."""
    record = {"requestContext": {"requestId": request_id, "functionArn": function_arn,
                                 "condition": condition,
                                 "approximateInvokeCount": invoke_count}}
    if outcome is not None:
        context = {"statusCode": 200, "executedVersion": outcome.executed_version}
        if outcome.function_error:
            context["functionError"] = outcome.function_error
        record["responseContext"] = context
    record.update({"version": "1.0", "timestamp": _iso(time.time()), batch_key: batch_info})
    return record


class _Window:
    def __init__(self, start: float, seconds: int):
        self.start, self.end = start, start + seconds
        self.state: dict = {}


class Slot:
    """Processes the records of some partition keys of one shard, one batch at a time."""

    def __init__(self, reader, number: int):
        self.reader = reader
        self.poller = reader.poller
        self.number = number
        self._queue: deque[tuple[dict, int]] = deque()  # (record, its size in the event)
        self._first_queued = None  # time.monotonic() when the oldest queued record came
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._run, daemon=True,
                                        name=f"lab-slot-{reader.shard_id[-6:]}-{number}")
        self.window: _Window | None = None
        self.in_flight: list[str] = []  # sequence numbers being invoked right now
        self.retries = 0  # of the records in flight

    def start(self) -> None:
        if self._thread.ident is None:
            self._thread.start()

    def wake(self) -> None:
        with self._cond:
            self._cond.notify_all()

    def join(self, timeout: float) -> bool:
        if self._thread.ident is not None:
            self._thread.join(timeout)
        return not self._thread.is_alive()

    def put(self, records: list[dict]) -> None:
        with self._cond:
            if not self._queue:
                self._first_queued = time.monotonic()
            self._queue.extend((record, len(json.dumps(record)) + 2) for record in records)
            self._cond.notify_all()

    @property
    def gathering(self) -> bool:
        """True while records wait here for the batching window to close."""
        return bool(self._queue) and self.poller.mapping.window > 0

    # -- batching -------------------------------------------------------------------------

    @property
    def _stopping(self) -> bool:
        return self.poller._stop.is_set()

    def _run(self) -> None:
        while not self._stopping:
            batch, trigger = self._collect()
            if batch:
                try:
                    self._process(batch, trigger)
                except Exception as error:  # a bug in the lab: say so, and hold the shard
                    self.poller.record_error("processing a batch", error)
                    self.poller.wait(NOT_INVOKED_WAIT_S)
            elif self.window is not None and time.time() >= self.window.end:
                self._close_window()

    def _window_of(self, record) -> float | None:
        seconds = self.poller.mapping.source["tumbling_window"]
        if not seconds:
            return None
        return math.floor(self.poller.arrival(record) / seconds) * seconds

    def _collect(self) -> tuple[list[dict], str | None]:
        mapping = self.poller.mapping
        with self._cond:
            while not self._stopping:
                if self._queue:
                    window = mapping.window
                    waited = time.monotonic() - (self._first_queued or time.monotonic())
                    full = len(self._queue) >= mapping.batch_size
                    if full or window == 0 or waited >= window:
                        return self._take(), ("batch size" if full else
                                              "no window" if window == 0 else "window")
                    self._cond.wait(min(window - waited, 0.2))
                elif self.window is not None and time.time() >= self.window.end:
                    return [], None
                else:
                    self._cond.wait(0.2)
        return [], None

    def _take(self) -> list[dict]:
        """Up to BatchSize records, 6 MB of event, one tumbling window (under the lock)."""
        batch, total = [], EVENT_OVERHEAD
        window = self._window_of(self._queue[0][0])
        while self._queue and len(batch) < self.poller.mapping.batch_size:
            record, size = self._queue[0]
            if batch and (total + size > MAX_SYNC_PAYLOAD or self._window_of(record) != window):
                break
            self._queue.popleft()
            batch.append(record)
            total += size
        self._first_queued = time.monotonic() if self._queue else None
        return batch

    # -- one batch ------------------------------------------------------------------------

    def _process(self, batch: list[dict], trigger: str) -> None:
        poller, mapping = self.poller, self.poller.mapping
        window_start = self._window_of(batch[0])
        if window_start is not None:
            if self.window is not None and self.window.start != window_start:
                self._close_window()
            if self.window is None:
                self.window = _Window(window_start, mapping.source["tumbling_window"])
        if mapping.filters:
            kept = [r for r in batch if matches_any(mapping.filters, poller.filter_view(r))]
            dropped = [poller.sequence(r) for r in batch if r not in kept]
            if dropped:
                poller.trace.record("batch.filtered", mapping=mapping.uuid,
                                    shard=self.reader.shard_id, sequence_numbers=dropped)
                self.reader.ended(dropped)
            batch = kept
        parts = deque([batch] if batch else [])
        self.retries = 0
        while parts and not self._stopping:
            part = self._drop_expired(parts.popleft(), self.retries)
            if not part:
                self.retries = 0
                continue
            follow = self._attempt(part, trigger)
            if follow is None:  # the lab is stopping: the records stay unprocessed
                return
            parts.extendleft(reversed(follow))
        self.in_flight = []

    def _drop_expired(self, part: list[dict], invokes: int) -> list[dict]:
        limit = self.poller.mapping.source["max_age"]
        if limit == -1:
            return part
        now = time.time()
        expired = [r for r in part if now - self.poller.arrival(r) > limit]
        if expired:
            self._discard(expired, "RecordAgeExceeded", invokes, None, None)
        return [r for r in part if r not in expired]

    def _attempt(self, part: list[dict], trigger: str) -> list[list[dict]] | None:
        """Invoke ``part`` once; the parts still to do (in order), or None when stopping."""
        poller, mapping = self.poller, self.poller.mapping
        sequence = [poller.sequence(r) for r in part]
        self.in_flight = sequence
        batch_id = uuids.uuid4().hex[:12]
        event = {"Records": part}
        window = self.window
        if window is not None:
            event.update(self._window_fields(window, final=False))
        payload = json.dumps(event).encode()
        poller.trace.record(
            "batch.start", mapping=mapping.uuid, batch=batch_id, number=poller.next_number(),
            function=mapping.function_arn, shard=self.reader.shard_id, slot=self.number,
            sequence_numbers=sequence,
            keys=[poller.partition_key(r) for r in part], attempt=self.retries + 1,
            trigger=trigger, bytes=len(payload),
            iterator_age_ms=max(0, round((time.time() - poller.arrival(part[-1])) * 1000)),
            window=[window.start, window.end] if window else None, final=False)
        outcome, request_id, failure, error_type = self._invoke(payload, batch_id)
        if outcome is None:
            end = self._end(batch_id, request_id, failure or "lab error", [], sequence,
                            "retry", error_type=error_type)
            if end is None or poller.wait(NOT_INVOKED_WAIT_S):
                return None
            return [part]  # throttles and refused invokes use no retry
        failed_at, name = self._judge(outcome, sequence)
        if failed_at is None:  # success
            if window is not None:
                window.state = json.loads(outcome.payload)["state"]
            self._end(batch_id, request_id, name, sequence, [], "done")
            mapping.source["last_result"] = "OK"
            self.reader.ended(sequence)
            self.retries = 0
            return []
        mapping.source["last_result"] = "PROBLEM: Function call failed"
        done, rest = part[:failed_at], part[failed_at:]
        if done:
            if window is not None:
                window.state = json.loads(outcome.payload).get("state") or window.state
            self.reader.ended(sequence[:failed_at])
        if name != "partial" and mapping.source["bisect"] and len(rest) > 1:
            half = len(rest) // 2
            self._end(batch_id, request_id, name, sequence[:failed_at], sequence[failed_at:],
                      "bisect", error_type=outcome.error_type)
            return [rest[:half], rest[half:]]
        limit = mapping.source["max_retries"]
        if limit != -1 and self.retries >= limit:
            self._end(batch_id, request_id, name, sequence[:failed_at], sequence[failed_at:],
                      "discard", error_type=outcome.error_type)
            self._discard(rest, "RetryAttemptsExhausted", self.retries + 1, request_id, outcome)
            self.retries = 0
            return []
        self._end(batch_id, request_id, name, sequence[:failed_at], sequence[failed_at:],
                  "retry", error_type=outcome.error_type)
        self.retries += 1
        if poller.wait(min(RETRY_FIRST_S * 2 ** (self.retries - 1), RETRY_MAX_S)):
            return None
        return [rest]

    def _invoke(self, payload: bytes, batch_id: str):
        poller = self.poller
        try:
            spec = poller.function()
        except Exception as error:  # the function is gone
            return None, None, "error", getattr(error, "code", type(error).__name__)
        return poller.invoke(spec, payload, batch_id, time.monotonic() + 60)

    def _judge(self, outcome, sequence: list[str]) -> tuple[int | None, str]:
        """(index of the first record to retry, or None when all succeeded; outcome)."""
        if outcome.function_error:
            return 0, "error"
        if self.window is not None:
            try:
                response = json.loads(outcome.payload or b"null")
            except ValueError:
                response = None
            if not isinstance(response, dict) or not isinstance(response.get("state"), dict):
                return 0, "invalid response"  # a tumbling window's answer must hold state
        if not self.poller.mapping.reports_batch_item_failures:
            return None, "success"
        reported, name = batch_item_failures(outcome.payload, sequence)
        if reported is None:
            return 0, name
        if not reported:
            return None, "success"
        return min(sequence.index(item) for item in reported), "partial"

    def _end(self, batch_id, request_id, outcome, processed, retried, then, **details):
        return self.poller.trace.record(
            "batch.end", mapping=self.poller.mapping.uuid, batch=batch_id,
            request_id=request_id, outcome=outcome, processed=processed, retried=retried,
            then=then, **details)

    def _discard(self, records, condition, invoke_count, request_id, outcome) -> None:
        """Give up on ``records``: AWS's record to the on-failure destination, if any."""
        poller, mapping = self.poller, self.poller.mapping
        sequence = [poller.sequence(r) for r in records]
        destination = mapping.source["on_failure"]
        delivered, error = False, None
        if destination:
            document = failure_record(
                request_id=request_id or str(uuids.uuid4()), function_arn=mapping.function_arn,
                condition=condition, invoke_count=invoke_count, outcome=outcome,
                batch_key=poller.batch_info_key,
                batch_info=poller.batch_info(self.reader.shard_id, records))
            try:
                poller.service.sender.send(destination, json.dumps(document))
                delivered = True
            except Exception as failure:  # recorded: the records still end here
                error = str(failure)
        poller.trace.record("batch.discarded", mapping=mapping.uuid,
                            function=mapping.function_arn, shard=self.reader.shard_id,
                            sequence_numbers=sequence,
                            condition=condition, invoke_count=invoke_count,
                            destination=destination, delivered=delivered, error=error)
        self.reader.ended(sequence)

    # -- tumbling windows -------------------------------------------------------------------

    def _window_fields(self, window: _Window, final: bool) -> dict:
        return {"window": {"start": _iso(window.start)[:-5] + "Z",
                           "end": _iso(window.end)[:-5] + "Z"},
                "state": window.state, "shardId": self.reader.shard_id,
                "eventSourceARN": self.poller.mapping.source_arn,
                "isFinalInvokeForWindow": final, "isWindowTerminatedEarly": False}

    def _close_window(self) -> None:
        """The window has passed: one last invoke with its state, until it succeeds."""
        poller, window = self.poller, self.window
        payload = json.dumps({"Records": [], **self._window_fields(window, True)}).encode()
        while not self._stopping:
            batch_id = uuids.uuid4().hex[:12]
            poller.trace.record(
                "batch.start", mapping=poller.mapping.uuid, batch=batch_id,
                number=poller.next_number(), shard=self.reader.shard_id, slot=self.number,
                sequence_numbers=[], keys=[], attempt=1, trigger="window end",
                bytes=len(payload), iterator_age_ms=0, window=[window.start, window.end],
                final=True)
            outcome, request_id, failure, error_type = self._invoke(payload, batch_id)
            if outcome is not None and not outcome.function_error:
                self._end(batch_id, request_id, "success", [], [], "done")
                self.window = None
                return
            self._end(batch_id, request_id, "error" if outcome else failure, [], [], "retry",
                      error_type=outcome.error_type if outcome else error_type)
            if poller.wait(NOT_INVOKED_WAIT_S):
                return
