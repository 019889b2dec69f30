"""The poller of an SQS event source mapping: what Lambda does between a queue and a function.

One receiving thread per enabled mapping reads the queue with the SQS API, as Lambda's
pollers do: ``ReceiveMessage`` with long polling (1 s at a time, so that it stops
promptly), the queue's own visibility timeout, all attributes. It fills a batch until
``BatchSize`` messages, the end of the batching window or 6 MB of event, and hands it
to a batch worker, which invokes the function synchronously through the lab's Lambda
service and then deletes what succeeded (``DeleteMessageBatch``):

- success: the whole batch is deleted;
- function error (exception, timeout, crash): nothing is deleted; the messages reappear
  after the visibility timeout, and the queue's redrive policy moves a message to its
  dead-letter queue after ``maxReceiveCount`` receives;
- with ``ReportBatchItemFailures``: everything but the reported messages is deleted; an
  invalid report fails the whole batch;
- messages that match none of the mapping's filters are deleted without an invoke;
- throttled (429): the invoke is retried with back-off while the visibility timeout
  allows, then the messages are left to reappear.

Concurrency starts at 5 batches and grows by up to 5 a second (AWS: 300 a minute) while
the backlog lasts, up to ``ScalingConfig.MaximumConcurrency`` and the function's reserved
concurrency; errors and empty polls scale it back. Every batch is recorded in the trace:
``batch.start``, ``batch.end`` (per-message outcome, recorded before the deletes),
``batch.filtered``, ``batch.throttled``, ``batch.released``, ``batch.delete_failed``,
``mapping.error``. Introduced in notebook 06.

https://docs.aws.amazon.com/lambda/latest/dg/with-sqs.html
"""

from __future__ import annotations

import base64
import json
import threading
import time
import uuid as uuids
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from ..cloud import moto_adapter
from ..cloud.moto_adapter import LambdaApiError
from .filters import matches_any

RECEIVE_WAIT_S = 1  # long-poll in short steps: a stopping poller never waits longer
BATCH_PAYLOAD_LIMIT = 6 * 1024 * 1024  # a synchronous invoke's request limit
INITIAL_BATCHES = 5  # concurrent batches when messages arrive
MINIMUM_BATCHES = 2
SCALE_UP_PER_S = 5  # up to 300 more concurrent batches a minute
AWS_MAX_BATCHES = 1000  # per mapping, services-sqs-scaling.html (some AWS pages say 1,250)
LAB_MAX_BATCHES = 20  # the lab's own ceiling: each batch runs in a process on this machine
THROTTLE_FIRST_S = 1  # back-off after a throttled invoke, in AWS seconds (then doubling)
VISIBILITY_REFRESH_S = 2.0
ERROR_REPEAT_S = 10.0  # the same poller error is recorded at most this often
BODY_PREVIEW = 80
FIFO_ATTRIBUTES = ("ApproximateReceiveCount", "SentTimestamp", "SequenceNumber",
                   "MessageGroupId", "SenderId", "MessageDeduplicationId",
                   "ApproximateFirstReceiveTimestamp", "AWSTraceHeader")
STANDARD_ATTRIBUTES = ("ApproximateReceiveCount", "SentTimestamp", "SenderId",
                       "ApproximateFirstReceiveTimestamp", "AWSTraceHeader")

__all__ = ["SqsPoller", "sqs_client", "sqs_record"]


def sqs_client(service, pollers: int = 1):
    """A boto3 SQS client for pollers: enough connections, few retries (thread-safe)."""
    from botocore.config import Config

    return service.lab_client("sqs", config=Config(
        max_pool_connections=pollers * (LAB_MAX_BATCHES + 2), read_timeout=RECEIVE_WAIT_S + 30,
        retries={"total_max_attempts": 2, "mode": "standard"}))


@dataclass
class _Received:
    record: dict  # the message as the event carries it
    size: int  # its bytes in the event
    received: float  # time.monotonic() when ReceiveMessage returned it

    @property
    def message_id(self) -> str:
        return self.record["messageId"]


def _b64(value: bytes) -> str:
    return base64.b64encode(value).decode()


def sqs_record(message: dict, queue_arn: str, region: str, fifo: bool) -> dict:
    """One ReceiveMessage message as a record of Lambda's SQS event."""
    received = message.get("Attributes", {})
    names = FIFO_ATTRIBUTES if fifo else STANDARD_ATTRIBUTES
    attributes = {name: received[name] for name in names if name in received}
    message_attributes = {}
    for name, value in message.get("MessageAttributes", {}).items():
        entry = {}
        if "StringValue" in value:
            entry["stringValue"] = value["StringValue"]
        if "BinaryValue" in value:
            entry["binaryValue"] = _b64(value["BinaryValue"])
        entry["stringListValues"] = list(value.get("StringListValues", []))
        entry["binaryListValues"] = [_b64(v) for v in value.get("BinaryListValues", [])]
        entry["dataType"] = value["DataType"]
        message_attributes[name] = entry
    record = {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": attributes,
        "messageAttributes": message_attributes,
    }
    if message_attributes and message.get("MD5OfMessageAttributes"):
        record["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
    record.update({
        "md5OfBody": message["MD5OfBody"],
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    })
    return record


def _filter_view(record: dict) -> dict:
    """What filter patterns see: the record, with a JSON-object body parsed."""
    body = record["body"]
    try:
        parsed = json.loads(body)
    except ValueError:
        parsed = None
    return {**record, "body": parsed if isinstance(parsed, dict) else body}


class SqsPoller:
    """Reads one mapping's queue and invokes its function, until stopped."""

    def __init__(self, service, mapping, on_running=None, sqs=None):
        self.service = service
        self.mapping = mapping
        self.trace = service.trace
        self._on_running = on_running or (lambda mapping: None)
        self._stop = threading.Event()
        self._slots = threading.Condition()
        self._in_flight = 0
        self._allowed = INITIAL_BATCHES
        self._last_growth = 0.0
        self._reserved = None  # the function's reserved concurrency, read every 0.5 s
        self._reserved_read = 0.0
        self._carry: list[_Received] = []
        self._visibility = (0.0, 30)  # (read at, seconds)
        self._last_error = ("", 0.0)
        self._sqs = sqs or sqs_client(service)
        name = f"lab-esm-{mapping.uuid[:8]}"
        self._workers = ThreadPoolExecutor(max_workers=LAB_MAX_BATCHES, thread_name_prefix=name)
        self._thread = threading.Thread(target=self._run, daemon=True, name=name)

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop receiving; batches already invoking finish on their own."""
        self._stop.set()
        with self._slots:
            self._slots.notify_all()

    def settings_changed(self) -> None:
        """The mapping changed: every next batch reads it; a new concurrency cap applies now."""
        with self._slots:
            self._slots.notify_all()

    def join(self, timeout: float, finish_batches: bool = True) -> bool:
        """Wait for the receiving thread (and, if asked, the batches in flight)."""
        deadline = time.monotonic() + timeout
        self._thread.join(timeout)
        if finish_batches:
            with self._slots:
                while self._in_flight and time.monotonic() < deadline:
                    self._slots.wait(0.05)
        self._workers.shutdown(wait=False)
        return not self._thread.is_alive() and (not finish_batches or not self._in_flight)

    @property
    def in_flight(self) -> int:
        """Batches being processed right now."""
        return self._in_flight

    @property
    def concurrency_limit(self) -> int:
        """How many batches the poller may process at once right now."""
        return self._limit()

    # -- receiving ------------------------------------------------------------------------

    def _run(self) -> None:
        try:
            self._on_running(self.mapping)
            while not self._stop.is_set():
                if not self._take_slot():
                    break
                try:
                    batch, trigger = self._collect()
                except Exception as error:  # the queue is gone, the lab is stopping, ...
                    self._release_slot()
                    self._record_error("ReceiveMessage", error)
                    self._stop.wait(1.0)
                    continue
                if not batch:
                    self._release_slot()
                    continue
                if not self._stop.is_set():
                    self._grow(len(batch) >= self.mapping.batch_size
                               or trigger == "payload limit")
                    try:
                        self.mapping.batches += 1  # numbered in receive order
                        self._workers.submit(self._process, batch, trigger,
                                             self.mapping.batches)
                        continue
                    except RuntimeError:  # the workers were shut down: the lab is stopping
                        pass
                self._release_slot()
                self._release(batch, "the mapping stopped before the batch was invoked")
                break
        finally:
            carry, self._carry = self._carry, []
            if carry:
                self._release(carry, "the mapping stopped before the batch was invoked")

    def _collect(self) -> tuple[list[_Received], str | None]:
        """One batch: until BatchSize, the batching window, or 6 MB of event."""
        mapping = self.mapping
        batch: list[_Received] = []
        total = [len('{"Records": []}')]

        def add(items: list[_Received]) -> str | None:
            """Add what fits; what does not starts the next batch."""
            for index, item in enumerate(items):
                full = len(batch) >= mapping.batch_size  # read live: updates apply at once
                if full or (batch and total[0] + item.size > BATCH_PAYLOAD_LIMIT):
                    if mapping.fifo:  # back to SQS, which holds them until their group is free
                        self._release(items[index:], "they did not fit in the batch")
                    else:
                        self._carry = items[index:] + self._carry
                    return "batch size" if full else "payload limit"
                batch.append(item)
                total[0] += item.size
            return None

        carried, self._carry = self._carry, []
        trigger = add(carried)
        if trigger:
            return batch, trigger
        first = batch[0].received if batch else None
        while not self._stop.is_set():
            batch_size, window = mapping.batch_size, mapping.window
            if len(batch) >= batch_size:
                return batch, "batch size"
            wait = RECEIVE_WAIT_S
            if first is not None:
                if window == 0:
                    return batch, "no window"
                left = window - (time.monotonic() - first)
                if left <= 0:
                    return batch, "window"
                wait = RECEIVE_WAIT_S if left >= RECEIVE_WAIT_S else 0
            try:
                messages = self._receive(min(10, batch_size - len(batch)), wait)
            except Exception as error:
                if not batch:
                    raise
                self._record_error("ReceiveMessage", error)
                return batch, "receive error"  # invoke with what was received
            if not messages:
                if first is None:
                    self._shrink()
                    return [], None  # back to the loop: stop, slots
                if wait == 0:
                    self._stop.wait(min(0.05, max(left, 0.0)))
                continue
            now = time.monotonic()
            trigger = add([_Received(record, len(json.dumps(record)) + 2, now) for record in (
                sqs_record(m, mapping.source_arn, mapping.region, mapping.fifo)
                for m in messages)])
            if trigger:
                return batch, trigger
            if first is None:
                first = now
        return batch, None

    def _receive(self, count: int, wait: int) -> list[dict]:
        response = self._sqs.receive_message(
            QueueUrl=self.mapping.queue_url, MaxNumberOfMessages=count, WaitTimeSeconds=wait,
            MessageSystemAttributeNames=["All"], MessageAttributeNames=["All"],
        )
        return response.get("Messages", [])

    def _release(self, items: list[_Received], reason: str) -> None:
        """Make received-but-unprocessed messages visible again at once."""
        ids = [item.message_id for item in items]
        try:
            for start in range(0, len(items), 10):
                chunk = items[start:start + 10]
                self._sqs.change_message_visibility_batch(
                    QueueUrl=self.mapping.queue_url,
                    Entries=[{"Id": str(i), "ReceiptHandle": item.record["receiptHandle"],
                              "VisibilityTimeout": 0} for i, item in enumerate(chunk)])
            visible = "now"
        except Exception:  # the lab is stopping: they reappear after the visibility timeout
            visible = "after the visibility timeout"
        self.trace.record("batch.released", mapping=self.mapping.uuid, message_ids=ids,
                          reason=reason, visible=visible)

    # -- concurrency ----------------------------------------------------------------------

    def _limit(self) -> int:
        cap = min(LAB_MAX_BATCHES, self.mapping.maximum_concurrency or AWS_MAX_BATCHES)
        reserved = self._reserved_concurrency()
        if reserved is not None:
            cap = min(cap, max(reserved, 1))
        return max(1, min(self._allowed, cap))

    def _reserved_concurrency(self) -> int | None:
        if time.monotonic() - self._reserved_read > 0.5:
            mapping = self.mapping
            try:
                self._reserved = moto_adapter.find_function(
                    mapping.function_name, None, mapping.account_id, mapping.region
                ).reserved_concurrency
            except Exception:  # the function is gone: batches will say so
                pass
            self._reserved_read = time.monotonic()
        return self._reserved

    def _take_slot(self) -> bool:
        with self._slots:
            while self._in_flight >= self._limit() and not self._stop.is_set():
                self._slots.wait(0.2)
            if self._stop.is_set():
                return False
            self._in_flight += 1
            return True

    def _release_slot(self) -> None:
        with self._slots:
            self._in_flight -= 1
            self._slots.notify_all()

    def _grow(self, backlog: bool) -> None:
        now = time.monotonic()
        with self._slots:
            if (backlog and self._in_flight >= self._allowed
                    and now - self._last_growth >= 1.0 / SCALE_UP_PER_S
                    and self._allowed < AWS_MAX_BATCHES):
                self._allowed += 1
                self._last_growth = now

    def _shrink(self) -> None:
        with self._slots:
            self._allowed = max(INITIAL_BATCHES, self._allowed - 1)

    def _back_off(self) -> None:
        with self._slots:
            self._allowed = max(MINIMUM_BATCHES, self._allowed - 1)

    # -- one batch ------------------------------------------------------------------------

    def _process(self, batch: list[_Received], trigger: str | None, number: int) -> None:
        batch_id = uuids.uuid4().hex[:12]
        try:
            self._process_batch(batch, trigger, number, batch_id)
        except Exception as error:  # never lose a batch to a bug: say what became of it
            self._end(batch_id, None, "lab error", [], [item.message_id for item in batch],
                      error_type=repr(error))
        finally:
            self._release_slot()

    def _process_batch(self, batch: list[_Received], trigger: str | None, number: int,
                       batch_id: str) -> None:
        mapping = self.mapping
        if mapping.filters:
            dropped = [item for item in batch
                       if not matches_any(mapping.filters, _filter_view(item.record))]
            if dropped:  # recorded first: whoever sees the queue empty finds the record
                self.trace.record("batch.filtered", mapping=mapping.uuid, number=number,
                                  message_ids=[item.message_id for item in dropped],
                                  bodies=[item.record["body"][:BODY_PREVIEW]
                                          for item in dropped])
                self._delete(dropped, batch_id)
                batch = [item for item in batch if item not in dropped]
            if not batch:
                return
        ids = [item.message_id for item in batch]
        payload = json.dumps({"Records": [item.record for item in batch]}).encode()
        self.trace.record(
            "batch.start", mapping=mapping.uuid, batch=batch_id, number=number,
            function=mapping.function_arn, queue=mapping.source_arn, message_ids=ids,
            trigger=trigger, bytes=len(payload),
            receive_counts=[int(item.record["attributes"].get("ApproximateReceiveCount", 0))
                            for item in batch],
            received_at=[round(time.time() - (time.monotonic() - item.received), 3)
                         for item in batch],
            bodies=[item.record["body"][:BODY_PREVIEW] for item in batch],
        )
        try:
            spec = moto_adapter.find_function(mapping.function_name, None, mapping.account_id,
                                              mapping.region)
        except Exception as error:  # the function is gone: the batch fails
            return self._end(batch_id, None, "error", [], ids,
                             error_type=getattr(error, "error_type", type(error).__name__))
        deadline = min(item.received for item in batch) + self._visibility_timeout()
        throttles = 0
        while True:
            request_id = str(uuids.uuid4())
            self.trace.record("invoke", request_id=request_id, function=spec.arn,
                              version=spec.version, invocation_type="RequestResponse",
                              source="sqs", batch=batch_id)
            try:
                outcome = self.service.invoke(spec, payload, mapping.function_arn,
                                              request_id=request_id, source="sqs")
                break
            except LambdaApiError as error:
                if error.code != 429:
                    self._back_off()
                    return self._end(batch_id, request_id, "error", [], ids,
                                     error_type=error.error_type)
                throttles += 1
                delay = self.service.clock.lab_seconds(THROTTLE_FIRST_S * 2 ** (throttles - 1))
                self._back_off()
                if time.monotonic() + delay >= deadline or self._stop.is_set():
                    return self._end(batch_id, request_id, "throttled", [], ids,
                                     error_type="TooManyRequestsException")
                self.trace.record("batch.throttled", mapping=mapping.uuid, batch=batch_id,
                                  request_id=request_id, retry_in_s=round(delay, 3),
                                  reason=getattr(error, "reason", None))
                time.sleep(delay)
        failed, outcome_name = self._failures(outcome, ids)
        if failed:
            self._back_off()
        succeeded = [item for item in batch if item.message_id not in set(failed)]
        self._end(batch_id, request_id, outcome_name,  # recorded first, as for filters
                  [item.message_id for item in succeeded], failed,
                  error_type=outcome.error_type, duration_ms=round(outcome.duration_ms, 2))
        self._delete(succeeded, batch_id)

    def _failures(self, outcome, ids: list[str]) -> tuple[list[str], str]:
        """The messages to leave in the queue, and the batch's outcome."""
        if outcome.function_error:
            return list(ids), "error"
        if not self.mapping.reports_batch_item_failures:
            return [], "success"
        try:
            response = json.loads(outcome.payload or b"null")
        except ValueError:
            return list(ids), "invalid response"
        if response is None:
            return [], "success"
        if not isinstance(response, dict):
            return list(ids), "invalid response"
        items = response.get("batchItemFailures")
        if not items:
            return [], "success"
        if not isinstance(items, list):
            return list(ids), "invalid response"
        reported = set()
        for item in items:
            identifier = item.get("itemIdentifier") if isinstance(item, dict) else None
            if not isinstance(identifier, str) or identifier not in ids:
                return list(ids), "invalid response"
            reported.add(identifier)
        return [i for i in ids if i in reported], "partial"

    def _delete(self, items: list[_Received], batch_id: str) -> list[str]:
        """DeleteMessageBatch, 10 at a time; what could not be deleted is recorded."""
        failed = []
        for start in range(0, len(items), 10):
            chunk = items[start:start + 10]
            try:
                response = self._sqs.delete_message_batch(
                    QueueUrl=self.mapping.queue_url,
                    Entries=[{"Id": str(i), "ReceiptHandle": item.record["receiptHandle"]}
                             for i, item in enumerate(chunk)])
                failed += [chunk[int(entry["Id"])].message_id
                           for entry in response.get("Failed", [])]
            except Exception:
                failed += [item.message_id for item in chunk]
        if failed:  # they stay in the queue and come back after the visibility timeout
            self.trace.record("batch.delete_failed", mapping=self.mapping.uuid, batch=batch_id,
                              message_ids=failed)
        return failed

    def _end(self, batch_id, request_id, outcome, deleted, retried, **details) -> None:
        self.trace.record("batch.end", mapping=self.mapping.uuid, batch=batch_id,
                          request_id=request_id, outcome=outcome, deleted=deleted,
                          retried=retried, **details)

    def _visibility_timeout(self) -> int:
        read_at, seconds = self._visibility
        if time.monotonic() - read_at > VISIBILITY_REFRESH_S:
            try:
                attributes = self._sqs.get_queue_attributes(
                    QueueUrl=self.mapping.queue_url, AttributeNames=["VisibilityTimeout"])
                seconds = int(attributes["Attributes"]["VisibilityTimeout"])
            except Exception:
                pass
            self._visibility = (time.monotonic(), seconds)
        return seconds

    def _record_error(self, operation: str, error: Exception) -> None:
        text = f"{operation}: {error}"
        previous, when = self._last_error
        if text != previous or time.monotonic() - when > ERROR_REPEAT_S:
            self._last_error = (text, time.monotonic())
            self.trace.record("mapping.error", mapping=self.mapping.uuid, error=text)
